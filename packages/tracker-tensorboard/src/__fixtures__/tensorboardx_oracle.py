"""Writes one run with tensorboardX's SummaryWriter, as described by a JSON spec on stdin.

The reference writer for the TypeScript TensorBoard writer's tests: the same run written
by both can be read back with read_events.py and compared field by field (or byte by
byte: pass a fixed "wall_time" to every item).

    {
      "logdir": "/tmp/x/run",                          # SummaryWriter(logdir)
      "filename_suffix": "",                           # optional, SummaryWriter(filename_suffix=)
      "scalars":    [{"tag", "value", "step", "wall_time"?}],      # add_scalar
      "texts":      [{"tag", "text", "step", "wall_time"?}],       # add_text
      "images":     [{"tag", "png_base64", "step", "wall_time"?}], # PIL -> HWC uint8 -> add_image(dataformats="HWC")
      "histograms": [{"tag", "values": [...], "step", "wall_time"?, "bins"?: "tensorflow"}   # add_histogram
                     | {"tag", "bins": [...limits], "counts": [...], "step", ...}],  # add_histogram_raw
      "hparams":    {"hparams": {...}, "metrics": {...}, "name"?: "run name", "step"?: n}  # add_hparams
    }

The spec is parsed with json.loads, so "value" may be the bare words NaN, Infinity, -Infinity
(or the strings "NaN", "Infinity", "-Infinity"). Items are written in the order above.

add_histogram_raw takes "bins" as the bucket limits: either one more than "counts" (numpy's
edges: the first is the left edge, min, and is dropped, as tensorboardX's docs do) or as many
as "counts" (right edges as given). min/max/num/sum/sum_squares come from "min", "max", "num",
"sum", "sum_squares" when given, else from the counts and edges (num = sum of counts, min/max
= the outer edges, sum/sum_squares from the bucket midpoints).

tensorboardX 2.6.5's add_hparams(hparam_dict, metric_dict, name=None, global_step=None)
(there is no run_name argument; that is torch.utils.tensorboard's) opens a second
SummaryWriter in os.path.join(logdir, name or str(time.time())) and writes there, in order:
  _hparams_/experiment, _hparams_/session_start_info, _hparams_/session_end_info
(one Summary each, plugin "hparams", content HParamsPluginData version 0, no tensor), then
add_scalar(k, v, global_step) for every metric. "name" defaults here to "hparams" so the
directory is predictable; pass "name": null for tensorboardX's own timestamp name.

Prints {"logdir": ..., "files": [event files written, relative to logdir], "hparams_dir": ...}.
"""

import base64
import io
import json
import math
import os
import sys

import numpy as np
from PIL import Image
from tensorboardX import SummaryWriter

NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def num(value):
    if isinstance(value, str):
        return NON_FINITE[value]
    return value


def histogram_raw_args(item):
    counts = [num(c) for c in item["counts"]]
    bins = [float(num(b)) for b in item["bins"]]
    if len(bins) == len(counts) + 1:
        left, limits = bins[0], bins[1:]
    elif len(bins) == len(counts):
        left, limits = (item.get("min", bins[0])), bins
    else:
        raise ValueError("histogram: len(bins) must be len(counts) or len(counts) + 1")
    edges = [left] + limits
    mids = [(edges[i] + edges[i + 1]) / 2 for i in range(len(counts))]
    return dict(
        min=num(item.get("min", edges[0])),
        max=num(item.get("max", edges[-1])),
        num=num(item.get("num", sum(counts))),
        sum=num(item.get("sum", sum(c * m for c, m in zip(counts, mids)))),
        sum_squares=num(item.get("sum_squares", sum(c * m * m for c, m in zip(counts, mids)))),
        bucket_limits=limits,
        bucket_counts=counts,
    )


def main():
    spec = json.loads(sys.stdin.read())
    logdir = spec["logdir"]
    # flush_secs large and max_queue large: everything is written at close(), in order.
    writer = SummaryWriter(
        logdir, max_queue=1_000_000, flush_secs=10_000, filename_suffix=spec.get("filename_suffix", "")
    )
    for item in spec.get("scalars", []):
        writer.add_scalar(item["tag"], num(item["value"]), item.get("step"), walltime=item.get("wall_time"))
    for item in spec.get("texts", []):
        writer.add_text(item["tag"], item["text"], item.get("step"), walltime=item.get("wall_time"))
    for item in spec.get("images", []):
        with Image.open(io.BytesIO(base64.b64decode(item["png_base64"]))) as img:
            img.load()
            if img.mode not in ("L", "RGB", "RGBA"):
                img = img.convert("RGBA" if "A" in img.mode else "RGB")
            arr = np.asarray(img, dtype=np.uint8)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        writer.add_image(item["tag"], arr, item.get("step"), walltime=item.get("wall_time"), dataformats="HWC")
    for item in spec.get("histograms", []):
        if "values" in item:
            writer.add_histogram(
                item["tag"],
                np.asarray([num(v) for v in item["values"]], dtype=np.float64),
                item.get("step"),
                bins=item.get("bins", "tensorflow"),
                walltime=item.get("wall_time"),
            )
        else:
            writer.add_histogram_raw(
                item["tag"], global_step=item.get("step"), walltime=item.get("wall_time"), **histogram_raw_args(item)
            )
    hparams_dir = None
    hp = spec.get("hparams")
    if hp is not None:
        name = hp.get("name", "hparams")
        before = set(os.listdir(logdir)) if os.path.isdir(logdir) else set()
        writer.add_hparams(
            hp.get("hparams", {}),
            {k: num(v) for k, v in hp.get("metrics", {}).items()},
            name=name,
            global_step=hp.get("step"),
        )
        if name:
            hparams_dir = name
        else:
            added = sorted(set(os.listdir(logdir)) - before)
            hparams_dir = added[0] if added else None
    writer.close()
    files = sorted(
        os.path.relpath(os.path.join(d, f), logdir)
        for d, _, fs in os.walk(logdir)
        for f in fs
        if "tfevents" in f
    )
    json.dump({"logdir": logdir, "files": files, "hparams_dir": hparams_dir}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
