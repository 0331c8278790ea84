/** A run read back by the harness's MLflow oracle, in the conformance kit's terms. */
import type { BackendRunView } from '@trackstack/core/testing';
import type { MlflowOracle } from '@trackstack/test-harness';

export async function oracleView(oracle: MlflowOracle, runId: string): Promise<BackendRunView> {
  const run = await oracle.run(runId, { history: true, artifacts: true });
  const metrics: BackendRunView['metrics'] = {};
  for (const [key, points] of Object.entries(run.points)) {
    metrics[key] = points
      .map((p) => ({ value: toNumber(p.value), step: p.step, timestamp: p.timestamp }))
      .sort((a, b) => a.step - b.step);
  }
  return {
    status: run.status as BackendRunView['status'],
    params: run.params,
    tags: run.tags,
    metrics,
    artifacts: run.artifacts,
    parentRunId: run.tags['mlflow.parentRunId'],
  };
}

function toNumber(value: number | string): number {
  if (typeof value === 'number') return value;
  return value === 'nan'
    ? Number.NaN
    : value === 'inf'
      ? Number.POSITIVE_INFINITY
      : Number.NEGATIVE_INFINITY;
}
