/**
 * Promise: secrets are never printed, logged, journaled or put in URLs; TLS is verified unless
 * the user turns it off by name; flavors load only from registered sources or installed
 * packages that declare themselves.
 *
 * A planted secret (`sk-PLANTED-<random>`) is the admin password of a real basic-auth MLflow
 * server (behind a fault proxy that records every URL), the token of another tracker, and a
 * value in the store's secrets. The built CLI and the API are driven through successes and
 * failures (401, unreachable, TLS refusals); then every output, log line, error (message, JSON,
 * inspect with causes), every file under the store but secrets.json, and every URL the proxy
 * and the TLS server saw is searched for the secret, its base64 Basic form and its URL form.
 */
import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { inspect } from 'node:util';
import {
  BackendError,
  createTracker,
  getTracker,
  parseConfig,
  silentLogger,
  TrackstackError,
} from '@trackstack/core';
import {
  type FaultProxy,
  freePort,
  git,
  MlflowOracle,
  type MlflowServer,
  startFaultProxy,
  startMlflowServer,
} from '@trackstack/test-harness';
import { MlflowExperimentTracker } from '@trackstack/tracker-mlflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSelfSignedMlflow, type TlsServer } from './support/tls.js';
import {
  type CliResult,
  FIXTURES,
  ROOT,
  recordFigures,
  recordingLogger,
  runCli,
  runNode,
} from './support/util.js';

const SECRET = `sk-PLANTED-${randomBytes(12).toString('hex')}`;
const NEEDLES = [
  SECRET,
  encodeURIComponent(SECRET),
  Buffer.from(`admin:${SECRET}`).toString('base64'),
  Buffer.from(SECRET).toString('base64'),
];

let server: MlflowServer;
let proxy: FaultProxy;
let tls: TlsServer;
let project: string;
let store: string;
/** Everything the tests saw come out: outputs, log lines, errors. Searched at the end. */
const seen: { where: string; text: string }[] = [];

function keep(where: string, text: string): void {
  seen.push({ where, text });
}

function keepError(where: string, error: unknown): void {
  keep(`${where} (message)`, String(error));
  keep(`${where} (JSON)`, JSON.stringify(error) ?? '');
  keep(`${where} (inspect)`, inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true }));
  keep(`${where} (stack)`, (error as Error)?.stack ?? '');
  keep(`${where} (hint)`, String((error as TrackstackError)?.hint));
}

async function cli(
  args: string[],
  options: { input?: string; cwd?: string; storeDir?: string } = {},
): Promise<CliResult> {
  const result = await runCli(args, {
    cwd: options.cwd ?? project,
    env: { TRACKSTACK_HOME: options.storeDir ?? store, TRACKSTACK_LOG: 'debug' },
    ...(options.input === undefined ? {} : { input: options.input }),
  });
  keep(`trackstack ${args.join(' ')} (stdout)`, result.stdout);
  keep(`trackstack ${args.join(' ')} (stderr)`, result.stderr);
  return result;
}

/** A package in the project's node_modules exporting a tracker class. */
function flavorPackage(name: string, flavorName: string, declared: boolean): void {
  const dir = join(project, 'node_modules', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name,
      version: '1.0.0',
      type: 'module',
      main: 'index.mjs',
      ...(declared ? { trackstack: { flavors: ['./index.mjs#Tracker'] } } : {}),
    }),
  );
  writeFileSync(
    join(dir, 'index.mjs'),
    `import { writeFileSync } from 'node:fs';
import { BaseExperimentTracker, defineFlavor } from '@trackstack/core';
import { z } from 'zod';
// Importing this module leaves a mark: a package that is never loaded leaves none.
writeFileSync(${JSON.stringify(join(project, `${flavorName}.imported`))}, 'imported');
export class Tracker extends BaseExperimentTracker {
  static FLAVOR = defineFlavor({ name: ${JSON.stringify(flavorName)}, configSchema: z.object({}) });
  async createRun(init) { return { runId: init.uid }; }
  async writeBatch() {}
  async uploadArtifact() {}
  async finishRun() {}
  async validateConnection() {}
}
`,
  );
}

beforeAll(async () => {
  server = await startMlflowServer({ auth: { adminPassword: SECRET } });
  proxy = await startFaultProxy(server.url);
  tls = await startSelfSignedMlflow();
  project = await mkdtemp(join(tmpdir(), 'trackstack-security-'));
  store = join(project, 'store'); // made by trackstack itself
  const modules = join(project, 'node_modules', '@trackstack');
  mkdirSync(modules, { recursive: true });
  symlinkSync(join(ROOT, 'packages/core'), join(modules, 'core'), 'dir');
  symlinkSync(join(ROOT, 'packages/tracker-mlflow'), join(modules, 'tracker-mlflow'), 'dir');
  // zod is a peer dependency of core and the flavors: the app's one copy, which they all use.
  symlinkSync(
    join(ROOT, 'packages/core/node_modules/zod'),
    join(project, 'node_modules/zod'),
    'dir',
  );
  flavorPackage('sneaky-flavor', 'sneaky', false);
  flavorPackage('declared-flavor', 'declared', true);
  writeFileSync(join(project, 'train.mjs'), readFileSync(join(FIXTURES, 'secret-child.mjs')));
  // The project is a git checkout whose remote URL holds the secret (a token in the URL, as
  // CI checkouts have): where-a-run-ran capture must record the remote without it.
  git(project, 'init', '-q', '-b', 'main');
  git(project, 'add', 'train.mjs');
  git(project, 'commit', '-q', '-m', 'train');
  git(project, 'remote', 'add', 'origin', `https://ci:${SECRET}@example.com/org/repo.git`);
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await tls?.close();
  if (project !== undefined) await rm(project, { recursive: true, force: true });
});

describe('a planted secret', () => {
  const uids: Record<string, string> = {};

  it('goes through the CLI: secrets, trackers, verify, run, sync, runs', async () => {
    const closed = await freePort();
    expect((await cli(['secret', 'create', 'mlflow-auth'], { input: SECRET })).code).toBe(0);
    expect((await cli(['secret', 'create', 'mlflow-tok', `--token=${SECRET}`])).code).toBe(0);
    expect((await cli(['secret', 'create', 'wrong', '--value=not-the-password-000'])).code).toBe(0);
    const register = (name: string, ...config: string[]) =>
      cli([
        'experiment-tracker',
        'register',
        name,
        '--flavor',
        'mlflow',
        '--request_timeout_s=5',
        ...config,
      ]);
    for (const result of [
      await register(
        'prod',
        `--tracking_uri=${proxy.url}`,
        '--tracking_username=admin',
        '--tracking_password={{secret.mlflow-auth}}',
        '--experiment_name=secure',
      ),
      await register(
        'tok',
        `--tracking_uri=${proxy.url}`,
        '--tracking_token={{secret.mlflow-tok.token}}',
        '--experiment_name=secure',
      ),
      await register(
        'wrongpw',
        `--tracking_uri=${proxy.url}`,
        '--tracking_username=admin',
        '--tracking_password={{secret.wrong}}',
      ),
      await register(
        'down',
        `--tracking_uri=http://127.0.0.1:${closed}`,
        '--tracking_username=admin',
        '--tracking_password={{secret.mlflow-auth}}',
      ),
      await register(
        'tls',
        `--tracking_uri=${tls.url}`,
        '--tracking_token={{secret.mlflow-tok.token}}',
      ),
    ])
      expect(result.code, result.stderr).toBe(0);

    for (const args of [
      ['experiment-tracker', 'list'],
      ['experiment-tracker', 'list', '--json'],
      ['experiment-tracker', 'describe', 'prod'],
      ['experiment-tracker', 'describe', 'tok', '--json'],
      ['secret', 'list'],
      ['secret', 'list', '--json'],
      ['experiment-tracker', 'flavor', 'describe', 'mlflow'],
    ])
      expect((await cli(args)).code, args.join(' ')).toBe(0);

    const ok = await cli(['experiment-tracker', 'verify', 'prod']);
    expect(ok.stdout).toContain("Tracker 'prod' (mlflow) is reachable");
    for (const name of ['tok', 'wrongpw']) {
      const refused = await cli(['experiment-tracker', 'verify', name, '--debug']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/refused the credentials \(HTTP 401\)/);
    }
    const down = await cli(['experiment-tracker', 'verify', 'down', '--debug']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      /MLflow refused the connection \(ECONNREFUSED\) \[BACKEND_UNREACHABLE\]/,
    );
    expect(down.stderr).toContain('hint: nothing listens at that address');
    const untrusted = await cli(['experiment-tracker', 'verify', 'tls', '--debug']);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/TLS certificate was not accepted/);

    const wrapped = await cli([
      'run',
      '--tracker',
      'prod',
      '--',
      process.execPath,
      'train.mjs',
      `--api-token=${SECRET}`,
    ]);
    expect(wrapped.code, wrapped.stderr).toBe(0);
    uids.prod = /run ([0-9a-f-]{36})/.exec(wrapped.stderr)![1]!;
    const refusedRun = await cli(['run', '--tracker', 'tok', '--', process.execPath, 'train.mjs']);
    expect(refusedRun.code, refusedRun.stderr).toBe(0);
    uids.tok = /run ([0-9a-f-]{36})/.exec(refusedRun.stderr)![1]!;
    const syncRefused = await cli(['sync', uids.tok]);
    expect(syncRefused.code).toBe(1);
    const syncElsewhere = await cli(['sync', uids.tok, '--to', 'prod', '--json']);
    expect(syncElsewhere.code, syncElsewhere.stderr).toBe(0);
    for (const uid of Object.values(uids)) {
      expect((await cli(['runs', 'show', uid])).code).toBe(0);
      expect((await cli(['runs', 'show', uid, '--json'])).code).toBe(0);
    }
    expect((await cli(['runs', 'list'])).code).toBe(0);

    // What arrived is right: the wrapped run and the one synced elsewhere, both in MLflow.
    const oracle = new MlflowOracle(server.env.python, server.url, {
      MLFLOW_TRACKING_USERNAME: 'admin',
      MLFLOW_TRACKING_PASSWORD: SECRET,
    });
    try {
      for (const uid of Object.values(uids)) {
        const [id] = await oracle.find('secure', uid);
        expect(id, uid).toBeDefined();
        const held = await oracle.run(id!);
        expect(held.metrics.loss?.count).toBe(20);
        // Where it ran arrived, without the secret of the remote or of the command line.
        expect(held.tags['mlflow.source.git.repoURL']).toBe('https://example.com/org/repo.git');
        keep(`MLflow run ${id}`, JSON.stringify(held));
      }
    } finally {
      oracle.close();
    }
  });

  it('goes through the API: 401, unreachable, untrusted TLS, a missing secret', async () => {
    const logger = recordingLogger();
    const base = { nested: false, tags: {}, request_timeout_s: 5 };
    const storeDir = join(project, 'api-store');
    const token = createTracker(
      new MlflowExperimentTracker(
        { ...base, tracking_uri: proxy.url, tracking_token: SECRET },
        { storeDir, logger },
      ),
    );
    const error = await token.validateConnection().catch((e: unknown) => e);
    expect(BackendError.isInstance(error) && error.statusCode).toBe(401);
    keepError('validateConnection 401', error);
    const run = await token.startRun({ experiment: 'api', logger, startTimeoutMs: 3_000 });
    run.logMetric('m', 1);
    const report = await run.end('FINISHED', { timeoutMs: 1_000 });
    for (const e of report.destinations.flatMap((d) => d.errors)) keepError('end() 401', e);
    keep('end() report', JSON.stringify(report));
    await run.flush().catch((e: unknown) => keepError('flush() after end', e));

    const closed = await freePort();
    const unreachable = createTracker(
      new MlflowExperimentTracker(
        {
          ...base,
          tracking_uri: `http://127.0.0.1:${closed}`,
          tracking_username: 'admin',
          tracking_password: SECRET,
        },
        { storeDir, logger },
      ),
    );
    keepError('unreachable', await unreachable.validateConnection().catch((e: unknown) => e));
    const run2 = await unreachable.startRun({ experiment: 'api', logger, startTimeoutMs: 500 });
    run2.logMetric('m', 1);
    const report2 = await run2.end('FINISHED', { timeoutMs: 500 });
    keep('unreachable report', JSON.stringify(report2));
    expect(report2.hint).toContain('trackstack sync');

    const untrusted = createTracker(
      new MlflowExperimentTracker(
        { ...base, tracking_uri: tls.url, tracking_token: SECRET },
        { storeDir, logger },
      ),
    );
    const tlsError = await untrusted.validateConnection().catch((e: unknown) => e);
    expect(tlsError).toMatchObject({ code: 'BACKEND_UNREACHABLE', retryable: false });
    keepError('tls', tlsError);
    // The token never reached a server whose certificate was refused.
    expect(tls.authorizations).toEqual([]);

    const missing = join(project, 'missing-secret-store');
    mkdirSync(missing, { recursive: true });
    writeFileSync(
      join(missing, 'trackers.json'),
      JSON.stringify({
        version: 1,
        trackers: {
          x: {
            flavor: 'mlflow',
            config: { tracking_uri: proxy.url, tracking_token: '{{secret.nope.token}}' },
          },
        },
        active: ['x'],
      }),
    );
    const missingError = await getTracker({ storeDir: missing, cwd: project }).catch(
      (e: unknown) => e,
    );
    expect(TrackstackError.isInstance(missingError) && missingError.code).toBe('INVALID_CONFIG');
    keepError('missing secret', missingError);
    for (const line of logger.lines) keep('logger', line);
  });

  it('verifies TLS unless turned off by name, or trusts the CA given', async () => {
    const base = {
      nested: false,
      tags: {},
      request_timeout_s: 5,
      tracking_uri: tls.url,
      tracking_token: SECRET,
    };
    const build = (extra: Record<string, unknown>) =>
      new MlflowExperimentTracker(
        parseConfig(MlflowExperimentTracker.FLAVOR, { ...base, ...extra }),
        {
          storeDir: join(project, 'tls-store'),
          logger: silentLogger,
        },
      );
    const refused = await build({})
      .validateConnection()
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'BACKEND_UNREACHABLE', retryable: false });
    expect((refused as Error).message).toMatch(/DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED/);
    keepError('tls default', refused);
    expect(tls.authorizations).toEqual([]);
    await expect(
      build({ tracking_insecure_tls: true }).validateConnection(),
    ).resolves.toBeUndefined();
    await expect(
      build({ tracking_server_cert_path: tls.certPath }).validateConnection(),
    ).resolves.toBeUndefined();
    // Over TLS the token is sent (only once the server was accepted).
    expect(tls.authorizations).toEqual([`Bearer ${SECRET}`, `Bearer ${SECRET}`]);
    // A run against the refused server stops at once (not retried forever) and says why.
    const run = await createTracker(build({})).startRun({
      logger: silentLogger,
      startTimeoutMs: 5_000,
    });
    run.logMetric('m', 1);
    const report = await run.end('FINISHED', { timeoutMs: 1_000 });
    expect(report.destinations[0]?.errors[0]).toMatchObject({
      code: 'BACKEND_UNREACHABLE',
      retryable: false,
    });
    for (const e of report.destinations[0]?.errors ?? []) keepError('tls run', e);
  });

  it('loads flavors only from registered sources and packages that declare themselves', async () => {
    const listed = await cli(['experiment-tracker', 'flavor', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const names = (JSON.parse(listed.stdout) as { name: string; origin: string }[]).map(
      (f) => `${f.origin}:${f.name}`,
    );
    expect(names).toContain('package:mlflow');
    expect(names).toContain('package:declared');
    expect(names.some((n) => n.endsWith(':sneaky'))).toBe(false);
    expect(() => statSync(join(project, 'sneaky.imported')), 'never imported').toThrow();
    writeFileSync(
      join(store, 'trackers.json'),
      JSON.stringify({
        ...JSON.parse(readFileSync(join(store, 'trackers.json'), 'utf8')),
        trackers: {
          ...JSON.parse(readFileSync(join(store, 'trackers.json'), 'utf8')).trackers,
          s: { flavor: 'sneaky', config: {}, labels: {} },
        },
      }),
      { mode: 0o600 },
    );
    const unknown = await getTracker({ storeDir: store, cwd: project, name: 's' }).catch(
      (e: unknown) => e,
    );
    expect(TrackstackError.isInstance(unknown) && unknown.code).toBe('UNKNOWN_FLAVOR');
    // Registered explicitly, it is listed (and only then imported).
    const registered = await cli(['experiment-tracker', 'flavor', 'register', 'sneaky-flavor']);
    expect(registered.code, registered.stderr).toBe(0);
    const again = JSON.parse(
      (await cli(['experiment-tracker', 'flavor', 'list', '--json'])).stdout,
    ) as { name: string; origin: string }[];
    expect(again).toContainEqual(expect.objectContaining({ name: 'sneaky', origin: 'registered' }));
    expect(statSync(join(project, 'sneaky.imported')).isFile()).toBe(true);
  });

  it('keeps plain-text secrets given on the command line out of every output', async () => {
    const other = join(project, 'plain-store');
    const plain = await cli(
      [
        'experiment-tracker',
        'register',
        'plain',
        '--flavor',
        'mlflow',
        `--tracking_uri=${proxy.url}`,
        '--tracking_username=admin',
        `--tracking_password=${SECRET}`,
      ],
      { storeDir: other },
    );
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/is a secret given as plain text/);
    const described = await cli(['experiment-tracker', 'describe', 'plain', '--json'], {
      storeDir: other,
    });
    expect(JSON.parse(described.stdout).config.tracking_password).toBe('********');
    await cli(['experiment-tracker', 'list'], { storeDir: other });
    const verified = await cli(['experiment-tracker', 'verify', 'plain'], { storeDir: other });
    expect(verified.code, verified.stderr).toBe(0);
  });

  it('appears in no output, log, error, journal, store file or URL; store files are 0600 and directories 0700', async () => {
    // Outputs, logs and errors.
    const leaks = seen
      .filter(({ text }) => NEEDLES.some((n) => text.includes(n)))
      .map((s) => s.where);
    expect(leaks).toEqual([]);

    // Every file of the store but secrets.json (journals, run.json, delivery state, cursors,
    // trackers.json, flavors.json, staged artifacts, output.log).
    const files: string[] = [];
    const dirs: string[] = [];
    const walk = (dir: string) => {
      dirs.push(dir);
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else files.push(path);
      }
    };
    walk(store);
    const scanned = files.filter((f) => !f.endsWith('/secrets.json'));
    const inFiles = scanned.filter((f) => {
      const text = readFileSync(f, 'latin1');
      return NEEDLES.some((n) => text.includes(n));
    });
    expect(inFiles.map((f) => relative(store, f))).toEqual([]);
    expect(scanned.some((f) => f.includes('/journal/'))).toBe(true);
    expect(scanned.some((f) => f.endsWith('/state.json'))).toBe(true);

    // URLs: every request the proxy forwarded, and the TLS server's.
    const urls = [...proxy.log.map((e) => e.path), ...tls.paths];
    expect(urls.filter((u) => NEEDLES.some((n) => u.includes(n)))).toEqual([]);

    // Modes: directories 0700; files 0600, except staged artifact copies, which keep the mode
    // the copy gets (documented) inside 0700 directories.
    const mode = (p: string) => statSync(p).mode & 0o777;
    const badDirs = dirs
      .filter((d) => mode(d) !== 0o700)
      .map((d) => `${relative(store, d) || '.'} ${mode(d).toString(8)}`);
    const staged = (f: string) => /\/runs\/[^/]+\/artifacts\/[0-9a-f]{64}$/.test(f);
    const badFiles = files
      .filter((f) => !staged(f) && mode(f) !== 0o600)
      .map((f) => `${relative(store, f)} ${mode(f).toString(8)}`);
    expect(badDirs).toEqual([]);
    expect(badFiles).toEqual([]);
    expect(mode(join(store, 'secrets.json'))).toBe(0o600);
    // The search finds the secret where it is meant to be (so it would find a leak).
    expect(readFileSync(join(store, 'secrets.json'), 'utf8')).toContain(SECRET);
    expect(mode(join(store, 'trackers.json'))).toBe(0o600);

    await recordFigures('security', {
      outputsSearched: seen.length,
      storeFilesSearched: scanned.length,
      urlsSearched: urls.length,
      needles: NEEDLES.length,
      stagedArtifactModes: [...new Set(files.filter(staged).map((f) => mode(f).toString(8)))],
    });
  });

  it.runIf(process.env.TRACKSTACK_AUDIT === '1')(
    '`pnpm audit --prod` finds no advisory (TRACKSTACK_AUDIT=1: needs the registry advisory endpoint)',
    async () => {
      const result = await runNode(
        [resolve(ROOT, 'node_modules/pnpm/bin/pnpm.mjs'), 'audit', '--prod', '--json'],
        { cwd: ROOT, timeoutMs: 300_000 },
      );
      const report = JSON.parse(result.stdout) as {
        metadata?: { vulnerabilities?: Record<string, number> };
      };
      expect(report.metadata?.vulnerabilities, result.stderr).toBeDefined();
      await recordFigures('audit', report.metadata ?? {});
      expect(Object.values(report.metadata!.vulnerabilities!).reduce((a, b) => a + b, 0)).toBe(0);
    },
  );
});
