import { createHash } from 'node:crypto';
import { describeFlavorConformance, metricHistories } from './conformance.js';
import { InMemoryTracker } from './in-memory-tracker.js';

describeFlavorConformance({
  name: 'memory',
  createTracker: ({ storeDir }) =>
    new InMemoryTracker(
      { backend: `conformance-${process.pid}`, ordered_writes: false },
      { storeDir },
    ),
  readRun: async (tracker, run) => {
    const stored = tracker.backend.findByUid(run.uid);
    if (stored === undefined) throw new Error(`run ${run.uid} is not in the backend`);
    return {
      status: stored.status,
      params: Object.fromEntries(stored.params),
      tags: Object.fromEntries(stored.tags),
      metrics: metricHistories(stored.metrics),
      artifacts: Object.fromEntries([...stored.artifacts].map(([path, a]) => [path, a.sha256])),
      parentRunId: stored.init.parent?.runId,
      inputs: stored.inputs,
      media: stored.media.map((m) => ({
        kind: m.kind,
        key: m.key,
        step: m.step,
        ...(m.kind === 'image'
          ? { sha256: createHash('sha256').update(m.bytes!).digest('hex') }
          : m.kind === 'table'
            ? { rows: m.rows.length }
            : { counts: m.counts }),
      })),
    };
  },
});
