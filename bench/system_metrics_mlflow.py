"""MLflow's own system-metrics monitors (CPU, disk, network: what its sampler thread collects
on a machine without a GPU), collected `n` times `interval` s apart; prints the CPU time per
collection. Usage: system_metrics_mlflow.py <n> <interval>"""

import json
import sys
import time

from mlflow.system_metrics.metrics.cpu_monitor import CPUMonitor
from mlflow.system_metrics.metrics.disk_monitor import DiskMonitor
from mlflow.system_metrics.metrics.network_monitor import NetworkMonitor

n, interval = int(sys.argv[1]), float(sys.argv[2])
monitors = [CPUMonitor(), DiskMonitor(), NetworkMonitor()]
cpu = 0.0
for _ in range(n):
    time.sleep(interval)
    start = time.process_time()
    for monitor in monitors:
        monitor.collect_metrics()
    metrics = {}
    for monitor in monitors:
        metrics.update(monitor.aggregate_metrics())
        monitor.clear_metrics()
    cpu += time.process_time() - start
print(json.dumps({"cpuMsPerSample": 1000 * cpu / n, "samples": n, "keys": len(metrics)}))
