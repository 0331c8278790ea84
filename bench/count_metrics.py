"""Counts what an MLflow SQLite database holds for a run: points and distinct keys.

Usage: count_metrics.py <sqlite file> <run id>    Prints one JSON line.
"""

import json
import sqlite3
import sys

db, run_id = sys.argv[1], sys.argv[2]
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
points, keys, steps = con.execute(
    "SELECT COUNT(*), COUNT(DISTINCT key), COUNT(DISTINCT step) FROM metrics WHERE run_uuid = ?",
    (run_id,),
).fetchone()
print(json.dumps({"points": points, "keys": keys, "steps": steps}))
