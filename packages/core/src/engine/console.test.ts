import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../contract/log.js';
import { LocalRuns } from '../local/local-runs.js';
import { InMemoryBackend, InMemoryTracker } from '../testing/in-memory-tracker.js';
import { journalNow } from '../testing/journal-now.js';
import { createTracker } from '../tracker/tracker.js';
import { ConsoleRecorder, MAX_CONSOLE_LINE_CHARS } from './console.js';

let storeDir: string;
let backendName: string;
let counter = 0;

beforeEach(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-console-'));
  backendName = `console-${process.pid}-${++counter}`;
});
afterEach(async () => {
  await rm(storeDir, { recursive: true, force: true });
});

const tracker = (console: boolean) =>
  createTracker(
    new InMemoryTracker({ backend: backendName, ordered_writes: true, console }, { storeDir }),
    { logger: silentLogger },
  );
const onlyRun = () => {
  const runs = [...InMemoryBackend.get(backendName).runs.values()];
  expect(runs).toHaveLength(1);
  return runs[0]!;
};

describe('ConsoleRecorder', () => {
  it('cuts text into numbered lines as a terminal shows them', () => {
    const recorder = new ConsoleRecorder();
    recorder.write('stdout', 'first\r\nsec', 1);
    recorder.write('stdout', 'ond\n 10%\r 55%\r100%\n', 2);
    recorder.write('stderr', 'oops\n', 3);
    recorder.write('stdout', 'abcdef\rXY\n\n', 4);
    expect(recorder.drain()).toEqual([
      [0, 'o', 1, 'first'],
      [1, 'o', 1, 'second'],
      [2, 'o', 2, '100%'],
      [3, 'e', 3, 'oops'],
      [4, 'o', 4, 'XYcdef'],
      [5, 'o', 4, ''],
    ]);
    expect(recorder.drain()).toBeUndefined();
  });

  it('journals an open line as it stands and again, under the same number, when it changes', () => {
    const recorder = new ConsoleRecorder(7);
    recorder.write('stdout', 'epoch 1: 10%', 1);
    recorder.write('stderr', 'warning: slow\n', 2);
    expect(recorder.drain()).toEqual([
      [8, 'e', 2, 'warning: slow'],
      [7, 'o', 1, 'epoch 1: 10%'],
    ]);
    expect(recorder.drain()).toBeUndefined();
    recorder.write('stdout', '\repoch 1: 100%\n', 3);
    expect(recorder.drain()).toEqual([[7, 'o', 1, 'epoch 1: 100%']]);
  });

  it('cuts a line that never ends', () => {
    const recorder = new ConsoleRecorder();
    recorder.write('stdout', 'x'.repeat(MAX_CONSOLE_LINE_CHARS + 10), 1);
    recorder.write('stdout', 'y\n', 1);
    const [entry] = recorder.drain()!;
    expect(entry![3]).toHaveLength(MAX_CONSOLE_LINE_CHARS);
  });
});

describe('console output of a run', () => {
  it('reaches a flavor with the console capability, each line once with its latest text', async () => {
    const t = tracker(true);
    const run = await t.startRun({ flushIntervalMs: 0 });
    run.logConsole('loading\n');
    run.logConsole('train 0%');
    journalNow(run);
    await run.flush();
    expect([...onlyRun().console.values()].map((l) => l.text)).toEqual(['loading', 'train 0%']);
    run.logConsole('\rtrain 100%\n');
    run.logConsole('bad input\n', { stream: 'stderr', timestamp: 1_760_000_000_000 });
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
    const lines = [...onlyRun().console.values()].sort((a, b) => a.line - b.line);
    expect(lines.map((l) => [l.line, l.stream, l.text])).toEqual([
      [0, 'stdout', 'loading'],
      [1, 'stdout', 'train 100%'],
      [2, 'stderr', 'bad input'],
    ]);
    expect(lines[2]!.timestamp).toBe(1_760_000_000_000);
    expect(await new LocalRuns(storeDir).consoleText(run.uid)).toBe(
      'loading\ntrain 100%\nbad input\n',
    );
  });

  it('is kept in the journal only for a flavor without the capability, and numbering goes on after a resume', async () => {
    const t = tracker(false);
    const run = await t.startRun({ id: '0190a0a0-0000-7000-8000-00000000c0de' });
    run.logConsole('one\ntwo\n');
    run.logMetric('m', 1);
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
    const writes = InMemoryBackend.get(backendName).calls.filter((c) => c.op === 'writeBatch');
    expect(writes.every((c) => c.console === undefined)).toBe(true);
    expect(onlyRun().console.size).toBe(0);

    const again = await tracker(false).startRun({ id: run.uid, resume: 'allow' });
    again.logConsole('three\n');
    await again.end();
    const lines = await new LocalRuns(storeDir).consoleOutput(run.uid);
    expect(lines.map((l) => [l.line, l.text])).toEqual([
      [0, 'one'],
      [1, 'two'],
      [2, 'three'],
    ]);
  });

  it('captures process.stdout and stderr with captureConsole, and lets go when the run ends', async () => {
    const t = tracker(true);
    const stdoutWrite = process.stdout.write;
    const stderrWrite = process.stderr.write;
    const run = await t.startRun({ captureConsole: true });
    expect(process.stdout.write).not.toBe(stdoutWrite);
    process.stdout.write('captured out\n');
    process.stderr.write(Buffer.from('captured err\n'));
    await run.end();
    expect(process.stdout.write).toBe(stdoutWrite);
    expect(process.stderr.write).toBe(stderrWrite);
    process.stdout.write('');
    const lines = [...onlyRun().console.values()];
    expect(lines.map((l) => [l.stream, l.text])).toEqual([
      ['stdout', 'captured out'],
      ['stderr', 'captured err'],
    ]);
  });

  it('refuses what is not text, and logs nothing after the end', async () => {
    const run = await tracker(true).startRun();
    expect(() => run.logConsole(42 as unknown as string)).toThrow(/must be a string/);
    expect(() => run.logConsole('x', { stream: 'stdin' as unknown as 'stdout' })).toThrow(
      /stdout' or 'stderr/,
    );
    await run.end();
    expect(() => run.logConsole('late\n')).toThrow(/has ended/);
  });
});
