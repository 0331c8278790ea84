"""MLflow's own client on the media side of the oracle (mlflow-media.int.test.ts).

  log <png> <jpeg>   logs, with MlflowClient (synchronous), the images and the table the test
                     logs with trackstack, and prints {"run_id": ...}
  read <run_id>      prints what the server holds of a run: its tags and every artifact
                     (path, size; images: format, size, mode and a hash of the pixels;
                     JSON files: their parsed content)
"""
import hashlib
import json
import os
import sys
import tempfile

import mlflow
from mlflow import MlflowClient
from PIL import Image


def log(png, jpeg):
    client = MlflowClient()
    experiment = client.get_experiment_by_name("media") or None
    experiment_id = experiment.experiment_id if experiment else client.create_experiment("media")
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    client.log_image(run_id, Image.open(png), key="samples/pred", step=1, timestamp=1700000000001)
    client.log_image(run_id, Image.open(jpeg), key="samples/pred", step=2, timestamp=1700000000002)
    client.log_table(
        run_id,
        data={"id": [1, 2], "picture": [Image.open(png), Image.open(png)], "ok": [True, False]},
        artifact_file="tables/samples/table/step-1.json",
    )
    client.set_terminated(run_id)
    print(json.dumps({"run_id": run_id}))


def walk(client, run_id, path, out, root):
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            walk(client, run_id, info.path, out, root)
            continue
        local = client.download_artifacts(run_id, info.path, root)
        entry = {"path": info.path, "size": info.file_size}
        if info.path.endswith((".png", ".webp", ".jpg")):
            with Image.open(local) as image:
                entry.update(
                    format=image.format,
                    width=image.size[0],
                    height=image.size[1],
                    mode=image.mode,
                    pixels=hashlib.sha256(image.convert("RGB").tobytes()).hexdigest(),
                )
        elif info.path.endswith(".json"):
            with open(local, encoding="utf-8") as f:
                entry["json"] = json.load(f)
        out.append(entry)


def read(run_id):
    client = MlflowClient()
    run = client.get_run(run_id)
    files = []
    with tempfile.TemporaryDirectory() as root:
        walk(client, run_id, None, files, root)
    print(json.dumps({"tags": run.data.tags, "files": sorted(files, key=lambda f: f["path"])}))


if __name__ == "__main__":
    if sys.argv[1] == "log":
        log(sys.argv[2], sys.argv[3])
    else:
        read(sys.argv[2])
