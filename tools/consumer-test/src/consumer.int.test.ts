/**
 * The packages as users get them: packed with pnpm (workspace ranges
 * rewritten), installed with npm from the tarballs into a fresh project
 * outside the monorepo (no workspace links), typechecked with tsc, and run.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type MlflowServer, startMlflowServer, startTensorboard } from '@trackstack/test-harness';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const pnpm = join(root, 'node_modules/.bin/pnpm');
let work: string;
/** The packed tarball of each package, by its directory name under packages/. */
const tarballs: Record<string, string> = {};
const PACKED = [
  'core',
  'cli',
  'ui',
  'tracker-mlflow',
  'tracker-wandb',
  'tracker-template',
  'tracker-tensorboard',
] as const;
/** A 24×16 PNG (the conformance kit's TEST_PNG), for the programs below. */
const TEST_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAABgAAAAQCAIAAACDRijCAAAAIElEQVR4nGNkYGjgYmCgHLEw8DNQBYwaNGrQqEEj1SAA0KAChbGsTJsAAAAASUVORK5CYII=';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'trackstack-consumer-'));
  const packs = join(work, 'packs');
  await mkdir(packs);
  for (const name of PACKED) {
    execFileSync(pnpm, ['pack', '--pack-destination', packs], {
      cwd: join(root, 'packages', name),
      stdio: 'pipe',
    });
  }
  const files = await readdir(packs);
  for (const name of PACKED) {
    const file = files.find((f) => f.startsWith(`trackstack-${name}-`));
    if (file === undefined) throw new Error(`no tarball of ${name} in ${files.join(', ')}`);
    tarballs[name] = join(packs, file);
  }
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A fresh npm project with these tarballs (and typescript, and @types/node unless `bare`) installed. */
async function project(name: string, packages: string[], bare = false): Promise<string> {
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
      ...(bare ? [] : ['@types/node@20']),
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
        // A bare project: only TypeScript's own ES2022 library, no @types/node, and every
        // .d.ts checked (skipLibCheck off).
        ...(bare
          ? { lib: ['ES2022'], types: [], skipLibCheck: false }
          : { lib: ['ES2022', 'ESNext.Disposable'], types: ['node'] }),
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
  it('core alone: logs to the local default, reads it back and typechecks; it installs no CLI', async () => {
    const dir = await project('core-alone', [tarballs.core!, 'zod@4']);
    await writeFile(
      join(dir, 'main.ts'),
      `import { getTracker, image, LocalRuns, VERSION } from '@trackstack/core';
const png = Buffer.from('PNG_BASE64', 'base64');
const tracker = await getTracker();
const run = await tracker.startRun({ experiment: 'consumer' });
run.logParams({ lr: 0.1 });
for (let step = 0; step < 3; step++) run.logMetric('loss', 1 / (step + 1), { step });
await run.logImage('pred', png, { step: 2, caption: 'c' });
await run.logTable('samples', { columns: ['id', 'img'], rows: [[1, image(png)]] });
run.logHistogram('w', [1, 2, 2, 3], { bins: 3 });
const report = await run.end();
const snapshot = await new LocalRuns().get(run.uid);
const loss: number = snapshot.metrics.loss ?? Number.NaN;
const media = snapshot.media.map((m) => m.kind + ' ' + m.key + ' ' + m.step);
console.log(JSON.stringify({ version: VERSION, status: report.status, loss, flavor: tracker.flavor?.name, media }));
`.replace('PNG_BASE64', TEST_PNG_BASE64),
    );
    compile(dir);
    const out = JSON.parse(run(dir, 'out/main.js'));
    // VERSION is filled in at build: the packed package.json's version (a release bumps it).
    const { version } = JSON.parse(
      await readFile(join(root, 'packages/core/package.json'), 'utf8'),
    ) as { version: string };
    expect(out).toEqual({
      version,
      status: 'FINISHED',
      loss: 1 / 3,
      flavor: 'local',
      media: ['image pred 2', 'table samples 0', 'histogram w 0'],
    });
    // A training script that only logs installs none of the CLI's packages.
    expect(existsSync(join(dir, 'node_modules/.bin/trackstack'))).toBe(false);
    for (const cliOnly of [
      'commander',
      'cli-table3',
      'asciichart',
      'cli-progress',
      '@inquirer/password',
    ]) {
      expect(existsSync(join(dir, 'node_modules', cliOnly)), cliOnly).toBe(false);
    }
  });

  it('core + cli: `trackstack` runs a program in a run, lists it, and serves it in `trackstack ui`', async () => {
    // The CLI depends on @trackstack/ui: here its tarball, for users the registry's.
    const dir = await project('with-cli', [tarballs.core!, tarballs.cli!, tarballs.ui!, 'zod@4']);
    await writeFile(join(dir, 'main.ts'), 'export {};\n');
    const env = { ...process.env, TRACKSTACK_HOME: join(dir, '.store') };
    const bin = join(dir, 'node_modules/.bin/trackstack');
    const version = spawnSync(bin, ['--version'], { cwd: dir, encoding: 'utf8', env });
    expect(version.stdout.trim()).toBe(
      JSON.parse(await readFile(join(root, 'packages/cli/package.json'), 'utf8')).version,
    );
    const wrapped = spawnSync(
      bin,
      ['run', '--name', 'wrapped', '--', process.execPath, '-e', 'console.log(42)'],
      {
        cwd: dir,
        encoding: 'utf8',
        env,
      },
    );
    expect(wrapped.status, wrapped.stderr).toBe(0);
    expect(wrapped.stdout).toContain('42');
    const listed = spawnSync(bin, ['runs', 'list', '--json'], { cwd: dir, encoding: 'utf8', env });
    expect(JSON.parse(listed.stdout).map((r: { name: string }) => r.name)).toEqual(['wrapped']);

    // The viewer, from the installed packages: its URL last, its built pages and the run there.
    const viewer = spawn(bin, ['ui', '--port', '0'], { cwd: dir, env });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        viewer.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const last = out.trimEnd().split('\n').at(-1) ?? '';
          if (out.endsWith('\n') && last.startsWith('http://')) resolve(last);
        });
        viewer.once('exit', (code) => reject(new Error(`trackstack ui exited ${code}`)));
      });
      const page = await fetch(url);
      expect(page.status).toBe(200);
      const html = await page.text();
      const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
      const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
      expect(script, html).toBeDefined();
      const asset = await fetch(new URL(script!, url), { headers: { cookie } });
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(/javascript/);
      const runs = (await (
        await fetch(new URL('/api/runs', url), { headers: { cookie } })
      ).json()) as {
        runs: { name: string }[];
      };
      expect(runs.runs.map((r: { name: string }) => r.name)).toEqual(['wrapped']);
    } finally {
      viewer.kill('SIGINT');
    }
  });

  it('types: every published entry point typechecks with TypeScript alone (no @types/node)', async () => {
    const dir = await project(
      'bare-types',
      [
        tarballs.core!,
        tarballs['tracker-mlflow']!,
        tarballs['tracker-wandb']!,
        tarballs['tracker-template']!,
        'zod@4',
      ],
      true,
    );
    expect(existsSync(join(dir, 'node_modules/@types/node'))).toBe(false);
    await writeFile(
      join(dir, 'main.ts'),
      `import { type Run, createTracker, getTracker, type Tracker, BaseExperimentTracker, defineFlavor } from '@trackstack/core';
import { defineBackendError, parseEndpoint } from '@trackstack/core/flavor';
import { Store, readRunMeta } from '@trackstack/core/store';
import { MlflowExperimentTracker, MlflowError } from '@trackstack/tracker-mlflow';
import { WandbExperimentTracker, WandbError } from '@trackstack/tracker-wandb';
import { TemplateExperimentTracker, TemplateError, TemplateServer } from '@trackstack/tracker-template';
export async function use(): Promise<[Run, Tracker]> {
  const tracker = await getTracker();
  const run = await tracker.startRun({ experiment: 'types' });
  run.logMetric('loss', 1, { step: 0 });
  const mlflow = createTracker(new MlflowExperimentTracker({ tracking_uri: 'http://127.0.0.1:5000', nested: false, tags: {}, request_timeout_s: 30 }));
  void [WandbExperimentTracker, TemplateExperimentTracker, TemplateServer, MlflowError, WandbError, TemplateError];
  void [BaseExperimentTracker, defineFlavor, defineBackendError, parseEndpoint, Store, readRunMeta];
  return [run, mlflow];
}
`,
    );
    // zod's own .d.ts names `URL` (a DOM or @types/node global): its errors are zod's, not ours.
    const result = spawnSync(join(dir, 'node_modules/.bin/tsc'), ['-p', dir], { encoding: 'utf8' });
    const errors = `${result.stdout}${result.stderr}`
      .split('\n')
      .filter((line) => /error TS/.test(line) && !/node_modules\/zod\//.test(line));
    expect(errors).toEqual([]);
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
      const dir = await project('with-mlflow', [
        tarballs.core!,
        tarballs['tracker-mlflow']!,
        'zod@4',
      ]);
      await writeFile(
        join(dir, 'main.ts'),
        `import { createTracker, FlavorRegistry, getTracker } from '@trackstack/core';
import { MlflowExperimentTracker, type MlflowConfig } from '@trackstack/tracker-mlflow';
const registry = await FlavorRegistry.load(process.env.TRACKSTACK_HOME!);
const found = registry.get('mlflow').implementation === MlflowExperimentTracker;
const config: MlflowConfig = { tracking_uri: process.env.URL!, nested: false, tags: {}, request_timeout_s: 30 };
const tracker = createTracker(new MlflowExperimentTracker(config));
const run = await tracker.startRun({ experiment: 'consumer' });
run.logMetric('m', 1);
await run.logImage('pred', Buffer.from('PNG_BASE64', 'base64'), { step: 1 });
const report = await run.end();
console.log(JSON.stringify({ found, pending: report.pendingEvents, runId: report.destinations[0]?.runId, default: (await getTracker()).flavor?.name }));
`.replace('PNG_BASE64', TEST_PNG_BASE64),
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
      // The image as MLflow's client lays it out, its WebP thumbnail made by the installed sharp.
      const listed = await request(
        `${server.url}/api/2.0/mlflow/artifacts/list?run_id=${out.runId}&path=images`,
        { dispatcher: new Agent() },
      );
      const { files } = (await listed.body.json()) as { files: { path: string }[] };
      expect(
        files.map((f) => f.path.replace(/\+timestamp\+\d+\+[0-9a-f-]{36}/, '+<t>')).sort(),
      ).toEqual(['images/pred+step+1+<t>+compressed.webp', 'images/pred+step+1+<t>.png']);
    });
  });

  it('core + tracker-tensorboard alone: a run shows in `tensorboard --logdir` with scalars, params in HParams, and images', async () => {
    const dir = await project('with-tensorboard', [
      tarballs.core!,
      tarballs['tracker-tensorboard']!,
      'zod@4',
    ]);
    await writeFile(
      join(dir, 'main.ts'),
      `import { createTracker, FlavorRegistry } from '@trackstack/core';
import { TensorboardExperimentTracker, tensorboardConfigSchema } from '@trackstack/tracker-tensorboard';
const registry = await FlavorRegistry.load(process.env.TRACKSTACK_HOME!);
const found = registry.get('tensorboard').implementation === TensorboardExperimentTracker;
const tracker = createTracker(new TensorboardExperimentTracker(tensorboardConfigSchema.parse({})));
const run = await tracker.startRun({ experiment: 'consumer', name: 'tb', systemMetrics: false });
run.logParams({ lr: 0.01, opt: 'adam' });
for (let step = 0; step < 20; step++) run.logMetric('loss', 1 / (step + 1), { step });
await run.logImage('pred', Buffer.from('PNG_BASE64', 'base64'), { step: 1 });
const report = await run.end();
console.log(JSON.stringify({ found, pending: report.pendingEvents }));
`.replace('PNG_BASE64', TEST_PNG_BASE64),
    );
    compile(dir);
    const out = JSON.parse(run(dir, 'out/main.js'));
    expect(out).toEqual({ found: true, pending: 0 });
    // log_dir's default, runs/, in the working directory, as PyTorch's SummaryWriter.
    const tb = await startTensorboard({ logdir: join(dir, 'runs') });
    try {
      const runs = await tb.waitForJson<string[]>('/data/runs', (r) => r.includes('consumer/tb'));
      expect(runs).toEqual(['consumer/tb']);
      const loss = await tb.waitForJson<[number, number, number][]>(
        '/data/plugin/scalars/scalars?run=consumer%2Ftb&tag=loss',
        (points) => points.length === 20,
      );
      expect(loss.map(([, step]) => step)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      const experiment = await tb.json<{ hparamInfos: { name: string }[] }>(
        '/data/plugin/hparams/experiment',
        { experimentName: '' },
      );
      expect(experiment.hparamInfos.map((h) => h.name).sort()).toEqual(['lr', 'opt']);
      const images = await tb.waitForJson<{ step: number; query: string }[]>(
        '/data/plugin/images/images?run=consumer%2Ftb&tag=pred&sample=0',
        (list) => list.length === 1,
      );
      expect(images[0]!.step).toBe(1);
      const image = await fetch(`${tb.url}/data/plugin/images/individualImage?${images[0]!.query}`);
      expect(Buffer.from(await image.arrayBuffer()).toString('base64')).toBe(TEST_PNG_BASE64);
    } finally {
      await tb.stop();
    }
  });
});
