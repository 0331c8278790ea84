import type { RunSource } from '@trackstack/core';
import { describe, expect, it } from 'vitest';
import { sourceTags } from './mlflow-source.js';

const source: RunSource = {
  git: {
    commit: 'f0a308c88c24849117e7ecafb8ed2c1ee8cbece1',
    branch: 'feature/x',
    remoteUrl: 'https://example.com/org/repo.git',
    dirty: true,
    root: '/src/repo',
  },
  entryPoint: '/src/repo/train.js',
  command: ['node', '/src/repo/train.js'],
  cwd: '/src/repo',
  user: 'ada',
  host: 'box',
  node: 'v20.20.2',
  os: 'Linux 6.8.0 x64',
};

describe('MLflow source tags', () => {
  it("writes MLflow's own tags for a local script", () => {
    expect(sourceTags(source)).toEqual({
      'mlflow.source.type': 'LOCAL',
      'mlflow.user': 'ada',
      'mlflow.source.name': '/src/repo/train.js',
      'mlflow.source.git.commit': 'f0a308c88c24849117e7ecafb8ed2c1ee8cbece1',
      'mlflow.source.git.branch': 'feature/x',
      'mlflow.source.git.repoURL': 'https://example.com/org/repo.git',
      'mlflow.source.git.dirty': 'true',
    });
  });

  it('leaves out what was not captured, and everything when capture is off', () => {
    expect(sourceTags({ command: [], cwd: '/', host: 'box', node: 'v20', os: 'Linux' })).toEqual({
      'mlflow.source.type': 'LOCAL',
    });
    expect(sourceTags(undefined)).toEqual({});
  });
});
