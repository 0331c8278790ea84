import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  captureSource,
  clearSourceCache,
  GIT_TIMEOUT_MS,
  redactCommand,
  stripCredentials,
} from './source.js';

const TOKEN = 's3cret-token-4d9f';
const work = realpathSync(mkdtempSync(join(tmpdir(), 'trackstack-source-')));
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  })
    .toString()
    .trim();

/** A repository with one commit on `feature/x`, a remote holding a token, and a script. */
function makeRepo(name: string): { root: string; commit: string; script: string } {
  const root = join(work, name);
  mkdirSync(join(root, 'src'), { recursive: true });
  git(root, 'init', '-q', '-b', 'feature/x');
  writeFileSync(join(root, 'src', 'train.js'), 'console.log(1)\n');
  git(root, 'add', '.');
  git(root, 'commit', '-q', '-m', 'first');
  git(root, 'remote', 'add', 'origin', `https://user:${TOKEN}@example.com/org/repo.git`);
  return { root, commit: git(root, 'rev-parse', 'HEAD'), script: join(root, 'src', 'train.js') };
}

afterEach(() => clearSourceCache());
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('stripCredentials', () => {
  it('removes user and password from URLs, keeps scp-like and ssh user names', () => {
    expect(stripCredentials(`https://user:${TOKEN}@example.com/org/repo.git`)).toBe(
      'https://example.com/org/repo.git',
    );
    expect(stripCredentials(`https://${TOKEN}@github.com/org/repo`)).toBe(
      'https://github.com/org/repo',
    );
    expect(stripCredentials(`http://u:${TOKEN}@10.0.0.1:8080/r.git`)).toBe(
      'http://10.0.0.1:8080/r.git',
    );
    expect(stripCredentials('https://example.com/org/repo.git')).toBe(
      'https://example.com/org/repo.git',
    );
    expect(stripCredentials('git@github.com:org/repo.git')).toBe('git@github.com:org/repo.git');
    expect(stripCredentials('ssh://git@host/org/repo.git')).toBe('ssh://git@host/org/repo.git');
    expect(stripCredentials(`ssh://git:${TOKEN}@host/org/repo.git`)).toBe(
      'ssh://host/org/repo.git',
    );
    expect(stripCredentials('/srv/git/repo.git')).toBe('/srv/git/repo.git');
  });
});

describe('redactCommand', () => {
  it('hides the values of secret-looking options and assignments, and URL credentials', () => {
    expect(
      redactCommand([
        'node',
        'train.js',
        `--api-key=${TOKEN}`,
        '--password',
        TOKEN,
        `WANDB_API_TOKEN=${TOKEN}`,
        `--remote=https://u:${TOKEN}@example.com/x`,
        '--epochs',
        '10',
        '--author=ada',
      ]),
    ).toEqual([
      'node',
      'train.js',
      '--api-key=***',
      '--password',
      '***',
      'WANDB_API_TOKEN=***',
      '--remote=https://example.com/x',
      '--epochs',
      '10',
      '--author=ada',
    ]);
  });
});

describe('captureSource', () => {
  it('records the commit, branch, remote without its token, dirtiness and the entry point', async () => {
    const { root, commit, script } = makeRepo('clean');
    const clean = await captureSource({ command: ['node', script, '--epochs', '3'], cwd: root });
    expect(clean).toEqual({
      git: {
        commit,
        branch: 'feature/x',
        remoteUrl: 'https://example.com/org/repo.git',
        dirty: false,
        root,
      },
      entryPoint: script,
      command: ['node', script, '--epochs', '3'],
      cwd: root,
      user: expect.any(String),
      host: hostname(),
      node: process.version,
      os: expect.stringMatching(/\S+ \S+ \S+/),
    });
    expect(JSON.stringify(clean)).not.toContain(TOKEN);

    writeFileSync(script, 'console.log(2)\n');
    clearSourceCache();
    const dirty = await captureSource({ command: ['node', script], cwd: root });
    expect(dirty.git?.dirty).toBe(true);
  });

  it('finds the script of a wrapped command after the options of its program', async () => {
    const { root, script } = makeRepo('wrapped');
    const source = await captureSource({ command: ['python', '-u', 'src/train.js'], cwd: root });
    expect(source.entryPoint).toBe(script);
    const program = await captureSource({ command: ['make', 'train'], cwd: root });
    expect(program.entryPoint).toBe('make');
    expect(program.git?.root).toBe(root);
  });

  it('leaves git out outside a repository, and for a detached HEAD leaves the branch out', async () => {
    const outside = join(work, 'plain');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'x.js'), '');
    const source = await captureSource({ command: ['node', 'x.js'], cwd: outside });
    expect(source.git).toBeUndefined();
    expect(source.entryPoint).toBe(join(outside, 'x.js'));

    const { root, commit } = makeRepo('detached');
    git(root, 'checkout', '-q', '--detach');
    const detached = await captureSource({ command: ['node', 'src/train.js'], cwd: root });
    expect(detached.git?.commit).toBe(commit);
    expect(detached.git).not.toHaveProperty('branch');
  });

  it('goes on without git when the binary is missing or hangs', async () => {
    const { root } = makeRepo('no-git');
    const path = process.env.PATH;
    const bin = join(work, 'bin');
    mkdirSync(bin, { recursive: true });
    try {
      process.env.PATH = join(work, 'nowhere');
      const missing = await captureSource({ command: ['node', 'src/train.js'], cwd: root });
      expect(missing.git).toBeUndefined();
      expect(missing.host).toBe(hostname());

      clearSourceCache();
      writeFileSync(join(bin, 'git'), '#!/bin/sh\nsleep 30\n');
      chmodSync(join(bin, 'git'), 0o755);
      process.env.PATH = `${bin}:${path}`;
      const started = Date.now();
      const hung = await captureSource({ command: ['node', 'src/train.js'], cwd: root });
      expect(hung.git).toBeUndefined();
      // One bounded question (the first): the hung git is killed at its timeout.
      expect(Date.now() - started).toBeLessThan(GIT_TIMEOUT_MS * 3);
    } finally {
      process.env.PATH = path;
    }
  });

  it('asks git once per directory in a process (the answers are cached)', async () => {
    const { root, commit } = makeRepo('cached');
    const first = await captureSource({ command: ['node', 'src/train.js'], cwd: root });
    git(root, 'commit', '-q', '--allow-empty', '-m', 'second');
    const second = await captureSource({ command: ['node', 'src/train.js'], cwd: root });
    expect(first.git?.commit).toBe(commit);
    expect(second.git?.commit).toBe(commit);
  });
});
