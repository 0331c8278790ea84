"""Hot path, W&B: wandb.log({key: value}, step=i) in a tight loop, offline mode.

Usage: hot_path_wandb.py <points> <dir>
Times the call loop alone, then run.finish() on its own. Prints one JSON line.
"""

import json
import sys
import time


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    points, directory = int(sys.argv[1]), sys.argv[2]
    import wandb

    run = wandb.init(
        mode="offline",
        project="bench-hot-path",
        dir=directory,
        settings=wandb.Settings(silent=True),
    )
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    for i in range(points):
        wandb.log({"loss": i * 1e-3}, step=i)
    t1 = time.perf_counter()
    rss1 = rss_bytes()
    run.finish()
    t2 = time.perf_counter()
    loop_ms = (t1 - t0) * 1000
    print(
        json.dumps(
            {
                "points": points,
                "loopMs": loop_ms,
                "usPerCall": loop_ms * 1000 / points,
                "flushMs": (t2 - t1) * 1000,
                "rssGrowthBytes": rss1 - rss0,
            }
        )
    )


main()
