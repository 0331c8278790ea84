"""Reads runs back with MLflow's own Python client, for the flavor's tests.

Serves one JSON request per stdin line and answers one JSON line on stdout:
  {"op": "run", "run_id": "..."}            -> the run as MlflowClient sees it
  {"op": "runs", "experiment": "...", "filter": "..."} -> run ids matching
Non-finite numbers are sent as the strings "nan", "inf", "-inf".
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


def read_run(run_id, with_artifacts=True):
    run = client.get_run(run_id)
    metrics = {}
    for key in run.data.metrics:
        metrics[key] = [
            {"value": number(m.value), "step": m.step, "timestamp": m.timestamp}
            for m in client.get_metric_history(run_id, key)
        ]
    artifacts = {}
    listed = {}

    def walk(path):
        for info in client.list_artifacts(run_id, path):
            if info.is_dir:
                walk(info.path)
            else:
                listed[info.path] = info.file_size

    if with_artifacts:
        walk(None)
    if listed:
        with tempfile.TemporaryDirectory() as tmp:
            root = client.download_artifacts(run_id, "", tmp)
            for path in listed:
                with open(os.path.join(root, path), "rb") as handle:
                    artifacts[path] = hashlib.sha256(handle.read()).hexdigest()
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
        "artifacts": artifacts,
        "artifact_sizes": listed,
    }


def search(experiment, filter_string):
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = client.search_runs([found.experiment_id], filter_string=filter_string, run_view_type=3)
    return [r.info.run_id for r in runs]


for line in sys.stdin:
    request = json.loads(line)
    try:
        if request["op"] == "run":
            answer = {"ok": read_run(request["run_id"], request.get("artifacts", True))}
        elif request["op"] == "runs":
            answer = {"ok": search(request["experiment"], request.get("filter", ""))}
        else:
            answer = {"error": "unknown op"}
    except Exception as error:  # the test shows what MLflow said
        answer = {"error": f"{type(error).__name__}: {error}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
