"""Where MLflow's store layer spends its time: ingest_mlflow.py's `store` mode
under cProfile, split into SQLite's own C calls (sqlite3 execute, executemany,
commit) and everything else (SQLAlchemy's ORM and MLflow's Python).

Usage: profile_store.py <dir> <points> <keys>    Prints the top functions to
stderr and one JSON line to stdout. cProfile slows Python code down, so the
shares matter here, not the rate.
"""

import cProfile
import io
import json
import os
import pstats
import sys

directory, points, keys = sys.argv[1], sys.argv[2], sys.argv[3]
here = os.path.dirname(os.path.abspath(__file__))
sys.argv = [os.path.join(here, "ingest_mlflow.py"), "store", directory, points, keys]
source = open(sys.argv[0]).read()
real_stdout = sys.stdout
sys.stdout = io.StringIO()  # the probe's own JSON line is not this script's result
profile = cProfile.Profile()
profile.enable()
exec(compile(source, sys.argv[0], "exec"), {"__name__": "__main__"})
profile.disable()
sys.stdout = real_stdout

stats = pstats.Stats(profile)
log_metrics = 0.0
sqlite = 0.0
for (filename, _line, name), (_cc, _nc, tottime, cumtime, _callers) in stats.stats.items():
    if name == "_log_metrics_once" and filename.endswith("sqlalchemy_store.py"):
        log_metrics += cumtime
    if filename == "~" and any(
        f"'{m}' of 'sqlite3." in name for m in ("execute", "executemany", "commit")
    ):
        sqlite += tottime
text = io.StringIO()
pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(15)
sys.stderr.write(text.getvalue())
print(
    json.dumps(
        {
            "storeLogMetricsS": log_metrics,
            "sqliteCallsS": sqlite,
            "sqliteShare": sqlite / log_metrics if log_metrics else None,
        }
    )
)
