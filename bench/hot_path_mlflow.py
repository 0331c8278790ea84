"""Hot path, MLflow: mlflow.log_metric(..., synchronous=False) in a tight loop.

Usage: hot_path_mlflow.py <tracking_uri> <points>
Times the call loop alone, then the flush (mlflow.flush_async_logging) on its
own, and counts what the server holds afterwards. Prints one JSON line.
"""

import json
import os
import sys
import time


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    url, points = sys.argv[1], int(sys.argv[2])
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(url)
    mlflow.set_experiment("bench-hot-path")
    run = mlflow.start_run()
    rss0 = rss_bytes()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    for i in range(points):
        mlflow.log_metric("loss", i * 1e-3, step=i, synchronous=False)
    t1 = time.perf_counter()
    rss1 = rss_bytes()
    mlflow.flush_async_logging()
    t2 = time.perf_counter()
    cpu2 = time.process_time()
    mlflow.end_run()
    history = MlflowClient().get_metric_history(run.info.run_id, "loss")
    loop_ms = (t1 - t0) * 1000
    print(
        json.dumps(
            {
                "points": points,
                "loopMs": loop_ms,
                "usPerCall": loop_ms * 1000 / points,
                "flushMs": (t2 - t1) * 1000,
                "cpuMs": (cpu2 - cpu0) * 1000,
                "rssGrowthBytes": rss1 - rss0,
                "stored": len(history),
                "buffering": os.environ.get("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"),
            }
        )
    )


main()
