"""Ingest into MLflow from Python: N metric points over K keys, until acknowledged.

Usage: ingest_mlflow.py <mode> <tracking_uri or sqlite dir> <points> <keys>

Modes (the run and experiment are created before the timing starts):
  batch   MlflowClient.log_batch in chunks of 1000 points (MLflow's per-request
          maximum), synchronous: MLflow's best case. Metric objects are built
          inside the timing, as a caller has to. Ends with set_terminated.
  async   mlflow.log_metrics({K keys}, step=s, synchronous=False) per step,
          then mlflow.flush_async_logging() and end_run(), all timed.
          MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS in the environment is reported.
  store   no server: MLflow's SqlAlchemyStore on a fresh SQLite file in <dir>,
          store.log_batch in chunks of 1000: what the server's store layer
          costs without HTTP.
  sqlite  no server, no MLflow code: the same rows INSERTed with the sqlite3
          module (executemany, one transaction per 1000 rows) into the metrics
          table of a fresh MLflow database in <dir>: what SQLite itself costs.

Prints one JSON line: wall times (epoch ms window, for the server CPU
sampler), CPU time of this process, and the run id.
"""

import json
import os
import sys
import time

CHUNK = 1000


def key_names(keys):
    return [f"train/metric_{i:03d}" for i in range(keys)]


def result(run_id, t0, t1, c0, c1, points, **extra):
    out = {
        "runId": run_id,
        "points": points,
        "ms": (t1 - t0) * 1000,
        "pointsPerSec": points / (t1 - t0),
        "cpuMs": (c1 - c0) * 1000,
        "windowStart": t0 * 1000,
        "windowEnd": t1 * 1000,
    }
    out.update(extra)
    print(json.dumps(out))


def mode_batch(url, points, keys):
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(url)
    exp = client.create_experiment("bench-ingest-python-batch")
    run_id = client.create_run(exp).info.run_id
    names = key_names(keys)
    steps = points // keys
    c0, t0 = time.process_time(), time.time()
    batch = []
    for step in range(steps):
        ts = int(time.time() * 1000)
        for k, name in enumerate(names):
            batch.append(Metric(name, step * 1e-3 + k, ts, step))
            if len(batch) == CHUNK:
                client.log_batch(run_id, metrics=batch)
                batch = []
    if batch:
        client.log_batch(run_id, metrics=batch)
    client.set_terminated(run_id)
    t1, c1 = time.time(), time.process_time()
    result(run_id, t0, t1, c0, c1, steps * keys)


def mode_async(url, points, keys):
    import mlflow

    mlflow.set_tracking_uri(url)
    mlflow.set_experiment("bench-ingest-python-async")
    run = mlflow.start_run()
    names = key_names(keys)
    steps = points // keys
    c0, t0 = time.process_time(), time.time()
    for step in range(steps):
        mlflow.log_metrics(
            {name: step * 1e-3 + k for k, name in enumerate(names)}, step=step, synchronous=False
        )
    t_loop = time.time()
    mlflow.flush_async_logging()
    mlflow.end_run()
    t1, c1 = time.time(), time.process_time()
    result(
        run.info.run_id,
        t0,
        t1,
        c0,
        c1,
        steps * keys,
        loopMs=(t_loop - t0) * 1000,
        buffering=os.environ.get("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"),
    )


def fresh_store(directory):
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    db = os.path.join(directory, "mlflow.db")
    store = SqlAlchemyStore(f"sqlite:///{db}", os.path.join(directory, "artifacts"))
    return store, db


def mode_store(directory, points, keys):
    from mlflow.entities import Metric

    store, _ = fresh_store(directory)
    exp = store.create_experiment("bench-ingest-store")
    run_id = store.create_run(exp, "bench", int(time.time() * 1000), [], "store").info.run_id
    names = key_names(keys)
    steps = points // keys
    c0, t0 = time.process_time(), time.time()
    batch = []
    for step in range(steps):
        ts = int(time.time() * 1000)
        for k, name in enumerate(names):
            batch.append(Metric(name, step * 1e-3 + k, ts, step))
            if len(batch) == CHUNK:
                store.log_batch(run_id, metrics=batch, params=[], tags=[])
                batch = []
    if batch:
        store.log_batch(run_id, metrics=batch, params=[], tags=[])
    t1, c1 = time.time(), time.process_time()
    result(run_id, t0, t1, c0, c1, steps * keys, db=db_path(directory))


def mode_sqlite(directory, points, keys):
    import sqlite3

    store, db = fresh_store(directory)  # the schema, made by MLflow's migrations
    exp = store.create_experiment("bench-ingest-sqlite")
    run_id = store.create_run(exp, "bench", int(time.time() * 1000), [], "sqlite").info.run_id
    store.engine.dispose()
    con = sqlite3.connect(db)
    names = key_names(keys)
    steps = points // keys
    sql = "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)"
    c0, t0 = time.process_time(), time.time()
    rows = []
    for step in range(steps):
        ts = int(time.time() * 1000)
        for k, name in enumerate(names):
            rows.append((name, step * 1e-3 + k, ts, run_id, step))
            if len(rows) == CHUNK:
                con.executemany(sql, rows)
                con.commit()
                rows = []
    if rows:
        con.executemany(sql, rows)
        con.commit()
    t1, c1 = time.time(), time.process_time()
    con.close()
    result(run_id, t0, t1, c0, c1, steps * keys, db=db)


def db_path(directory):
    return os.path.join(directory, "mlflow.db")


def main():
    mode, target, points, keys = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    {"batch": mode_batch, "async": mode_async, "store": mode_store, "sqlite": mode_sqlite}[mode](
        target, points, keys
    )


main()
