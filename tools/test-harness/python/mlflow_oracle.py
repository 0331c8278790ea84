"""MLflow's own Python client as the test oracle: reads runs back for the service tests.

Started by `src/mlflow-oracle.ts` (one long-lived process per test file: importing mlflow
takes seconds). One JSON request per stdin line, one JSON answer per stdout line
({"ok": ...} or {"error": "..."}):
  {"op": "run", "run_id": "...", "history": false, "artifacts": false}
      -> info (with artifact_uri), params, tags, and per metric key a summary: count,
         distinct steps, exact duplicates, min/max step; with "history": true every point
         too ("points"); with "artifacts": true the sha256 and size of every artifact file
  {"op": "runs", "experiment": "...", "filter": "..."} -> ids of the runs matching the filter
  {"op": "find", "experiment": "...", "uid": "..."}    -> ids of the runs tagged trackstack.uid = uid
Searches include deleted runs and follow every page. Non-finite metric values are sent as
the strings "nan", "inf", "-inf".
"""
import hashlib
import json
import math
import os
import sys
import tempfile

from mlflow.tracking import MlflowClient

client = MlflowClient(tracking_uri=sys.argv[1])


def number(value):
    return value if math.isfinite(value) else repr(value)


def read_artifacts(run_id):
    sizes = {}

    def walk(path):
        for info in client.list_artifacts(run_id, path):
            if info.is_dir:
                walk(info.path)
            else:
                sizes[info.path] = info.file_size

    walk(None)
    hashes = {}
    if sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = client.download_artifacts(run_id, "", tmp)
            for path in sizes:
                with open(os.path.join(root, path), "rb") as handle:
                    hashes[path] = hashlib.sha256(handle.read()).hexdigest()
    return hashes, sizes


def read_run(run_id, history, artifacts):
    run = client.get_run(run_id)
    metrics = {}
    points = {}
    for key in run.data.metrics:
        hist = client.get_metric_history(run_id, key)
        steps = [m.step for m in hist]
        exact = {(m.step, m.timestamp, repr(m.value)) for m in hist}
        metrics[key] = {
            "count": len(hist),
            "distinct_steps": len(set(steps)),
            "duplicates": len(hist) - len(exact),
            "min_step": min(steps) if steps else None,
            "max_step": max(steps) if steps else None,
        }
        if history:
            points[key] = [
                {"value": number(m.value), "step": m.step, "timestamp": m.timestamp} for m in hist
            ]
    hashes, sizes = read_artifacts(run_id) if artifacts else ({}, {})
    return {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "run_name": run.info.run_name,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "artifact_uri": run.info.artifact_uri,
        "params": run.data.params,
        "tags": run.data.tags,
        "metrics": metrics,
        "points": points,
        "artifacts": hashes,
        "artifact_sizes": sizes,
    }


def search(experiment, filter_string):
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    out = []
    token = None
    while True:
        page = client.search_runs(
            [found.experiment_id],
            filter_string=filter_string,
            run_view_type=3,  # ViewType.ALL: deleted runs too
            max_results=1000,
            page_token=token,
        )
        out.extend(r.info.run_id for r in page)
        token = page.token
        if not token:
            return out


for line in sys.stdin:
    request = json.loads(line)
    try:
        op = request["op"]
        if op == "run":
            answer = {
                "ok": read_run(
                    request["run_id"], request.get("history", False), request.get("artifacts", False)
                )
            }
        elif op == "runs":
            answer = {"ok": search(request["experiment"], request.get("filter", ""))}
        elif op == "find":
            uid = request["uid"].replace("'", "")
            answer = {"ok": search(request["experiment"], f"tags.`trackstack.uid` = '{uid}'")}
        else:
            answer = {"error": "unknown op"}
    except Exception as error:  # the test shows what MLflow said
        answer = {"error": f"{type(error).__name__}: {error}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
