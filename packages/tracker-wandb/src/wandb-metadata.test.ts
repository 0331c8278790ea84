import type { RunSource } from '@trackstack/core';
import { describe, expect, it } from 'vitest';
import { wandbMetadata } from './wandb-metadata.js';

const source: RunSource = {
  git: {
    commit: 'f0a308c88c24849117e7ecafb8ed2c1ee8cbece1',
    branch: 'feature/x',
    remoteUrl: 'https://example.com/org/repo.git',
    dirty: false,
    root: '/src/repo',
  },
  entryPoint: '/src/repo/train/main.js',
  command: ['/usr/bin/node', '/src/repo/train/main.js', '--lr', '0.1'],
  cwd: '/src/repo/train',
  user: 'ada',
  host: 'box',
  node: 'v20.20.2',
  os: 'Linux 6.8.0 x64',
};
const start = Date.UTC(2026, 11, 2, 0, 2, 7, 400);

describe('W&B metadata', () => {
  it('fills the EnvironmentRecord fields wandb-core writes to wandb-metadata.json', () => {
    expect(wandbMetadata(source, start, {})).toEqual({
      os: 'Linux 6.8.0 x64',
      startedAt: '2026-12-02T00:02:07.400Z',
      args: ['--lr', '0.1'],
      program: '/src/repo/train/main.js',
      codePath: 'train/main.js',
      codePathLocal: 'main.js',
      git: { remote: 'https://example.com/org/repo.git', commit: source.git!.commit },
      root: '/src/repo/train',
      host: 'box',
      executable: '/usr/bin/node',
    });
  });

  it('takes the arguments after the script of a wrapped command, and WANDB_USERNAME as wandb does', () => {
    const wrapped = wandbMetadata(
      { ...source, command: ['python', '-u', 'train/main.js', '--epochs', '3'], cwd: '/src/repo' },
      start,
      { WANDB_USERNAME: 'ada-wandb' },
    );
    expect(wrapped.args).toEqual(['--epochs', '3']);
    expect(wrapped.executable).toBe('python');
    expect(wrapped.username).toBe('ada-wandb');
  });

  it('leaves out git, code paths and args it does not have', () => {
    const bare = wandbMetadata(
      { command: ['/usr/bin/node'], cwd: '/tmp', host: 'box', node: 'v20', os: 'Linux' },
      start,
      {},
    );
    expect(bare).toEqual({
      os: 'Linux',
      startedAt: '2026-12-02T00:02:07.400Z',
      root: '/tmp',
      host: 'box',
      executable: '/usr/bin/node',
    });
  });
});
