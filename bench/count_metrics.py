"""Counts what an MLflow SQLite database holds for a run: points and distinct keys.

System metrics (`system/...`, which trackstack samples by default every 10 s) are counted
apart: `points`, `keys` and `steps` are the benchmark's own metrics.

Usage: count_metrics.py <sqlite file> <run id>    Prints one JSON line.
"""

import json
import sqlite3
import sys

db, run_id = sys.argv[1], sys.argv[2]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
points, keys, steps = con.execute(
    "SELECT COUNT(*), COUNT(DISTINCT key), COUNT(DISTINCT step) FROM metrics"
    " WHERE run_uuid = ? AND key NOT LIKE 'system/%'",
    (run_id,),
).fetchone()
(system,) = con.execute(
    "SELECT COUNT(*) FROM metrics WHERE run_uuid = ? AND key LIKE 'system/%'", (run_id,)
).fetchone()
print(json.dumps({"points": points, "keys": keys, "steps": steps, "systemPoints": system}))
