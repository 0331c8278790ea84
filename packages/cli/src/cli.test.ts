/**
 * The built CLI, run as a subprocess in temporary directories, as a user runs it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = resolve(import.meta.dirname, '..');
const coreDir = resolve(packageDir, '../core');
const cliPath = join(packageDir, 'dist/cli.js');
const fixtures = join(packageDir, 'src/__fixtures__');
const SECRET = 'sk-PLANTED-secret-7f3a9';

let home: string;
let work: string;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(
  args: string[],
  options: { cwd?: string; input?: string; env?: Record<string, string> } = {},
): Result {
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? work,
    input: options.input ?? '',
    encoding: 'utf8',
    env: { ...process.env, TRACKSTACK_HOME: home, TRACKSTACK_LOG: 'warn', ...options.env },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(args: string[], options?: Parameters<typeof cli>[1]): Result {
  const result = cli(args, options);
  if (result.code !== 0)
    throw new Error(`trackstack ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result;
}

beforeAll(async () => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: build first (pnpm build)`);
  const root = await mkdtemp(join(tmpdir(), 'trackstack-cli-'));
  home = join(root, 'home');
  work = join(root, 'work');
  await mkdir(work, { recursive: true });
  // A user's project: node_modules/@trackstack/core is the workspace's core, zod the copy core
  // uses (one per app: it is a peer dependency), the flavor a plain .ts file.
  await mkdir(join(work, 'node_modules/@trackstack'), { recursive: true });
  await symlink(coreDir, join(work, 'node_modules/@trackstack/core'), 'dir');
  await symlink(join(coreDir, 'node_modules/zod'), join(work, 'node_modules/zod'), 'dir');
  await writeFile(
    join(work, 'jsonl-flavor.ts'),
    await readFile(join(fixtures, 'jsonl-flavor.ts'), 'utf8'),
  );
  await writeFile(
    join(work, 'no-flavor.ts'),
    await readFile(join(fixtures, 'no-flavor.ts'), 'utf8'),
  );
  await writeFile(join(work, 'broken.mjs'), 'export const x = ;\n');
});

afterAll(async () => {
  await rm(join(home, '..'), { recursive: true, force: true });
});

/** Everything the CLI printed in this test file, to search for the planted secret. */
const printed: string[] = [];
function remember(result: Result): Result {
  printed.push(result.stdout, result.stderr);
  return result;
}

describe('basics', () => {
  it('prints its version, help with examples, and exits 2 on usage errors', () => {
    expect(ok(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(ok(['--help']).stdout).toContain('experiment-tracker');
    expect(ok(['experiment-tracker', 'register', '--help']).stdout).toContain('Examples:');
    const unknown = cli(['no-such-command']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command/);
    expect(cli(['experiment-tracker', 'register']).code).toBe(2);
  });

  it('init makes a project store that subdirectories find', async () => {
    const project = join(work, 'project');
    await mkdir(join(project, 'src/deep'), { recursive: true });
    const env = { TRACKSTACK_HOME: '' };
    expect(ok(['init'], { cwd: project, env }).stdout).toContain('Initialized');
    expect(ok(['init'], { cwd: project, env }).stdout).toContain('already');
    expect(await readFile(join(project, '.trackstack/.gitignore'), 'utf8')).toContain(
      'secrets.json',
    );
    ok(['experiment-tracker', 'register', 'here', '--flavor', 'local'], {
      cwd: join(project, 'src/deep'),
      env,
    });
    expect(existsSync(join(project, '.trackstack/trackers.json'))).toBe(true);
    expect(ok(['experiment-tracker', 'list', '--json'], { cwd: project, env }).stdout).toContain(
      '"here"',
    );
  });
});

describe('experiment-tracker flavor', () => {
  it('lists and describes the built-in local flavor', () => {
    const list = JSON.parse(ok(['experiment-tracker', 'flavor', 'list', '--json']).stdout);
    expect(list).toContainEqual(
      expect.objectContaining({ name: 'local', origin: 'built-in', status: 'ok' }),
    );
    expect(ok(['experiment-tracker', 'flavor', 'describe', 'local']).stdout).toContain('local');
  });

  it('registers a TypeScript flavor by path, without a build step, and describes its schema', () => {
    expect(ok(['experiment-tracker', 'flavor', 'register', './jsonl-flavor.ts']).stdout).toContain(
      "Registered flavor 'jsonl'",
    );
    const list = JSON.parse(ok(['experiment-tracker', 'flavor', 'list', '--json']).stdout);
    expect(list).toContainEqual(
      expect.objectContaining({ name: 'jsonl', origin: 'registered', status: 'ok' }),
    );
    const described = JSON.parse(
      ok(['experiment-tracker', 'flavor', 'describe', 'jsonl', '--json']).stdout,
    );
    expect(described.fields).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'path', required: true, secret: false }),
        expect.objectContaining({ name: 'max_lines', required: false, default: 1_000_000 }),
        expect.objectContaining({ name: 'api_key', required: false, secret: true }),
      ]),
    );
    expect(described.docsUrl).toBe('https://example.com/jsonl-flavor');
    const table = ok(['experiment-tracker', 'flavor', 'describe', 'jsonl']).stdout;
    expect(table).toContain('secret');
    expect(table).toContain('file the JSON lines are appended to');
  });

  it('lists a flavor whose source broke after registration as an error, beside the others', async () => {
    await writeFile(
      join(work, 'fragile.mjs'),
      await readFile(join(fixtures, 'fragile-flavor.mjs'), 'utf8'),
    );
    ok(['experiment-tracker', 'flavor', 'register', './fragile.mjs']);
    await writeFile(join(work, 'fragile.mjs'), 'export const broken = ;\n');
    const list = JSON.parse(ok(['experiment-tracker', 'flavor', 'list', '--json']).stdout);
    expect(list).toContainEqual(expect.objectContaining({ name: 'fragile', status: 'error' }));
    expect(list).toContainEqual(expect.objectContaining({ name: 'jsonl', status: 'ok' }));
    expect(list).toContainEqual(expect.objectContaining({ name: 'local', status: 'ok' }));
    ok(['experiment-tracker', 'flavor', 'delete', 'fragile']);
  });

  it('refuses a duplicate name, a missing file, a file with no flavor, a broken file, an unknown flavor', () => {
    const duplicate = cli(['experiment-tracker', 'flavor', 'register', './jsonl-flavor.ts']);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain("a flavor named 'jsonl' already exists");
    const missing = cli(['experiment-tracker', 'flavor', 'register', './nope.ts']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('FLAVOR_LOAD_FAILED');
    const none = cli(['experiment-tracker', 'flavor', 'register', './no-flavor.ts']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('exports no flavor');
    expect(none.stderr).toContain('INVALID_FLAVOR');
    const broken = cli(['experiment-tracker', 'flavor', 'register', './broken.mjs']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('FLAVOR_LOAD_FAILED');
    expect(broken.stderr).not.toMatch(/\n\s+at /);
    const unknown = cli(['experiment-tracker', 'flavor', 'describe', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('UNKNOWN_FLAVOR');
    expect(unknown.stderr).toContain('hint:');
  });
});

describe('experiment-tracker', () => {
  let sink: string;
  beforeAll(() => {
    sink = join(work, 'events.jsonl');
  });

  it('registers with values parsed by the schema, secrets by reference', () => {
    remember(ok(['secret', 'create', 'jsonl'], { input: `${SECRET}\n` }));
    const registered = remember(
      ok([
        'experiment-tracker',
        'register',
        'sink',
        '--flavor',
        'jsonl',
        `--path=${sink}`,
        '--max-lines=500',
        '--api_key={{secret.jsonl.value}}',
        '--label',
        'team=ml',
      ]),
    );
    expect(registered.stdout).toContain("Registered tracker 'sink'");
    const described = JSON.parse(
      remember(ok(['experiment-tracker', 'describe', 'sink', '--json'])).stdout,
    );
    expect(described).toMatchObject({
      name: 'sink',
      flavor: 'jsonl',
      config: { path: sink, max_lines: 500, api_key: '{{secret.jsonl.value}}' },
      labels: { team: 'ml' },
    });
  });

  it('redacts a secret given as plain text, and warns', () => {
    const plain = remember(
      ok([
        'experiment-tracker',
        'register',
        'plain',
        '--flavor',
        'jsonl',
        `--path=${sink}`,
        `--api_key=${SECRET}`,
      ]),
    );
    expect(plain.stderr).toContain('secret given as plain text');
    expect(
      JSON.parse(remember(ok(['experiment-tracker', 'describe', 'plain', '--json'])).stdout).config
        .api_key,
    ).toBe('********');
    expect(remember(ok(['experiment-tracker', 'list'])).stdout).not.toContain(SECRET);
    ok(['experiment-tracker', 'delete', 'plain']);
  });

  it('refuses bad values, a missing required field, an unknown field, flavor or tracker', () => {
    const bad = cli([
      'experiment-tracker',
      'register',
      'x',
      '--flavor',
      'jsonl',
      `--path=${sink}`,
      '--max_lines=many',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('INVALID_CONFIG');
    expect(bad.stderr).toContain('max_lines');
    const missing = cli(['experiment-tracker', 'register', 'x', '--flavor', 'jsonl']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/path/);
    const unknownField = cli([
      'experiment-tracker',
      'register',
      'x',
      '--flavor',
      'jsonl',
      `--path=${sink}`,
      '--colour=red',
    ]);
    expect(unknownField.code).toBe(2);
    expect(unknownField.stderr).toContain("no config field 'colour'");
    expect(cli(['experiment-tracker', 'register', 'x', '--flavor', 'nope']).stderr).toContain(
      'UNKNOWN_FLAVOR',
    );
    const unknownTracker = cli(['experiment-tracker', 'describe', 'ghost']);
    expect(unknownTracker.code).toBe(1);
    expect(unknownTracker.stderr).toContain('UNKNOWN_TRACKER');
    expect(cli(['experiment-tracker', 'register', 'sink', '--flavor', 'local']).stderr).toContain(
      'already exists',
    );
  });

  it('updates, removes attributes, renames, sets, gets, verifies and deletes', async () => {
    ok(['experiment-tracker', 'update', 'sink', '--max_lines=900', '--label', 'stage=dev']);
    expect(
      JSON.parse(ok(['experiment-tracker', 'describe', 'sink', '--json']).stdout),
    ).toMatchObject({ config: { max_lines: 900 }, labels: { team: 'ml', stage: 'dev' } });
    ok(['experiment-tracker', 'remove-attribute', 'sink', 'max_lines', 'label:stage']);
    const after = JSON.parse(ok(['experiment-tracker', 'describe', 'sink', '--json']).stdout);
    expect(after.config.max_lines).toBeUndefined();
    expect(after.labels).toEqual({ team: 'ml' });
    expect(cli(['experiment-tracker', 'remove-attribute', 'sink', 'path']).stderr).toContain(
      'INVALID_CONFIG',
    );
    ok(['experiment-tracker', 'register', 'scratch', '--flavor', 'local']);
    ok(['experiment-tracker', 'rename', 'scratch', 'scratchpad']);
    ok(['experiment-tracker', 'set', 'sink']);
    expect(ok(['experiment-tracker', 'get']).stdout.trim()).toBe('sink');
    ok(['experiment-tracker', 'set', 'scratchpad', '--add']);
    expect(JSON.parse(ok(['experiment-tracker', 'get', '--json']).stdout).active).toEqual([
      'sink',
      'scratchpad',
    ]);
    expect(ok(['experiment-tracker', 'verify', 'sink']).stdout).toContain('reachable');
    expect(existsSync(sink)).toBe(true);
    ok(['experiment-tracker', 'delete', 'scratchpad']);
    expect(JSON.parse(ok(['experiment-tracker', 'get', '--json']).stdout).active).toEqual(['sink']);
  });

  it('never loses an update when processes write the store at once', async () => {
    const runs = Array.from(
      { length: 12 },
      (_, i) =>
        new Promise<number | null>((done) => {
          const child = spawn(
            process.execPath,
            [cliPath, 'experiment-tracker', 'register', `parallel-${i}`, '--flavor', 'local'],
            {
              cwd: work,
              env: { ...process.env, TRACKSTACK_HOME: home },
              stdio: 'ignore',
            },
          );
          child.on('exit', done);
        }),
    );
    expect(await Promise.all(runs)).toEqual(Array(12).fill(0));
    const names = (
      JSON.parse(ok(['experiment-tracker', 'list', '--json']).stdout) as { name: string }[]
    ).map((t) => t.name);
    for (let i = 0; i < 12; i++) expect(names).toContain(`parallel-${i}`);
  });

  it('names a broken store file, with no stack trace and no reset', async () => {
    const other = join(work, 'broken-home');
    await mkdir(other, { recursive: true });
    await writeFile(join(other, 'trackers.json'), '{"version": 1, "trackers": ');
    const result = cli(['experiment-tracker', 'list'], { env: { TRACKSTACK_HOME: other } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(join(other, 'trackers.json'));
    expect(result.stderr).toContain('CORRUPT_FILE');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await readFile(join(other, 'trackers.json'), 'utf8')).toBe(
      '{"version": 1, "trackers": ',
    );
    expect(
      cli(['experiment-tracker', 'list', '--debug'], { env: { TRACKSTACK_HOME: other } }).stderr,
    ).toMatch(/\n\s+at /);
  });
});

describe('secret', () => {
  it('keeps values out of every output and in a 0600 file', async () => {
    remember(ok(['secret', 'create', 'multi', `--token=${SECRET}`, '--user=me']));
    const list = remember(ok(['secret', 'list', '--json']));
    expect(JSON.parse(list.stdout)).toContainEqual({ name: 'multi', keys: ['token', 'user'] });
    expect((await stat(join(home, 'secrets.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'trackers.json'))).mode & 0o777).toBe(0o600);
    ok(['secret', 'delete', 'multi']);
    expect(cli(['secret', 'delete', 'multi']).code).toBe(1);
    for (const text of printed) expect(text).not.toContain(SECRET);
  });
});

describe('run, runs and sync', () => {
  const script = (body: string) =>
    `import { getTracker } from '@trackstack/core';
const tracker = await getTracker();
const run = await tracker.startRun();
${body}
await run.end();`;

  it('wraps a command: the child attaches, its output is kept, the status follows the exit code', async () => {
    await writeFile(
      join(work, 'train.mjs'),
      script(`run.logParams({ lr: 0.1 });
for (let epoch = 0; epoch < 5; epoch++) run.logMetric('loss', 1 / (epoch + 1), { step: epoch });
console.log('epoch done, attached to', run.uid, run.attached);
console.error('a warning\\nprogress 50%\\rprogress 100%');`),
    );
    const result = ok([
      'run',
      '--tracker',
      'sink',
      '--experiment',
      'wrapped',
      '--',
      process.execPath,
      'train.mjs',
    ]);
    const uid = /run (\S+) \(/.exec(result.stderr)?.[1];
    expect(uid).toBeDefined();
    expect(result.stdout).toContain(`attached to ${uid} true`);
    const shown = JSON.parse(ok(['runs', 'show', uid!, '--json']).stdout);
    expect(shown.status).toBe('FINISHED');
    expect(shown.experiment).toBe('wrapped');
    expect(shown.params.lr).toBe('0.1');
    expect(shown.artifacts.map((a: { path: string }) => a.path)).toContain('output.log');
    // The child's output is also the run's console output, line by line, by stream.
    const { LocalRuns } = await import('@trackstack/core');
    const lines = await new LocalRuns(home).consoleOutput(uid!);
    const byStream = (stream: string) =>
      lines.filter((l) => l.stream === stream).map((l) => l.text);
    expect(byStream('stdout')).toEqual([`epoch done, attached to ${uid} true`]);
    expect(byStream('stderr')).toEqual(['a warning', 'progress 100%']);
    const events = (await readFile(join(work, 'events.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const mine = events.filter((e) => e.uid === uid || e.run === uid);
    expect(mine.filter((e) => e.event === 'create')).toHaveLength(1);
    expect(mine.flatMap((e) => e.metrics ?? [])).toHaveLength(5);
    expect(mine.at(-1)).toMatchObject({ event: 'finish', status: 'FINISHED' });

    await writeFile(join(work, 'fail.mjs'), script('process.exitCode = 7;'));
    const failed = cli(['run', '--', process.execPath, 'fail.mjs']);
    expect(failed.code).toBe(7);
    const failedUid = /run (\S+) \(/.exec(failed.stderr)?.[1];
    expect(JSON.parse(ok(['runs', 'show', failedUid!, '--json']).stdout).status).toBe('FAILED');
  });

  it("records the wrapped command as the run's source, its secrets hidden, and shows it", async () => {
    await writeFile(join(work, 'plain.mjs'), script(''));
    const result = remember(
      ok(['run', '--', process.execPath, 'plain.mjs', `--api-key=${SECRET}`]),
    );
    const uid = /run (\S+) \(/.exec(result.stderr)?.[1];
    const shown = JSON.parse(remember(ok(['runs', 'show', uid!, '--json'])).stdout);
    expect(shown.source.entryPoint).toBe(join(work, 'plain.mjs'));
    expect(shown.source.command).toEqual([process.execPath, 'plain.mjs', '--api-key=***']);
    expect(shown.tags.command).toBe(`${process.execPath} plain.mjs --api-key=***`);
    const human = remember(ok(['runs', 'show', uid!, '--no-chart'])).stdout;
    expect(human).toContain('Source');
    expect(human).toContain(join(work, 'plain.mjs'));
    for (const text of printed) expect(text).not.toContain(SECRET);
  });

  it('shows system metrics and dataset inputs in their own sections', async () => {
    await writeFile(
      join(work, 'sampled.mjs'),
      `import { getTracker } from '@trackstack/core';
const run = await (await getTracker()).startRun({ systemMetrics: { intervalS: 0.2 } });
run.logMetric('loss', 0.5);
await run.logInput({ name: 'iris', source: 's3://bucket/iris.csv', context: 'training' });
await new Promise((resolve) => setTimeout(resolve, 700));
await run.end();
console.log(run.uid);`,
    );
    const script = spawnSync(process.execPath, ['sampled.mjs'], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, TRACKSTACK_HOME: home },
      timeout: 60_000,
    });
    expect(script.status, script.stderr).toBe(0);
    const uid = script.stdout.trim();
    const human = ok(['runs', 'show', uid, '--no-chart']).stdout;
    const system = human.indexOf('System metrics');
    expect(system).toBeGreaterThan(human.indexOf('Metrics'));
    expect(human.slice(system)).toContain('system/cpu_utilization_percentage');
    expect(human.slice(0, system)).toContain('loss');
    const inputs = human.slice(human.indexOf('Inputs'));
    expect(inputs).toMatch(/iris\s.*training\s.*s3:\/\/bucket\/iris\.csv/);
  });

  it('lets several worker processes of the command log to the same run', async () => {
    await writeFile(
      join(work, 'worker.mjs'),
      script(
        "for (let i = 0; i < 50; i++) run.logMetric('worker/' + process.argv[2], i, { step: i });",
      ),
    );
    await writeFile(
      join(work, 'launcher.mjs'),
      `import { spawnSync } from 'node:child_process';
for (const rank of ['0', '1', '2']) {
  const result = spawnSync(process.execPath, ['worker.mjs', rank], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}`,
    );
    const result = ok(['run', '--tracker', 'sink', '--', process.execPath, 'launcher.mjs']);
    const uid = /run (\S+) \(/.exec(result.stderr)![1]!;
    const shown = JSON.parse(ok(['runs', 'show', uid, '--json']).stdout);
    expect(Object.keys(shown.summaries).sort()).toEqual(['worker/0', 'worker/1', 'worker/2']);
    for (const summary of Object.values(shown.summaries) as { count: number }[])
      expect(summary.count).toBe(50);
    expect(shown.status).toBe('FINISHED');
    const events = (await readFile(join(work, 'events.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const mine = events.filter((e) => e.uid === uid || e.run === uid);
    expect(mine.filter((e) => e.event === 'create')).toHaveLength(1);
    expect(mine.flatMap((e) => e.metrics ?? [])).toHaveLength(150);
    expect(mine.filter((e) => e.event === 'finish')).toEqual([
      expect.objectContaining({ status: 'FINISHED' }),
    ]);
  });

  it('syncs a local-only run to a tracker, once', async () => {
    await writeFile(join(work, 'local.mjs'), script("run.logMetric('acc', 0.5, { step: 1 });"));
    ok(['experiment-tracker', 'unset']);
    const result = ok(['run', '--', process.execPath, 'local.mjs']);
    const uid = /run (\S+) \(/.exec(result.stderr)![1]!;
    // A run logged locally only has no tracker to go to unless one is named.
    expect(cli(['sync', uid]).code).toBe(2);
    const synced = JSON.parse(ok(['sync', uid, '--to', 'sink', '--json']).stdout);
    expect(synced[0]).toMatchObject({ destination: 'sink', pendingEvents: 0, finished: true });
    expect(synced[0].delivered).toBeGreaterThan(0);
    const again = JSON.parse(ok(['sync', uid, '--to', 'sink', '--json']).stdout);
    expect(again[0]).toMatchObject({ delivered: 0, total: 0 });
    expect(cli(['sync']).code).toBe(2);
    expect(cli(['sync', 'no-such-run', '--to', 'sink']).stderr).toContain('RUN_NOT_FOUND');
    // Now the run knows the tracker it went to: a plain sync finds it.
    expect(JSON.parse(ok(['sync', uid, '--json']).stdout)[0]).toMatchObject({
      destination: 'sink',
      delivered: 0,
    });
  });
});

describe('help', () => {
  it('has examples on every command', async () => {
    const { buildProgram } = await import('./main.js');
    const { program } = buildProgram();
    type Cmd = typeof program;
    const leaves: { path: string; command: Cmd }[] = [];
    const walk = (command: Cmd, path: string[]) => {
      if (command.commands.length === 0) leaves.push({ path: path.join(' '), command });
      for (const sub of command.commands) walk(sub as Cmd, [...path, sub.name()]);
    };
    walk(program, []);
    expect(leaves.length).toBeGreaterThan(20);
    for (const { path, command } of leaves) {
      // In process: the help text, and the "after" text addHelpText adds, go through writeOut.
      let out = '';
      command.configureOutput({
        writeOut: (text) => (out += text),
        writeErr: (text) => (out += text),
      });
      command.outputHelp();
      expect(out, path).toMatch(/Examples?:/);
    }
  });
});
