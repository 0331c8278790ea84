"""Benchmark 7, the Python side: what logging an image costs the calling thread.

  gen <path> <side>          writes a <side>×<side> RGB PNG of noise (about 1 MB at 580)
  mlflow <path> <n>          mlflow.log_image(image, key=, step=) n times (MLflow's default:
                             uploads in the background), MLFLOW_TRACKING_URI from the env
  wandb <path> <n>           run.log({key: wandb.Image(image)}, step=) n times, offline

The image is opened with Pillow once, before the timed calls (what a user holds). Prints
per-call wall and calling-thread CPU times (ms), and how long the flush/finish took.
"""
import json
import os
import sys
import time

import numpy as np
from PIL import Image


def gen(path, side):
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path)
    print(json.dumps({"path": path, "bytes": os.path.getsize(path)}))


def timed(n, call):
    wall, cpu = [], []
    for i in range(n):
        w0, c0 = time.perf_counter(), time.thread_time()
        call(i)
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return wall, cpu


def run_mlflow(path, n):
    import mlflow

    image = Image.open(path)
    image.load()
    mlflow.set_experiment("bench-media")
    with mlflow.start_run():
        wall, cpu = timed(n, lambda i: mlflow.log_image(image, key="bench/img", step=i))
        f0 = time.perf_counter()
        mlflow.flush_artifact_async_logging()
        flush = (time.perf_counter() - f0) * 1000
    print(json.dumps({"wall": wall, "cpu": cpu, "flushMs": flush}))


def run_wandb(path, n):
    import wandb

    image = Image.open(path)
    image.load()
    run = wandb.init(project="bench-media", mode="offline")
    wall, cpu = timed(n, lambda i: run.log({"bench/img": wandb.Image(image)}, step=i))
    f0 = time.perf_counter()
    run.finish()
    flush = (time.perf_counter() - f0) * 1000
    print(json.dumps({"wall": wall, "cpu": cpu, "flushMs": flush}))


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "gen":
        gen(sys.argv[2], int(sys.argv[3]))
    elif what == "mlflow":
        run_mlflow(sys.argv[2], int(sys.argv[3]))
    else:
        run_wandb(sys.argv[2], int(sys.argv[3]))
