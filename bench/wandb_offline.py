"""Offline W&B, the SDK's side: `rows` rows of `keys` metrics into a .wandb file.

Usage: wandb_offline.py <rows> <keys> <dir>
With WANDB_MODE=offline: wandb.init(...), then wandb.log({metric_k: v}, step=i)
per row, then run.finish(), which returns once wandb-core has written and
closed the run's .wandb file. Timed from the first wandb.log call to finish()'s
return (init is not timed, as on our side), and the CPU time of this process and
its children (wandb-core) over the same span. Prints one JSON line with the
path of the .wandb file, which the caller checks.
"""

import glob
import json
import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_ms(root):
    """utime + stime of a process and its descendants (wandb-core runs as a child), from /proc."""
    stats = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[1] is the parent pid; fields[11], fields[12] are utime and stime.
        stats[int(name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, (ppid, _) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(stats[pid][1] for pid in tree if pid in stats) * 1000 / TICKS


def main():
    rows, keys, directory = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    import wandb

    run = wandb.init(
        mode="offline",
        project="bench-wandb-offline",
        dir=directory,
        settings=wandb.Settings(silent=True),
    )
    names = [f"metric_{k}" for k in range(keys)]
    c0 = tree_cpu_ms(os.getpid())
    t0 = time.perf_counter()
    for step in range(rows):
        run.log({names[k]: step * 1e-3 + k for k in range(keys)}, step=step)
    t1 = time.perf_counter()
    run.finish()
    t2 = time.perf_counter()
    c1 = tree_cpu_ms(os.getpid())
    files = glob.glob(os.path.join(directory, "wandb", "offline-run-*", "run-*.wandb"))
    if len(files) != 1:
        raise SystemExit(f"expected one .wandb file, found {files}")
    ms = (t2 - t0) * 1000
    print(
        json.dumps(
            {
                "rows": rows,
                "keys": keys,
                "ms": ms,
                "loopMs": (t1 - t0) * 1000,
                "endMs": (t2 - t1) * 1000,
                "rowsPerSec": rows / (ms / 1000),
                "cpuMs": c1 - c0,
                "path": files[0],
            }
        )
    )


main()
