import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describeFlavorConformance } from '../testing/conformance.js';
import { LocalExperimentTracker } from './local-tracker.js';

describeFlavorConformance({
  name: 'local',
  createTracker: ({ storeDir }) => new LocalExperimentTracker({}, { storeDir }),
  readRun: async (tracker, run) => {
    const snapshot = await tracker.runs.get(run.uid);
    const histories = await tracker.runs.metricHistories(run.uid);
    const artifacts: Record<string, string> = {};
    for (const artifact of snapshot.artifacts) {
      // Hash the staged bytes, not the recorded digest: the copy is what the run keeps.
      artifacts[artifact.path] = createHash('sha256')
        .update(await readFile(artifact.file))
        .digest('hex');
    }
    return {
      status: snapshot.status,
      params: snapshot.params,
      tags: snapshot.tags,
      metrics: Object.fromEntries(
        Object.entries(histories).map(([key, points]) => [
          key,
          points.map(({ value, step, timestamp }) => ({ value, step, timestamp })),
        ]),
      ),
      artifacts,
      parentRunId: snapshot.parentUid,
      inputs: snapshot.inputs,
      media: await Promise.all(
        snapshot.media.map(async (m) => ({
          kind: m.kind,
          key: m.key,
          step: m.step,
          ...(m.kind === 'image'
            ? {
                sha256: createHash('sha256')
                  .update(await readFile(m.image.localPath))
                  .digest('hex'),
              }
            : m.kind === 'table'
              ? { rows: m.table.rows }
              : { counts: m.counts }),
        })),
      ),
    };
  },
  capabilities: {
    // A local run is its journal: the uid is the run's id, not a tag, and there is
    // no backend call to fail.
    uidTag: false,
    faultInjection: false,
  },
});
