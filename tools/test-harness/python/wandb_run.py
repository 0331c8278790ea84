"""Runs one W&B run with the real `wandb` SDK, as described by a JSON spec on stdin.

Used by the test harness (tools/test-harness) as the oracle of the W&B wire format. The spec
is read with `json.loads`, so it may carry the bare words NaN, Infinity and -Infinity:

    {
      "project": "p", "entity": null, "id": "abc123", "name": "display name",
      "config": {...}, "tags": [...], "notes": "...", "group": "...", "job_type": "...",
      "resume": null,                       # e.g. "allow", "must"
      "history": [{"_step": 0, "loss": 1.5}, ...],   # `_step` optional: passed as step=
      "log_interval": 0.0,                  # seconds to sleep after each history row
      "sleep_before_finish": 0.0,           # seconds to sleep before finishing
      "summary": {"best": 0.1},             # set on run.summary after logging
      "config_update": {...},               # run.config.update(...) after logging
      "print": ["line", ...],               # printed to stdout (console capture)
      "save": [{"name": "model.txt", "text": "..."}],  # written to a temp dir, wandb.save(policy="now")
      "exit_code": 0
    }

Prints one JSON line prefixed with `WANDB_RUN_RESULT ` describing the run.
"""

import json
import os
import sys
import tempfile
import time


def main() -> None:
    spec = json.loads(sys.stdin.read())
    import wandb

    init_kwargs = {}
    for key in ("project", "entity", "id", "name", "config", "tags", "notes", "group",
                "job_type", "resume", "dir"):
        if spec.get(key) is not None:
            init_kwargs[key] = spec[key]
    run = wandb.init(**init_kwargs)

    for row in spec.get("history", []):
        row = dict(row)
        step = row.pop("_step", None)
        if step is None:
            run.log(row)
        else:
            run.log(row, step=step)
        if spec.get("log_interval"):
            time.sleep(spec["log_interval"])

    for key, value in spec.get("summary", {}).items():
        run.summary[key] = value

    if spec.get("config_update"):
        run.config.update(spec["config_update"], allow_val_change=True)

    for line in spec.get("print", []):
        print(line, flush=True)

    saves = spec.get("save", [])
    if saves:
        # Not deleted here: `run.save` symlinks the file into the run's files/ directory,
        # and `wandb sync` of an offline run reads it through that link later. The temp
        # directory follows TMPDIR (the harness points it into the test's directory).
        base = tempfile.mkdtemp(prefix="wandb-save-")
        for item in saves:
            path = os.path.join(base, item["name"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(item["text"])
            run.save(path, base_path=base, policy=item.get("policy", "now"))

    if spec.get("sleep_before_finish"):
        time.sleep(spec["sleep_before_finish"])

    result = {
        "id": run.id,
        "entity": run.entity,
        "project": run.project,
        "name": run.name,
        "dir": run.dir,
        "offline": run.offline,
        "path": "/".join(run.path) if isinstance(run.path, (list, tuple)) else run.path,
        "url": run.url,
    }
    # The run directory (parent of files/), which `wandb sync` takes.
    result["run_dir"] = os.path.dirname(run.dir.rstrip(os.sep))
    run.finish(exit_code=spec.get("exit_code", 0))
    print("WANDB_RUN_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
