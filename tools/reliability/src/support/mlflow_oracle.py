"""MLflow's own Python client as the oracle: reads runs back and summarises them.

One JSON request per stdin line, one JSON answer per stdout line:
  {"op": "run", "run_id": "...", "history": false, "artifacts": false}
      -> info, params, tags, and per metric key: count, distinct steps, exact duplicates,
         min/max step (and every point with "history": true; sha256 of artifacts with
         "artifacts": true)
  {"op": "find", "experiment": "...", "uid": "..."} -> ids of the runs tagged trackstack.uid = uid
  {"op": "runs", "experiment": "..."}                -> ids of every run of the experiment
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
    files = {}
    if artifacts:
        listed = []

        def walk(path):
            for info in client.list_artifacts(run_id, path):
                if info.is_dir:
                    walk(info.path)
                else:
                    listed.append(info.path)

        walk(None)
        if listed:
            with tempfile.TemporaryDirectory() as tmp:
                root = client.download_artifacts(run_id, "", tmp)
                for path in listed:
                    with open(os.path.join(root, path), "rb") as handle:
                        files[path] = hashlib.sha256(handle.read()).hexdigest()
    return {
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "run_name": run.info.run_name,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "params": run.data.params,
        "tags": run.data.tags,
        "metrics": metrics,
        "points": points,
        "artifacts": files,
    }


def experiment_ids(name):
    found = client.get_experiment_by_name(name)
    return [] if found is None else [found.experiment_id]


def search(experiment, filter_string):
    ids = experiment_ids(experiment)
    if not ids:
        return []
    out = []
    token = None
    while True:
        page = client.search_runs(
            ids, filter_string=filter_string, run_view_type=3, max_results=1000, page_token=token
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
        elif op == "find":
            uid = request["uid"].replace("'", "")
            answer = {"ok": search(request["experiment"], f"tags.`trackstack.uid` = '{uid}'")}
        elif op == "runs":
            answer = {"ok": search(request["experiment"], "")}
        else:
            answer = {"error": "unknown op"}
    except Exception as error:  # the test shows what MLflow said
        answer = {"error": f"{type(error).__name__}: {error}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
