"""One repetition of the TensorBoard benchmark, tensorboardX's side: SummaryWriter(logdir),
add_scalar(name, value, step) for every metric of every row (the same names and values as
ours), close(). Timed from the first add_scalar to close()'s return, with the CPU time of
the process (tensorboardX writes from a thread of its own). Prints one JSON line.

Usage: python tensorboard_tbx.py <rows> <keys> <logdir>
"""

import json
import sys
import time

from tensorboardX import SummaryWriter

rows, keys, logdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
names = [f"metric_{k}" for k in range(keys)]
writer = SummaryWriter(logdir)
c0 = time.process_time()
t0 = time.perf_counter()
for step in range(rows):
    for k in range(keys):
        writer.add_scalar(names[k], step * 1e-3 + k, step)
t1 = time.perf_counter()
writer.close()
t2 = time.perf_counter()
cpu = time.process_time() - c0
ms = (t2 - t0) * 1000
print(
    json.dumps(
        {
            "rows": rows,
            "ms": ms,
            "loopMs": (t1 - t0) * 1000,
            "endMs": (t2 - t1) * 1000,
            "cpuMs": cpu * 1000,
            "rowsPerSec": rows / (ms / 1000),
            "runDir": logdir,
        }
    )
)
