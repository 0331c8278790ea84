"""Runs one W&B run that logs tables and artifacts with the real `wandb` SDK (numpy and Pillow
needed for images), as described by a JSON spec on stdin. Used by src/wandb-server.int.test.ts.

    {
      "project": "p", "id": "abc123",
      "actions": [
        # run.log({key: wandb.Table(...)}); an {"image": {...}} cell is a wandb.Image of a
        # seeded random h x w RGB array
        {"table": {"key": "samples", "columns": ["name", "img"],
                   "rows": [["a", {"image": {"seed": 1, "height": 8, "width": 12, "caption": "c"}}]]}},
        # wandb.Artifact with files written to a temp dir, then run.log_artifact + wait()
        {"log_artifact": {"name": "ds", "type": "dataset", "description": "...",
                          "metadata": {...}, "aliases": ["latest", "best"],
                          "files": [{"name": "data.txt", "text": "..."}]}},
        # run.use_artifact("ds:latest"): by name, from the server
        {"use_artifact": "ds:latest"},
        # run.use_artifact(draft): the SDK creates, uploads, commits, then uses it
        {"use_draft": {"name": "ds2", "type": "dataset", "files": [...]}}
      ]
    }

Prints one JSON line prefixed with `WANDB_RUN_RESULT `: the run's id, entity, project,
run_dir, and per artifact action what the SDK reports (`artifacts`: id, name, version, type,
digest, aliases).
"""

import json
import os
import sys
import tempfile


def main() -> None:
    spec = json.loads(sys.stdin.read())
    import numpy as np
    import wandb

    run = wandb.init(project=spec["project"], id=spec["id"], settings=wandb.Settings(console="off"))
    base = tempfile.mkdtemp(prefix="wandb-artifact-files-")
    reported = []

    def image(desc):
        rng = np.random.default_rng(desc.get("seed", 0))
        arr = (rng.random((desc.get("height", 8), desc.get("width", 8), 3)) * 255).astype(np.uint8)
        return wandb.Image(arr, caption=desc.get("caption"))

    def cell(value):
        if isinstance(value, dict) and "image" in value:
            return image(value["image"])
        return value

    def artifact(desc):
        art = wandb.Artifact(
            desc["name"],
            type=desc["type"],
            description=desc.get("description"),
            metadata=desc.get("metadata"),
        )
        for item in desc.get("files", []):
            path = os.path.join(base, desc["name"], item["name"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(item["text"])
            art.add_file(path, name=item["name"])
        return art

    def report(action, art):
        reported.append({
            "action": action,
            "id": art.id,
            "name": art.name,
            "version": art.version,
            "type": art.type,
            "digest": art.digest,
            "aliases": list(art.aliases),
        })

    for action in spec.get("actions", []):
        if "table" in action:
            t = action["table"]
            table = wandb.Table(columns=t["columns"], data=[[cell(v) for v in row] for row in t["rows"]])
            run.log({t["key"]: table})
        elif "log_artifact" in action:
            desc = action["log_artifact"]
            art = artifact(desc)
            run.log_artifact(art, aliases=desc.get("aliases"))
            if not run.offline:
                art.wait()
                report("log_artifact", art)
        elif "use_artifact" in action:
            report("use_artifact", run.use_artifact(action["use_artifact"]))
        elif "use_draft" in action:
            art = run.use_artifact(artifact(action["use_draft"]))
            report("use_draft", art)
        else:
            raise ValueError(f"unknown action {action!r}")

    result = {
        "id": run.id,
        "entity": run.entity,
        "project": run.project,
        # The run directory (parent of files/), which `wandb sync` takes.
        "run_dir": os.path.dirname(run.dir.rstrip(os.sep)),
        "artifacts": reported,
    }
    run.finish()
    print("WANDB_RUN_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
