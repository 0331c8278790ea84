/**
 * Where a run ran, as MLflow's own client records it for a local script: the
 * `mlflow.source.*` and `mlflow.user` tags its UI shows (Source, User, the git
 * commit and branch). `mlflow.source.git.dirty` is MLflow's own tag name
 * (`mlflow/utils/mlflow_tags.py`), which its client sets for logged models only.
 */
import type { RunSource } from '@trackstack/core';

export function sourceTags(source: RunSource | undefined): Record<string, string> {
  if (source === undefined) return {};
  const tags: Record<string, string> = { 'mlflow.source.type': 'LOCAL' };
  if (source.user !== undefined) tags['mlflow.user'] = source.user;
  if (source.entryPoint !== undefined) tags['mlflow.source.name'] = source.entryPoint;
  const git = source.git;
  if (git !== undefined) {
    tags['mlflow.source.git.commit'] = git.commit;
    if (git.branch !== undefined) tags['mlflow.source.git.branch'] = git.branch;
    if (git.remoteUrl !== undefined) tags['mlflow.source.git.repoURL'] = git.remoteUrl;
    if (git.dirty !== undefined) tags['mlflow.source.git.dirty'] = String(git.dirty);
  }
  return tags;
}
