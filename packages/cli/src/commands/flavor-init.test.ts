/**
 * `trackstack experiment-tracker flavor init`, and the worked example of
 * docs/custom-flavor.md end to end, with the built CLI as a user runs it:
 * scaffold a flavor -> typecheck, build and test it as its author would ->
 * register it by path -> configure a tracker of it against the package's own
 * server -> log a wrapped run -> read the run back from the server and from
 * the store.
 *
 * Offline: the scaffold's node_modules are links to this repository's copies
 * (core itself, zod, undici, and the root's typescript, tsup, vitest and
 * @types/node), which is what `npm install` gives once core is published.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cliDir = resolve(import.meta.dirname, '../..');
const repoDir = resolve(cliDir, '../..');
const coreDir = join(repoDir, 'packages/core');
const cliPath = join(cliDir, 'dist/cli.js');
const bundlePath = join(cliDir, 'dist/templates/flavor.json');
const TOKEN = 'tok-worked-example-41c7';

let root: string;
let home: string;
let work: string;
const children: ChildProcess[] = [];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without the outer vitest's variables, so a nested vitest starts clean. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('VITEST') && key !== 'NODE_ENV' && key !== 'TEST') env[key] = value;
  }
  return { ...env, TRACKSTACK_HOME: home, TRACKSTACK_LOG: 'warn', ...extra };
}

function run(
  command: string[],
  options: { cwd?: string; input?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Result {
  const result = spawnSync(process.execPath, command, {
    cwd: options.cwd ?? work,
    input: options.input ?? '',
    encoding: 'utf8',
    env: cleanEnv(options.env),
    timeout: options.timeoutMs ?? 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const cli = (args: string[], options?: Parameters<typeof run>[1]) =>
  run([cliPath, ...args], options);

function ok(result: Result, what: string): Result {
  if (result.code !== 0) {
    throw new Error(`${what} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

/** A package's bin script, from its package.json. */
function binOf(packageDir: string, name: string): string {
  const { bin } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    bin: string | Record<string, string>;
  };
  return join(packageDir, typeof bin === 'string' ? bin : bin[name]!);
}

async function link(target: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await symlink(realpathSync(target), path, 'dir');
}

async function allFiles(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory()
        ? allFiles(join(dir, entry.name), `${prefix}${entry.name}/`)
        : [`${prefix}${entry.name}`],
    ),
  );
  return nested.flat().sort();
}

beforeAll(async () => {
  for (const built of [cliPath, bundlePath]) {
    if (!existsSync(built)) throw new Error(`${built} is missing: build core first (pnpm build)`);
  }
  root = await mkdtemp(join(tmpdir(), 'trackstack-flavor-init-'));
  home = join(root, 'home');
  work = join(root, 'work');
  await mkdir(work, { recursive: true });
});

afterAll(async () => {
  for (const child of children) child.kill();
  await rm(root, { recursive: true, force: true });
});

describe('flavor init', () => {
  it('refuses bad and built-in names, bad package names and a directory in use, writing nothing', async () => {
    for (const [args, message] of [
      [['Acme'], /not a flavor name/],
      [['1acme'], /not a flavor name/],
      [['a'.repeat(65)], /not a flavor name/],
      [['local'], /built-in flavor/],
      [['acme', '--package', 'Not Valid'], /not a valid npm package name/],
    ] as const) {
      const result = cli(['experiment-tracker', 'flavor', 'init', ...args]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    await mkdir(join(work, 'taken'));
    await writeFile(join(work, 'taken', 'keep.txt'), 'mine');
    const taken = cli(['experiment-tracker', 'flavor', 'init', 'acme', '--dir', 'taken']);
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain('is not empty');
    expect(await readdir(join(work, 'taken'))).toEqual(['keep.txt']);
    expect(await readdir(work)).toEqual(['taken']);
  });

  it('takes --dir and --package, and says what it made with --json', async () => {
    const result = ok(
      cli([
        'experiment-tracker',
        'flavor',
        'init',
        'my_tracker',
        '--dir',
        'elsewhere/mine',
        '--package',
        '@acme/trackstack-flavor',
        '--json',
      ]),
      'flavor init --json',
    );
    const made = JSON.parse(result.stdout);
    expect(made).toMatchObject({
      dir: join(work, 'elsewhere/mine'),
      package: '@acme/trackstack-flavor',
      flavor: 'my_tracker',
      className: 'MyTrackerExperimentTracker',
      from: expect.stringMatching(/^@trackstack\/tracker-template@/),
    });
    expect(made.files).toContain('src/my_tracker-tracker.ts');
    const manifest = JSON.parse(await readFile(join(made.dir, 'package.json'), 'utf8'));
    expect(manifest.name).toBe('@acme/trackstack-flavor');
    expect(manifest.trackstack.flavors).toEqual(['./dist/index.js#MyTrackerExperimentTracker']);
    expect(await readFile(join(made.dir, 'src/my_tracker-server-cli.ts'), 'utf8')).toContain(
      'TRACKSTACK_MY_TRACKER_SERVER_TOKEN',
    );

    // A name that itself holds the word is renamed once, not again.
    const again = JSON.parse(
      ok(cli(['experiment-tracker', 'flavor', 'init', 'new-template', '--json']), 'init').stdout,
    );
    const renamed = JSON.parse(await readFile(join(again.dir, 'package.json'), 'utf8'));
    expect(renamed.name).toBe('trackstack-flavor-new-template');
    expect(renamed.trackstack.flavors).toEqual(['./dist/index.js#NewTemplateExperimentTracker']);
    const source = await readFile(join(again.dir, 'src/new-template-tracker.ts'), 'utf8');
    for (const expected of [
      "name: 'new-template'",
      'class NewTemplateExperimentTracker',
      'NEW_TEMPLATE_LIMITS',
      'newTemplateConfigSchema',
      'new_template_run_id',
    ]) {
      expect(source).toContain(expected);
    }
  });
});

describe('the worked example: a flavor from scaffold to a logged run', () => {
  it('scaffolds, builds, tests, registers, configures, logs a run and reads it back', async () => {
    // 1. Scaffold.
    const init = ok(cli(['experiment-tracker', 'flavor', 'init', 'acme-ml']), 'flavor init');
    const pkg = join(work, 'trackstack-flavor-acme-ml');
    expect(init.stdout).toContain(`Created trackstack-flavor-acme-ml in ${pkg}`);
    expect(init.stdout).toContain('Next steps:');

    const files = await allFiles(pkg);
    expect(files).toEqual(
      expect.arrayContaining([
        '.gitignore',
        'README.md',
        'package.json',
        'tsconfig.json',
        'tsup.config.ts',
        'vitest.config.ts',
        'src/index.ts',
        'src/acme-ml-config.ts',
        'src/acme-ml-client.ts',
        'src/acme-ml-error.ts',
        'src/acme-ml-tracker.ts',
        'src/acme-ml-tracker.test.ts',
        'src/acme-ml-server.ts',
        'src/acme-ml-server-cli.ts',
      ]),
    );
    expect(files.filter((f) => /node_modules|dist\/|changeset|CHANGELOG/i.test(f))).toEqual([]);
    for (const file of files) {
      const text = await readFile(join(pkg, file), 'utf8');
      // Every name changed, and nothing points back into this repository.
      expect(`${file}\n${text}`, file).not.toMatch(/template/i);
      expect(text, file).not.toMatch(/workspace:|["'`]\.\.\/\.\.\//);
    }
    const tracker = await readFile(join(pkg, 'src/acme-ml-tracker.ts'), 'utf8');
    expect(tracker).toContain('export class AcmeMlExperimentTracker');
    expect(tracker).toContain("name: 'acme-ml'");
    expect(tracker).toContain('ACME_ML_LIMITS');

    const manifest = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8'));
    const coreVersion = JSON.parse(await readFile(join(coreDir, 'package.json'), 'utf8')).version;
    const rootDev = JSON.parse(
      await readFile(join(repoDir, 'package.json'), 'utf8'),
    ).devDependencies;
    expect(manifest).toMatchObject({
      name: 'trackstack-flavor-acme-ml',
      version: '0.1.0',
      type: 'module',
      bin: { 'trackstack-acme-ml-server': './dist/acme-ml-server-cli.js' },
      trackstack: { flavors: ['./dist/index.js#AcmeMlExperimentTracker'] },
      scripts: { build: 'tsup', typecheck: 'tsc --noEmit', test: 'vitest run' },
    });
    expect(manifest.peerDependencies['@trackstack/core']).toBe(`^${coreVersion}`);
    expect(manifest.devDependencies['@trackstack/core']).toBe(`^${coreVersion}`);
    const cliVersion = JSON.parse(await readFile(join(cliDir, 'package.json'), 'utf8')).version;
    expect(manifest.devDependencies['@trackstack/cli']).toBe(`^${cliVersion}`);
    expect(manifest.dependencies['@trackstack/core']).toBeUndefined();
    for (const tool of ['typescript', 'tsup', 'vitest', '@types/node']) {
      expect(manifest.devDependencies[tool], tool).toBe(rootDev[tool]);
    }
    const tsconfig = JSON.parse(await readFile(join(pkg, 'tsconfig.json'), 'utf8'));
    expect(tsconfig.extends).toBeUndefined();
    expect(tsconfig.compilerOptions).toMatchObject({
      strict: true,
      noUncheckedIndexedAccess: true,
    });

    // 2. What `npm install` gives, from this repository's copies.
    const modules = join(pkg, 'node_modules');
    await link(coreDir, join(modules, '@trackstack/core'));
    await link(join(coreDir, 'node_modules/zod'), join(modules, 'zod'));
    await link(
      join(repoDir, 'packages/tracker-template/node_modules/undici'),
      join(modules, 'undici'),
    );
    for (const tool of ['typescript', 'tsup', 'vitest', '@types/node']) {
      await link(join(repoDir, 'node_modules', tool), join(modules, tool));
    }

    // 3. Typecheck, build and test it, as its author would (npm run typecheck / build / test).
    const long = { cwd: pkg, timeoutMs: 240_000 };
    ok(run([binOf(join(modules, 'typescript'), 'tsc'), '--noEmit'], long), 'tsc --noEmit');
    ok(run([binOf(join(modules, 'tsup'), 'tsup')], long), 'tsup');
    expect(existsSync(join(pkg, 'dist/index.js'))).toBe(true);
    expect(existsSync(join(pkg, 'dist/acme-ml-server-cli.js'))).toBe(true);
    const report = join(root, 'scaffold-tests.json');
    ok(
      run(
        [
          binOf(join(modules, 'vitest'), 'vitest'),
          'run',
          '--reporter=json',
          `--outputFile=${report}`,
        ],
        long,
      ),
      'vitest run',
    );
    const results = JSON.parse(await readFile(report, 'utf8')) as {
      numFailedTests: number;
      testResults: { assertionResults: { fullName: string; status: string }[] }[];
    };
    expect(results.numFailedTests).toBe(0);
    const conformance = results.testResults
      .flatMap((file) => file.assertionResults)
      .filter((test) => test.fullName.startsWith('flavor conformance: acme-ml'));
    // Every test of the kit ran (the flavor has nested runs, artifacts and resume) and passed.
    expect(conformance.map((test) => test.status)).toEqual(Array(14).fill('passed'));

    // What `npm publish` would send: the build, the README, no sources or tests.
    const packed = spawnSync('npm', ['pack', '--dry-run', '--json'], {
      cwd: pkg,
      encoding: 'utf8',
      env: cleanEnv(),
    });
    expect(packed.status, packed.stderr).toBe(0);
    const published = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0]!.files.map(
      (file) => file.path,
    );
    expect(published).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts']),
    );
    expect(published.filter((path) => path.startsWith('src/') || path.includes('.test.'))).toEqual(
      [],
    );

    // 4. Its own server, with a token and a file.
    const runsFile = join(root, 'runs.jsonl');
    const server = spawn(
      process.execPath,
      [join(pkg, 'dist/acme-ml-server-cli.js'), '--port', '0', '--file', runsFile],
      { cwd: pkg, env: cleanEnv({ TRACKSTACK_ACME_ML_SERVER_TOKEN: TOKEN }), stdio: 'pipe' },
    );
    children.push(server);
    const firstLine = await new Promise<string>((resolveLine, reject) => {
      server.once('error', reject);
      server.once('exit', (code) => reject(new Error(`the server exited ${code}`)));
      createInterface({ input: server.stdout! }).once('line', resolveLine);
    });
    const url = /listening on (http:\/\/\S+)/.exec(firstLine)?.[1];
    expect(url, firstLine).toBeDefined();
    expect(firstLine).toContain('token required');

    // 5. Register the flavor by path, then a tracker of it (the token as a secret), and verify.
    const registered = ok(
      cli(['experiment-tracker', 'flavor', 'register', join(pkg, 'dist/index.js')]),
      'flavor register',
    );
    expect(registered.stdout).toContain("Registered flavor 'acme-ml'");
    const listed = JSON.parse(
      ok(cli(['experiment-tracker', 'flavor', 'list', '--json']), 'flavor list').stdout,
    );
    expect(listed).toContainEqual(
      expect.objectContaining({ name: 'acme-ml', origin: 'registered', status: 'ok' }),
    );
    const described = JSON.parse(
      ok(cli(['experiment-tracker', 'flavor', 'describe', 'acme-ml', '--json']), 'describe').stdout,
    );
    expect(
      described.fields
        .filter((f: { secret: boolean }) => f.secret)
        .map((f: { name: string }) => f.name),
    ).toEqual(['api_token']);
    // The TypeScript source registers too, with no build step (another store).
    const fromSource = cli(
      ['experiment-tracker', 'flavor', 'register', join(pkg, 'src/index.ts')],
      {
        env: { TRACKSTACK_HOME: join(root, 'home-ts') },
      },
    );
    expect(fromSource.code, fromSource.stderr).toBe(0);
    expect(fromSource.stdout).toContain("Registered flavor 'acme-ml'");

    ok(cli(['secret', 'create', 'acme-ml-server'], { input: TOKEN }), 'secret create');
    ok(
      cli([
        'experiment-tracker',
        'register',
        'mine',
        '--flavor',
        'acme-ml',
        `--endpoint_url=${url}`,
        '--api_token={{secret.acme-ml-server.value}}',
        '--set',
      ]),
      'experiment-tracker register',
    );
    expect(ok(cli(['experiment-tracker', 'verify']), 'verify').stdout).toContain(
      "Tracker 'mine' (acme-ml) is reachable",
    );

    // 6. Log a run: any program that calls getTracker(), wrapped by `trackstack run`.
    await writeFile(
      join(pkg, 'train.mjs'),
      `import { getTracker } from '@trackstack/core';
const run = await (await getTracker()).startRun();
run.logParams({ lr: 0.01, layers: [64, 32] });
for (let epoch = 0; epoch < 5; epoch++) run.logMetric('loss', 1 / (epoch + 1), { step: epoch });
console.log('trained');
await run.end();
`,
    );
    const wrapped = cli(
      [
        'run',
        '--experiment',
        'worked-example',
        '--name',
        'first',
        '--',
        process.execPath,
        'train.mjs',
      ],
      { cwd: pkg },
    );
    expect(wrapped.code, wrapped.stderr).toBe(0);
    expect(wrapped.stdout).toContain('trained');
    const [, uid, runUrl] = /trackstack: run (\S+) \((\S+)\)/.exec(wrapped.stderr) ?? [];
    expect(uid, wrapped.stderr).toBeDefined();

    // 7. Read it back from the server...
    const get = async (path: string) => {
      const response = await fetch(`${url}${path}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(response.status, path).toBe(200);
      return response.json() as Promise<any>;
    };
    const { runs } = await get(`/runs?uid=${uid}`);
    expect(runs).toHaveLength(1);
    expect(runUrl).toBe(`${url}/runs/${runs[0].id}`);
    const { run: stored } = await get(`/runs/${runs[0].id}`);
    expect(stored).toMatchObject({
      uid,
      experiment: 'worked-example',
      name: 'first',
      status: 'FINISHED',
      params: { lr: '0.01', layers: '[64,32]' },
      tags: { 'trackstack.uid': uid, command: `${process.execPath} train.mjs` },
    });
    expect(stored.metrics.map((m: { step: number }) => m.step).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(stored.artifacts.map((a: { path: string }) => a.path)).toEqual(['output.log']);
    expect(await readFile(runsFile, 'utf8')).toContain(uid);

    // ...and from the store.
    const shown = JSON.parse(ok(cli(['runs', 'show', uid!, '--json']), 'runs show').stdout);
    expect(shown).toMatchObject({
      uid,
      status: 'FINISHED',
      experiment: 'worked-example',
      params: { lr: '0.01' },
      destinations: ['mine'],
    });
    expect(shown.summaries.loss).toMatchObject({
      count: 5,
      first: { step: 0 },
      latest: { step: 4 },
    });
    const exported = ok(cli(['runs', 'export', uid!]), 'runs export')
      .stdout.trim()
      .split('\n');
    expect(exported.map((line) => (JSON.parse(line) as { step: number }).step)).toEqual([
      0, 1, 2, 3, 4,
    ]);
  }, 400_000);
});
