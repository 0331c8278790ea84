"""Reads a TensorBoard run back with TensorBoard's own EventAccumulator (every scalar kept)
and prints, per tag, the count of points and whether their steps are 0..count-1 in order.

Usage: python tensorboard_count.py <run dir>
"""

import json
import sys

from tensorboard.backend.event_processing import event_accumulator as ea

acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0})
acc.Reload()
out = {}
for tag in acc.Tags()["scalars"]:
    steps = [e.step for e in acc.Scalars(tag)]
    out[tag] = {"count": len(steps), "in_order": steps == list(range(len(steps)))}
print(json.dumps(out))
