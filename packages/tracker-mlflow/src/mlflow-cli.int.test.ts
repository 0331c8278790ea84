/**
 * The flavor as a user meets it: installed beside core in a project, found by
 * the registry, configured and verified with the CLI, logged to by a wrapped
 * program, read back with MLflow's Python client.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MlflowOracle, type MlflowServer, startMlflowServer } from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = resolve(import.meta.dirname, '..');
const coreDir = resolve(packageDir, '../core');
const cliPath = join(packageDir, '../cli/dist/cli.js');

let server: MlflowServer;
let oracle: MlflowOracle;
let project: string;

beforeAll(async () => {
  for (const built of [cliPath, join(packageDir, 'dist/index.js')]) {
    if (!existsSync(built)) throw new Error(`${built} is missing: build first (pnpm build)`);
  }
  server = await startMlflowServer();
  oracle = new MlflowOracle(server.env.python, server.url);
  project = await mkdtemp(join(tmpdir(), 'trackstack-mlflow-cli-'));
  await mkdir(join(project, 'node_modules/@trackstack'), { recursive: true });
  await symlink(coreDir, join(project, 'node_modules/@trackstack/core'), 'dir');
  await symlink(packageDir, join(project, 'node_modules/@trackstack/tracker-mlflow'), 'dir');
});

afterAll(async () => {
  oracle?.close();
  await server?.stop();
  await rm(project, { recursive: true, force: true });
});

function cli(args: string[]) {
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: project,
    encoding: 'utf8',
    env: { ...process.env, TRACKSTACK_HOME: join(project, '.store'), TRACKSTACK_LOG: 'warn' },
    timeout: 120_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the mlflow flavor from the CLI', () => {
  it('is found once installed, registered, verified, and receives a wrapped run', async () => {
    const flavors = JSON.parse(cli(['experiment-tracker', 'flavor', 'list', '--json']).stdout);
    expect(flavors).toContainEqual(
      expect.objectContaining({ name: 'mlflow', origin: 'package', status: 'ok' }),
    );
    const described = JSON.parse(
      cli(['experiment-tracker', 'flavor', 'describe', 'mlflow', '--json']).stdout,
    );
    expect(
      described.fields
        .filter((f: { secret: boolean }) => f.secret)
        .map((f: { name: string }) => f.name)
        .sort(),
    ).toEqual(['tracking_password', 'tracking_token']);

    const registered = cli([
      'experiment-tracker',
      'register',
      'prod',
      '--flavor',
      'mlflow',
      `--tracking_uri=${server.url}`,
      '--experiment_name=from-cli',
      '--set',
    ]);
    expect(registered.code, registered.stderr).toBe(0);
    const verified = cli(['experiment-tracker', 'verify']);
    expect(verified.stdout).toContain("Tracker 'prod' (mlflow) is reachable");

    const bad = cli([
      'experiment-tracker',
      'register',
      'remote',
      '--flavor',
      'mlflow',
      '--tracking_uri=https://mlflow.example.com',
    ]);
    expect(bad.code).toBe(0); // stored: credentials may come from the environment when it is built
    const unverified = cli(['experiment-tracker', 'verify', 'remote']);
    expect(unverified.code).toBe(1);
    expect(unverified.stderr).toContain('remote MLflow server needs credentials');

    await writeFile(
      join(project, 'train.mjs'),
      `import { getTracker } from '@trackstack/core';
const run = await (await getTracker()).startRun();
for (let epoch = 0; epoch < 3; epoch++) run.logMetric('loss', 1 / (epoch + 1), { step: epoch });
console.log('trained');
await run.end();`,
    );
    const wrapped = cli(['run', '--name', 'wrapped', '--', process.execPath, 'train.mjs']);
    expect(wrapped.code, wrapped.stderr).toBe(0);
    const runIds = await oracle.runs('from-cli');
    expect(runIds).toHaveLength(1);
    const seen = await oracle.run(runIds[0]!, { history: true, artifacts: true });
    expect(seen.run_name).toBe('wrapped');
    expect(seen.status).toBe('FINISHED');
    expect(seen.points.loss?.map((p) => p.step)).toEqual([0, 1, 2]);
    expect(Object.keys(seen.artifacts)).toEqual(['output.log']);
  });
});
