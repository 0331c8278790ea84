/**
 * Shared helpers of the benchmarks: statistics, machine info, process CPU
 * sampling, child processes, the table printer and the result files.
 *
 * Every benchmark runs both sides in the same invocation, on the same machine
 * (and the same kind of server), and reports medians of several repetitions.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const REPO_DIR = dirname(BENCH_DIR);

// ---------------------------------------------------------------------------
// Arguments

/**
 * Parses `--name value` options. `spec` maps names to defaults; numbers accept
 * `1e6` and `1_000_000`; booleans are flags.
 */
export function options(spec, argv = process.argv.slice(2)) {
  const config = {};
  for (const [name, fallback] of Object.entries(spec)) {
    config[name] = { type: typeof fallback === 'boolean' ? 'boolean' : 'string' };
  }
  const { values } = parseArgs({ args: argv, options: config, strict: false });
  const out = {};
  for (const [name, fallback] of Object.entries(spec)) {
    const raw = values[name];
    if (raw === undefined) out[name] = fallback;
    else if (typeof fallback === 'number') {
      const number = Number(String(raw).replaceAll('_', ''));
      if (!Number.isFinite(number)) throw new Error(`--${name}: not a number: ${raw}`);
      out[name] = number;
    } else out[name] = raw;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Statistics

export function median(values) {
  const sorted = values.filter((v) => typeof v === 'number' && !Number.isNaN(v));
  if (sorted.length === 0) return Number.NaN;
  sorted.sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `{ median, min, max, n, values }` of the repetitions. */
export function summarize(values) {
  const clean = values.filter((v) => typeof v === 'number' && !Number.isNaN(v));
  return {
    median: median(clean),
    min: clean.length ? Math.min(...clean) : Number.NaN,
    max: clean.length ? Math.max(...clean) : Number.NaN,
    n: clean.length,
    values: clean,
  };
}

/** ours ÷ theirs. */
export function ratio(ours, theirs) {
  return ours / theirs;
}

/** Runs `fn(rep)` `reps` times, one after another, and returns the results. */
export async function repeat(reps, fn) {
  const out = [];
  for (let rep = 0; rep < reps; rep++) out.push(await fn(rep));
  return out;
}

// ---------------------------------------------------------------------------
// Formatting

export function fmt(value, digits = 3) {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (Number.isNaN(value)) return 'n/a';
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 10 ** -(digits - 1))) {
    if (abs >= 1e6 && Number.isInteger(value)) return Math.round(value).toLocaleString('en-US');
    return value.toPrecision(digits);
  }
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(digits)).toString();
}

export const fmtRatio = (r) => (Number.isFinite(r) ? `${r < 10 ? r.toFixed(2) : fmt(r)}×` : 'n/a');
export const fmtMs = (ms) => `${fmt(ms)} ms`;
export const fmtUs = (us) => `${fmt(us)} µs`;
export const fmtMB = (bytes) => `${fmt(bytes / 2 ** 20)} MiB`;

/**
 * Prints rows (objects) as a Markdown table, so the same text goes to the
 * terminal and into docs/performance.md. `columns` = `[[key, title], ...]`.
 */
export function table(rows, columns) {
  const head = columns.map(([, title]) => title);
  const body = rows.map((row) => columns.map(([key]) => fmt(row[key])));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...body.map(line),
  ].join('\n');
}

export function printTable(title, rows, columns) {
  const text = table(rows, columns);
  process.stdout.write(`\n${title}\n\n${text}\n\n`);
  return text;
}

// ---------------------------------------------------------------------------
// The test harness (TypeScript source, no build): loaded through jiti.

let harnessPromise;
/** `@trackstack/test-harness`, loaded once. */
export function harness() {
  harnessPromise ??= (async () => {
    const { createJiti } = await import('jiti');
    const jiti = createJiti(import.meta.url);
    return jiti.import('@trackstack/test-harness');
  })();
  return harnessPromise;
}

// ---------------------------------------------------------------------------
// tracker-wandb's internals (the offline writer, the `.wandb` reader), which
// its public API does not export: loaded from its TypeScript sources, through
// jiti too.

let wandbJiti;
/** A module of packages/tracker-wandb/src by file name, e.g. `wandb-offline-run.ts`. */
export async function wandbInternal(file) {
  wandbJiti ??= import('jiti').then(({ createJiti }) => createJiti(import.meta.url));
  return (await wandbJiti).import(join(REPO_DIR, 'packages', 'tracker-wandb', 'src', file));
}

/** The harness's cached MLflow environment (pinned by MLFLOW_REQUIREMENTS). */
export async function mlflowEnv() {
  const h = await harness();
  return h.ensurePythonEnv({ name: 'mlflow', requirements: h.MLFLOW_REQUIREMENTS });
}

/** The harness's cached W&B environment (pinned by WANDB_REQUIREMENTS). */
export async function wandbEnv() {
  const h = await harness();
  return h.ensurePythonEnv({ name: 'wandb', requirements: h.WANDB_REQUIREMENTS });
}

/**
 * Runs a Python script of bench/ with an environment; the script prints one
 * JSON object as its last line of stdout, which is returned.
 */
export async function runPythonJson(env, script, args = [], extraEnv = {}) {
  const h = await harness();
  const result = await h.runPython(env, join(BENCH_DIR, script), args.map(String), {
    env: { PYTHONUNBUFFERED: '1', ...extraEnv },
  });
  if (result.code !== 0) {
    throw new Error(
      `${script} exited ${result.code}:\n${result.stderr.slice(-4000)}\n${result.stdout.slice(-2000)}`,
    );
  }
  return lastJsonLine(result.stdout, script);
}

/** Runs a node script with arguments; returns the JSON object on its last stdout line. */
export function runNodeJson(script, args = [], { nodeArgs = [], env = {}, onSpawn } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, join(BENCH_DIR, script), ...args], {
      cwd: BENCH_DIR,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onSpawn?.(child);
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code !== 0) {
        reject(new Error(`${script} exited ${code ?? signal}:\n${stderr.slice(-4000)}`));
        return;
      }
      try {
        resolve(lastJsonLine(stdout, script));
      } catch (error) {
        reject(error);
      }
    });
  });
}

function lastJsonLine(stdout, what) {
  const lines = stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    if (line.startsWith('{')) return JSON.parse(line);
  }
  throw new Error(`${what} printed no JSON result:\n${stdout.slice(-2000)}`);
}

/** Runs a command, resolves with its stdout (trimmed); rejects on a non-zero exit. */
export function output(command, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8').trim());
      else reject(new Error(`${command} exited ${code}: ${Buffer.concat(err).toString('utf8')}`));
    });
  });
}

// ---------------------------------------------------------------------------
// Processes: CPU time and memory from /proc

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) is 100 on every Linux this runs on

/** utime + stime of a process (all its threads), in ms; undefined when it is gone. */
export function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces: split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

function parentPid(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function allPids() {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** The processes whose command line holds `--port <port>` (the MLflow server and its workers), with their descendants. */
export function serverPids(port) {
  const roots = new Set();
  for (const pid of allPids()) {
    let cmdline;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = cmdline.indexOf('--port');
    if (at !== -1 && cmdline[at + 1] === String(port)) roots.add(pid);
  }
  const found = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const pid of allPids()) {
      if (found.has(pid)) continue;
      const ppid = parentPid(pid);
      if (ppid !== undefined && found.has(ppid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return [...found];
}

/**
 * Samples the summed CPU time of `pids` every `intervalMs` until `stop()`.
 * `stop()` returns `{ cpuMs, wallMs, cores (= cpuMs / wallMs), peakCores }`.
 */
export function sampleCpu(pids, intervalMs = 100) {
  const total = () => pids.reduce((sum, pid) => sum + (processCpuMs(pid) ?? 0), 0);
  const t0 = performance.now();
  const c0 = total();
  let lastT = t0;
  let lastC = c0;
  let peakCores = 0;
  const timer = setInterval(() => {
    const t = performance.now();
    const c = total();
    if (t - lastT >= intervalMs * 0.5) peakCores = Math.max(peakCores, (c - lastC) / (t - lastT));
    lastT = t;
    lastC = c;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const wallMs = performance.now() - t0;
      const cpuMs = total() - c0;
      return { cpuMs, wallMs, cores: cpuMs / wallMs, peakCores };
    },
  };
}

/** VmRSS / VmHWM of a process in bytes (from /proc/<pid>/status). */
export function processMemory(pid = process.pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
      return match ? Number(match[1]) * 1024 : undefined;
    };
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: undefined, hwm: undefined };
  }
}

/**
 * Share of the machine's CPU busy over `ms` (all processes, from /proc/stat):
 * other work on the machine skews every number here, so it is recorded.
 */
export async function machineBusy(ms = 1000) {
  const read = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1);
    const n = fields.map(Number);
    const idle = n[3] + n[4];
    const all = n.reduce((a, b) => a + b, 0);
    return { idle, all };
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  const all = b.all - a.all;
  return all === 0 ? 0 : 1 - (b.idle - a.idle) / all;
}

/** Prints a warning when the machine is busy with something else before a measurement. */
export async function warnIfBusy(label) {
  const busy = await machineBusy(1000);
  if (busy > 0.15) {
    process.stderr.write(
      `[bench] warning: the machine was ${Math.round(busy * 100)}% busy before ${label}: other processes skew the numbers\n`,
    );
  }
  return busy;
}

// ---------------------------------------------------------------------------
// Machine and versions

let machinePromise;
/** CPU model, cores, memory, OS, and the versions of node, python, mlflow, wandb. */
export function machineInfo() {
  machinePromise ??= (async () => {
    let cpuModel = cpus()[0]?.model ?? 'unknown';
    try {
      const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
      cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpuModel;
    } catch {}
    const info = {
      cpu: cpuModel,
      cores: cpus().length,
      memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
      freeMemoryGiB: Number((freemem() / 2 ** 30).toFixed(1)),
      os: `${process.platform} ${release()}`,
      loadavg: loadavg().map((l) => Number(l.toFixed(2))),
      node: process.version,
      python: undefined,
      mlflow: undefined,
      wandb: undefined,
      trackstackCore: packageVersion('core'),
      trackstackMlflow: packageVersion('tracker-mlflow'),
      commit: undefined,
    };
    try {
      const head = await output('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_DIR });
      const dirty = await output('git', ['status', '--porcelain', '--', 'packages'], {
        cwd: REPO_DIR,
      });
      info.commit = dirty === '' ? head : `${head} (packages/ modified)`;
    } catch {}
    try {
      const env = await mlflowEnv();
      const text = await output(env.python, [
        '-c',
        'import sys, importlib.metadata as m; print(sys.version.split()[0], m.version("mlflow"))',
      ]);
      [info.python, info.mlflow] = text.split(' ');
    } catch (error) {
      info.mlflow = `unavailable (${error.message.split('\n')[0]})`;
    }
    try {
      const env = await wandbEnv();
      info.wandb = await output(env.python, [
        '-c',
        'import importlib.metadata as m; print(m.version("wandb"))',
      ]);
    } catch (error) {
      info.wandb = `unavailable (${error.message.split('\n')[0]})`;
    }
    return info;
  })();
  return machinePromise;
}

function packageVersion(dir) {
  try {
    return JSON.parse(readFileSync(join(REPO_DIR, 'packages', dir, 'package.json'), 'utf8'))
      .version;
  } catch {
    return undefined;
  }
}

export function machineLine(m) {
  return [
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}`,
    `node ${m.node}, python ${m.python}, mlflow ${m.mlflow}, wandb ${m.wandb}, @trackstack/core ${m.trackstackCore}, commit ${m.commit ?? 'unknown'}`,
  ].join('\n');
}

// ---------------------------------------------------------------------------
// Results

/**
 * Writes `results/<name>.json` and merges it into `results/latest.json`
 * (one entry per benchmark, the newest wins).
 */
export async function writeResults(name, result) {
  await mkdir(RESULTS_DIR, { recursive: true });
  const machine = await machineInfo();
  const record = { name, time: new Date().toISOString(), machine, ...result };
  await writeJson(join(RESULTS_DIR, `${name}.json`), record);
  const latestPath = join(RESULTS_DIR, 'latest.json');
  let latest = { benchmarks: {} };
  if (existsSync(latestPath)) {
    try {
      latest = JSON.parse(await readFile(latestPath, 'utf8'));
      latest.benchmarks ??= {};
    } catch {
      latest = { benchmarks: {} };
    }
  }
  latest.updated = record.time;
  latest.machine = machine;
  latest.benchmarks[name] = record;
  await writeJson(latestPath, latest);
  process.stdout.write(`results: ${join('bench', 'results', `${name}.json`)}\n`);
  return record;
}

async function writeJson(path, data) {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`);
  await rename(tmp, path);
}

/** A target check: '✓' / '✗' / '' (no target). */
export function verdict(ok) {
  if (ok === undefined) return '';
  return ok ? 'met' : 'MISSED';
}
