/** Small helpers the reliability tests share: the CLI, journals, percentiles, figures, loggers. */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '@trackstack/core';

export const ROOT = resolve(import.meta.dirname, '../../../..');
const CLI = join(ROOT, 'packages/cli/dist/cli.js');
export const PACKAGE_DIR = resolve(import.meta.dirname, '../..');
export const FIXTURES = resolve(import.meta.dirname, '../fixtures');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs the built CLI in a subprocess, asynchronously (servers in this process keep
 * answering while it runs).
 */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return runNode([CLI, ...args], options);
}

export function runNode(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd ?? PACKAGE_DIR,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** What a run's journal segments hold: points per key (with their steps), params, tags, end records. */
export interface JournalContents {
  points: Map<string, number[]>;
  params: Map<string, string>;
  tags: Map<string, string>;
  artifacts: string[];
  ends: string[];
  records: number;
}

export async function readJournal(runDir: string): Promise<JournalContents> {
  const out: JournalContents = {
    points: new Map(),
    params: new Map(),
    tags: new Map(),
    artifacts: [],
    ends: [],
    records: 0,
  };
  const dir = join(runDir, 'journal');
  for (const name of (await readdir(dir)).sort()) {
    if (!name.endsWith('.jsonl')) continue;
    const text = await readFile(join(dir, name), 'utf8');
    const lines = text.split('\n');
    // A torn last line (the writer was killed mid-write) is not part of the journal.
    if (!text.endsWith('\n')) lines.pop();
    for (const line of lines) {
      if (line === '') continue;
      const record = JSON.parse(line) as {
        t: string;
        p?: [string, string][];
        g?: [string, string][];
        m?: { n: number; keys: string[]; k: string; s: string };
        path?: string;
        status?: string;
      };
      if (record.t === 'h') continue;
      out.records += 1;
      if (record.t === 'b') {
        for (const [k, v] of record.p ?? []) out.params.set(k, v);
        for (const [k, v] of record.g ?? []) out.tags.set(k, v);
        if (record.m !== undefined) {
          const keys = new Uint32Array(copy(record.m.k, record.m.n * 4));
          const steps = new Float64Array(copy(record.m.s, record.m.n * 8));
          for (let i = 0; i < record.m.n; i++) {
            const key = record.m.keys[keys[i]!]!;
            let list = out.points.get(key);
            if (list === undefined) {
              list = [];
              out.points.set(key, list);
            }
            list.push(steps[i]!);
          }
        }
      } else if (record.t === 'a') out.artifacts.push(record.path!);
      else if (record.t === 'e') out.ends.push(record.status!);
    }
  }
  return out;
}

function copy(base64: string, bytes: number): ArrayBuffer {
  const buffer = Buffer.from(base64, 'base64');
  if (buffer.length !== bytes) throw new Error('journal column of the wrong length');
  const out = new ArrayBuffer(bytes);
  new Uint8Array(out).set(buffer);
  return out;
}

/** The highest `q` a destination's cursor files say was delivered, per segment. */
function cursorOf(runDir: string, destination: string): Record<string, number> {
  const dir = join(runDir, 'delivery', destination);
  const out: Record<string, number> = {};
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!name.endsWith('.json') || name === 'state.json') continue;
    try {
      out[name.slice(0, -5)] = (
        JSON.parse(readFileSync(join(dir, name), 'utf8')) as { q: number }
      ).q;
    } catch {
      // being replaced right now: read it next time
    }
  }
  return out;
}

/** The last `q` in each journal segment of a run. */
function journalHeads(runDir: string): Record<string, number> {
  const dir = join(runDir, 'journal');
  const out: Record<string, number> = {};
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.jsonl')) continue;
    const lines = readFileSync(join(dir, name), 'utf8').split('\n');
    let q = 0;
    for (const line of lines) {
      const match = /"q":(\d+)/.exec(line.slice(-40));
      if (match !== null && line.endsWith('}')) q = Math.max(q, Number(match[1]));
    }
    out[name.slice(0, -6)] = q;
  }
  return out;
}

function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Records the figures of a test run for docs/reliability.md (`.figures/<name>.json`) and prints them. */
export async function recordFigures(name: string, figures: Record<string, unknown>): Promise<void> {
  const dir = join(PACKAGE_DIR, '.figures');
  await mkdir(dir, { recursive: true });
  const body = { recordedAt: new Date().toISOString(), ...figures };
  await writeFile(join(dir, `${name}.json`), `${JSON.stringify(body, null, 2)}\n`);
  console.log(`[reliability] ${name}: ${JSON.stringify(figures)}`);
}

/** A logger that keeps every message, for tests that read what a run said. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    warn: (m) => lines.push(`warn: ${m}`),
    info: (m) => lines.push(`info: ${m}`),
    debug: (m) => lines.push(`debug: ${m}`),
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Times logging calls: counts them and their throws, keeps the first `capacity` latencies. */
export class CallTimer {
  calls = 0;
  throws = 0;
  private readonly latencies: Float64Array;

  constructor(capacity = 200_000) {
    this.latencies = new Float64Array(capacity);
  }

  timed(fn: () => void): void {
    const t0 = performance.now();
    try {
      fn();
    } catch {
      this.throws += 1;
    }
    if (this.calls < this.latencies.length) this.latencies[this.calls] = performance.now() - t0;
    this.calls += 1;
  }

  /** p50, p99, p99.9 and max of the kept latencies, in ms. */
  latencyMs(): { p50: number; p99: number; p999: number; max: number } {
    const sorted = this.latencies.slice(0, Math.min(this.calls, this.latencies.length)).sort();
    return {
      p50: round(percentile(sorted, 50), 4),
      p99: round(percentile(sorted, 99), 4),
      p999: round(percentile(sorted, 99.9), 4),
      max: round(percentile(sorted, 100), 3),
    };
  }
}

/**
 * Waits (up to `timeoutMs`) until `destination` acknowledged every record the run's journal
 * held when called; returns when that happened (`Date.now()`), or undefined on timeout.
 */
export async function caughtUp(
  runDir: string,
  destination: string,
  timeoutMs: number,
): Promise<number | undefined> {
  const target = journalHeads(runDir);
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const cursor = cursorOf(runDir, destination);
    if (Object.entries(target).every(([segment, q]) => (cursor[segment] ?? 0) >= q)) {
      return Date.now();
    }
    await sleep(100);
  }
  return undefined;
}

/** The delivery cursors of `destination` now (segment → last acknowledged record). */
export function ackCursors(runDir: string, destination: string): Record<string, number> {
  return cursorOf(runDir, destination);
}

/**
 * Waits (up to `timeoutMs`) until `destination` acknowledged anything beyond `before` (take it
 * while the backend is still away): when the cursors first moved after an outage
 * (`Date.now()`). Cursors move over whole records only, and are persisted 250 ms after.
 */
export async function firstAck(
  runDir: string,
  destination: string,
  before: Record<string, number>,
  timeoutMs: number,
): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const cursor = cursorOf(runDir, destination);
    if (Object.entries(cursor).some(([segment, q]) => q > (before[segment] ?? 0)))
      return Date.now();
    await sleep(20);
  }
  return undefined;
}

/** How long the outage tests keep a backend away (TRACKSTACK_OUTAGE_SECONDS, default 60). */
export function outageSeconds(): number {
  const seconds = Number(process.env.TRACKSTACK_OUTAGE_SECONDS ?? 60);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new Error('TRACKSTACK_OUTAGE_SECONDS must be a positive number');
  return seconds;
}

/** The outage tests' shape: seconds of logging before the outage and after the backend is back. */
export const OUTAGE_BEFORE_S = 10;
export const OUTAGE_AFTER_S = 20;
/**
 * Per-call latency bounds of the outage tests: p100 includes GC pauses and the synchronous
 * journal write of a full buffer.
 */
export const MAX_CALL_MS = 20;
export const P999_CALL_MS = 2;
