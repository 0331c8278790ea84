/**
 * Benchmark 5, start-up: wall time from spawn to exit of a fresh node process,
 * median of `--reps` (default 20) after one unmeasured warm-up of each, the
 * commands interleaved so that drift hits them alike.
 *
 * - `node -e 0`: node's own start-up, the baseline.
 * - `trackstack --version`: node <@trackstack/cli>/dist/cli.js --version (the `bin`).
 *   Target: < 150 ms, wall time of the whole process.
 * - `import('@trackstack/core')`: a fresh ES module process whose only work is
 *   that import; it also prints how long the import() call itself took
 *   (performance.now() around it), which is what the < 50 ms target is judged on.
 * - `import('zod')` alone, and `import('@trackstack/core')` followed by the
 *   first config parse (the local flavor's), which is when core loads zod:
 *   what a program that uses a tracker pays before its first run. Not judged.
 *
 * Usage: node startup.mjs [--reps 20]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  BENCH_DIR,
  machineInfo,
  machineLine,
  options,
  printTable,
  summarize,
  verdict,
  warnIfBusy,
  writeResults,
} from './lib.mjs';

const opts = options({ reps: 20 });

const require = createRequire(join(BENCH_DIR, 'package.json'));
const cliPackageJson = require.resolve('@trackstack/cli/package.json');
const cli = join(
  dirname(cliPackageJson),
  JSON.parse(readFileSync(cliPackageJson, 'utf8')).bin.trackstack,
);

const IMPORT_SCRIPT =
  "const t0 = performance.now(); await import('@trackstack/core'); const t1 = performance.now(); console.log(JSON.stringify({ importMs: t1 - t0, sinceStartMs: t1 }));";

const timedImport = (specifier) =>
  `const t0 = performance.now(); await import('${specifier}'); const t1 = performance.now(); console.log(JSON.stringify({ importMs: t1 - t0, sinceStartMs: t1 }));`;

const FIRST_CONFIG_SCRIPT =
  "const t0 = performance.now(); const core = await import('@trackstack/core'); core.parseConfig(core.LocalExperimentTracker.FLAVOR, {}); const t1 = performance.now(); console.log(JSON.stringify({ importMs: t1 - t0, sinceStartMs: t1 }));";

const commands = [
  { id: 'node', label: 'node -e 0 (baseline)', args: ['-e', '0'] },
  { id: 'version', label: 'trackstack --version', args: [cli, '--version'], target: 150 },
  {
    id: 'import',
    label: "import('@trackstack/core')",
    args: ['--input-type=module', '-e', IMPORT_SCRIPT],
    target: 50,
  },
  {
    id: 'zod',
    label: "import('zod') alone",
    args: ['--input-type=module', '-e', timedImport('zod')],
  },
  {
    id: 'firstConfig',
    label: "import('@trackstack/core') + first config parse (loads zod)",
    args: ['--input-type=module', '-e', FIRST_CONFIG_SCRIPT],
  },
];
const IN_PROCESS = new Set(['import', 'zod', 'firstConfig']);

function timeOnce(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: BENCH_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      const stdout = Buffer.concat(out).toString('utf8').trim();
      if (code !== 0) {
        reject(new Error(`node ${args.join(' ')} exited ${code}: ${Buffer.concat(err)}`));
        return;
      }
      resolve({ wallMs, stdout });
    });
  });
}

const machine = await machineInfo();
process.stdout.write(`start-up: ${machineLine(machine)}\n`);
const busyBefore = await warnIfBusy('the start-up benchmark');

const samples = Object.fromEntries(commands.map((c) => [c.id, []]));
const inProcess = Object.fromEntries([...IN_PROCESS].map((id) => [id, []]));
const importMs = inProcess.import;
let version;
for (const command of commands) await timeOnce(command.args); // warm the file cache
for (let rep = 0; rep < opts.reps; rep++) {
  for (const command of commands) {
    const { wallMs, stdout } = await timeOnce(command.args);
    samples[command.id].push(wallMs);
    if (IN_PROCESS.has(command.id)) inProcess[command.id].push(JSON.parse(stdout).importMs);
    if (command.id === 'version') version = stdout;
  }
}

const baseline = summarize(samples.node).median;
const rows = commands.map((command) => {
  const s = summarize(samples[command.id]);
  const judged = command.id === 'import' ? summarize(importMs).median : s.median;
  return {
    command: command.label,
    wall: s.median,
    range: `${s.min.toFixed(0)}–${s.max.toFixed(0)}`,
    overNode: command.id === 'node' ? '' : s.median - baseline,
    inProcess: IN_PROCESS.has(command.id) ? summarize(inProcess[command.id]).median : '',
    target:
      command.target === undefined
        ? ''
        : `< ${command.target} ms${command.id === 'import' ? ' (import)' : ''}: ${verdict(judged < command.target)}`,
  };
});
const text = printTable(`Start-up: fresh node process, median of ${opts.reps} (ms)`, rows, [
  ['command', 'command'],
  ['wall', 'wall ms'],
  ['range', 'min–max'],
  ['overNode', 'over node -e 0'],
  ['inProcess', 'import() itself'],
  ['target', 'target'],
]);

await writeResults('startup', {
  description:
    'Wall time of fresh node processes (spawn to exit); the import row also times the import() call inside the process.',
  options: opts,
  busyBefore,
  cli,
  version,
  samples,
  importMs,
  inProcess,
  table: text,
});
