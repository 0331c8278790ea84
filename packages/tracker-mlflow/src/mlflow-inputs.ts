/**
 * A dataset input as MLflow's `runs/log-inputs` takes it: the dataset (name,
 * digest, source type, the source as MLflow's JSON, schema, profile) and its
 * `mlflow.data.context` tag, so MLflow's UI lists it under the run's inputs
 * as it lists the datasets its own client logs.
 */
import type { DatasetInput } from '@trackstack/core';

/** MLflow's source JSON: `{"url": …}` for http(s) sources (HTTPDatasetSource), else `{"uri": …}`. */
export function mlflowSource(input: DatasetInput): string {
  if (input.source === undefined) return '{}';
  return JSON.stringify(
    input.sourceType === 'http' ? { url: input.source } : { uri: input.source },
  );
}

export function logInputsBody(runId: string, input: DatasetInput): Record<string, unknown> {
  const dataset: Record<string, string> = {
    name: input.name,
    // core fills the digest and source type in; MLflow requires both.
    digest: input.digest ?? '',
    source_type: input.sourceType ?? 'code',
    source: mlflowSource(input),
  };
  if (input.schema !== undefined) dataset.schema = input.schema;
  if (input.profile !== undefined) dataset.profile = input.profile;
  return {
    run_id: runId,
    datasets: [
      {
        tags:
          input.context === undefined ? [] : [{ key: 'mlflow.data.context', value: input.context }],
        dataset,
      },
    ],
  };
}
