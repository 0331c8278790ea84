/**
 * The packages as users get them: packed with pnpm (workspace ranges
 * rewritten), installed with npm from the tarballs into a fresh project
 * outside the monorepo (no workspace links), typechecked with tsc, and run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type MlflowServer, startMlflowServer } from '@trackstack/test-harness';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const pnpm = join(root, 'node_modules/.bin/pnpm');
let work: string;
let tarballs: { core: string; mlflow: string };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'trackstack-consumer-'));
  const packs = join(work, 'packs');
  await mkdir(packs);
  for (const name of ['core', 'tracker-mlflow']) {
    execFileSync(pnpm, ['pack', '--pack-destination', packs], {
      cwd: join(root, 'packages', name),
      stdio: 'pipe',
    });
  }
  const files = await readdir(packs);
  tarballs = {
    core: join(packs, files.find((f) => f.startsWith('trackstack-core-'))!),
    mlflow: join(packs, files.find((f) => f.startsWith('trackstack-tracker-mlflow-'))!),
  };
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A fresh npm project with these tarballs (and typescript) installed. */
async function project(name: string, packages: string[]): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir);
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name, private: true, type: 'module' }),
  );
  // npm runs under the node on PATH (the one under test). At `http` level its log shows each
  // request and retry, so a failure says why (e.g. SELF_SIGNED_CERT_IN_CHAIN when npm's
  // `cafile` is not found: see scripts/test-node-versions.mjs).
  const install = spawnSync(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=http',
      ...packages,
      'typescript@5.9',
      '@types/node@20',
    ],
    { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 },
  );
  if (install.status !== 0) {
    const log = `${install.stdout}${install.stderr}`.trim().split('\n').slice(-40).join('\n');
    throw new Error(
      `npm install ${install.error ? `failed (${install.error.message})` : `exited ${install.status}`} under node ${process.version}:\n${log}`,
    );
  }
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        outDir: 'out',
        lib: ['ES2022', 'ESNext.Disposable'],
        types: ['node'],
      },
      include: ['main.ts'],
    }),
  );
  return dir;
}

function run(dir: string, file: string, env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [file], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, TRACKSTACK_HOME: join(dir, '.store'), ...env },
  });
  if (result.status !== 0)
    throw new Error(`node ${file} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

/** Typechecks the consumer against the installed .d.ts files and compiles it to out/main.js. */
function compile(dir: string): void {
  const result = spawnSync(join(dir, 'node_modules/.bin/tsc'), ['-p', dir], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tsc failed:\n${result.stdout}${result.stderr}`);
}

describe('installed from tarballs with npm', () => {
  it('core alone: logs to the local default, reads it back, typechecks, and runs its CLI', async () => {
    const dir = await project('core-alone', [tarballs.core, 'zod@4']);
    await writeFile(
      join(dir, 'main.ts'),
      `import { getTracker, LocalRuns, VERSION } from '@trackstack/core';
const tracker = await getTracker();
const run = await tracker.startRun({ experiment: 'consumer' });
run.logParams({ lr: 0.1 });
for (let step = 0; step < 3; step++) run.logMetric('loss', 1 / (step + 1), { step });
const report = await run.end();
const snapshot = await new LocalRuns().get(run.uid);
const loss: number = snapshot.metrics.loss ?? Number.NaN;
console.log(JSON.stringify({ version: VERSION, status: report.status, loss, flavor: tracker.flavor.name }));
`,
    );
    compile(dir);
    const out = JSON.parse(run(dir, 'out/main.js'));
    // VERSION is filled in at build: the packed package.json's version (a release bumps it).
    const { version } = JSON.parse(
      await readFile(join(root, 'packages/core/package.json'), 'utf8'),
    ) as { version: string };
    expect(out).toEqual({ version, status: 'FINISHED', loss: 1 / 3, flavor: 'local' });
    const cli = spawnSync(join(dir, 'node_modules/.bin/trackstack'), ['runs', 'list', '--json'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, TRACKSTACK_HOME: join(dir, '.store') },
    });
    expect(JSON.parse(cli.stdout)).toHaveLength(1);
  });

  describe('core + tracker-mlflow', () => {
    let server: MlflowServer;
    beforeAll(async () => {
      server = await startMlflowServer();
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('logs to a real MLflow server through the installed flavor, found by the registry', async () => {
      const dir = await project('with-mlflow', [tarballs.core, tarballs.mlflow, 'zod@4']);
      await writeFile(
        join(dir, 'main.ts'),
        `import { FlavorRegistry, getTracker } from '@trackstack/core';
import { MlflowExperimentTracker, type MlflowConfig } from '@trackstack/tracker-mlflow';
const registry = await FlavorRegistry.load(process.env.TRACKSTACK_HOME!);
const found = registry.get('mlflow').implementation === MlflowExperimentTracker;
const config: MlflowConfig = { tracking_uri: process.env.URL!, nested: false, tags: {}, request_timeout_s: 30 };
const tracker = new MlflowExperimentTracker(config);
const run = await tracker.startRun({ experiment: 'consumer' });
run.logMetric('m', 1);
const report = await run.end();
console.log(JSON.stringify({ found, pending: report.pendingEvents, runId: report.destinations[0]?.runId, default: (await getTracker()).flavor.name }));
`,
      );
      compile(dir);
      const out = JSON.parse(run(dir, 'out/main.js', { URL: server.url }));
      expect(out).toMatchObject({ found: true, pending: 0, default: 'local' });
      // A fresh connection: the harness's pooled ones may have been closed by the server meanwhile.
      const check = await request(`${server.url}/api/2.0/mlflow/runs/get?run_id=${out.runId}`, {
        dispatcher: new Agent(),
      });
      const body = (await check.body.json()) as {
        run: { info: { status: string }; data: { metrics: { key: string; value: number }[] } };
      };
      expect(body.run.info.status).toBe('FINISHED');
      expect(body.run.data.metrics).toEqual([expect.objectContaining({ key: 'm', value: 1 })]);
    });
  });
});
