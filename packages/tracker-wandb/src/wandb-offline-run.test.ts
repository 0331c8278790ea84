import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWandbRunId, WandbOfflineRun } from './wandb-offline-run.js';
import { readProtobufFields } from './wandb-protobuf.js';
import { WANDB_FIELDS } from './wandb-records.js';
import { scanWandbTransactionLog } from './wandb-transaction-log.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trackstack-wandb-run-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The texts of the run's OutputRawRecords, in file order. */
function outputTexts(run: WandbOfflineRun): string[] {
  const utf8 = new TextDecoder();
  return scanWandbTransactionLog(readFileSync(run.logPath)).records.flatMap((record) => {
    const body = readProtobufFields(record).find((f) => f.field === WANDB_FIELDS.Record.output_raw);
    if (body === undefined) return [];
    const line = readProtobufFields(body.value as Uint8Array).find(
      (f) => f.field === WANDB_FIELDS.OutputRawRecord.line,
    );
    return [utf8.decode(line!.value as Uint8Array)];
  });
}

/** The Record field number of each record's type, in file order. */
function recordTypes(run: WandbOfflineRun): string[] {
  const names = new Map<number, string>(
    Object.entries(WANDB_FIELDS.Record).map(([name, number]) => [number, name]),
  );
  return scanWandbTransactionLog(readFileSync(run.logPath)).records.map((record) => {
    const fields = readProtobufFields(record).filter((f) => f.field !== 1 && f.field !== 200);
    return names.get(fields[0]!.field) ?? String(fields[0]!.field);
  });
}

describe('WandbOfflineRun', () => {
  it('names the run directory like the SDK (local time) and run ids like its ids', () => {
    const start = new Date(2026, 2, 4, 5, 6, 7).getTime();
    const run = WandbOfflineRun.create({ dir, project: 'p', startTimeMs: start });
    expect(run.runId).toMatch(/^[a-z0-9]{8}$/);
    expect(basename(run.runDir)).toBe(`offline-run-20260304_050607-${run.runId}`);
    expect(run.logPath).toBe(join(run.runDir, `run-${run.runId}.wandb`));
    run.close();
    expect(generateWandbRunId()).not.toBe(generateWandbRunId());
  });

  it('merges values logged at the open step and drops lower steps, as the SDK does', () => {
    const run = WandbOfflineRun.create({ dir, project: 'p', startTimeMs: 0 });
    expect(run.history(3, { a: 1 }, 1)).toBe(true);
    expect(run.history(3, { b: 2 }, 2)).toBe(true);
    expect(run.history(2, { a: 0 }, 3)).toBe(false);
    expect(run.history(4, { a: 3 }, 4)).toBe(true);
    expect(run.history(3, { a: 0 }, 5)).toBe(false);
    run.commitHistory();
    expect(run.history(4, { c: 1 }, 6)).toBe(false);
    run.close();
    expect(recordTypes(run)).toEqual(['header', 'run', 'summary', 'history', 'summary', 'history']);
  });

  it('refuses W&B-owned keys, bad steps and file names outside files/', () => {
    const run = WandbOfflineRun.create({ dir, project: 'p' });
    expect(() => run.history(0, { _step: 1 }, 0)).toThrow(/set by W&B/);
    expect(() => run.history(-1, { a: 1 }, 0)).toThrow(/non-negative integer/);
    expect(() => run.history(1.5, { a: 1 }, 0)).toThrow(/non-negative integer/);
    const source = join(dir, 'f.txt');
    writeFileSync(source, 'x');
    for (const bad of ['', '../x', '/etc/x', 'a/../../x', 'a//b', './a']) {
      expect(() => run.file(bad, source), bad).toThrow(/normalized relative path/);
    }
    run.file('a/b.txt', source);
    expect(readFileSync(join(run.filesDir, 'a', 'b.txt'), 'utf8')).toBe('x');
    run.close();
  });

  it('writes nothing after exit', () => {
    const run = WandbOfflineRun.create({ dir, project: 'p' });
    run.history(0, { a: 1 }, Date.now());
    run.exit(0);
    expect(() => run.history(1, { a: 1 }, Date.now())).toThrow(/has ended/);
    expect(() => run.summary({ a: 1 })).toThrow(/has ended/);
    run.close();
    run.close();
    expect(recordTypes(run)).toEqual(['header', 'run', 'summary', 'history', 'summary', 'exit']);
  });

  it("takes the tracker's batches, artifacts and end (the WandbRun shape)", () => {
    const run = WandbOfflineRun.create({
      dir,
      project: 'p',
      runId: 'tracked',
      uid: 'u1',
      startTimeMs: 5,
    });
    expect(run.ref()).toEqual({
      runId: 'tracked',
      url: `file://${run.runDir}`,
      data: { project: 'p', startTime: 5, offline: true, uid: 'u1' },
    });
    const line = (n: number, text: string) => ({
      line: n,
      stream: 'stdout' as const,
      text,
      timestamp: 6,
    });
    run.write({
      params: [{ key: 'lr', value: '0.1' }],
      tags: [],
      metrics: [
        { key: 'a', value: 1, step: 0, timestamp: 6 },
        { key: 'a', value: 2, step: 1, timestamp: 7 },
      ],
      console: [line(0, 'a'), line(0, 'ab'), line(1, 'c')],
    });
    const source = join(dir, 'artifact.txt');
    writeFileSync(source, 'y');
    run.upload({
      localPath: source,
      path: 'out/artifact.txt',
      size: 1,
      sha256: '',
      contentType: 'text/plain',
    });
    run.finish('KILLED', 2_005);
    expect(readFileSync(join(run.filesDir, 'out', 'artifact.txt'), 'utf8')).toBe('y');
    expect(outputTexts(run)).toEqual(['a', '\rab', '\nc', '\n']);
    expect(recordTypes(run)).toEqual([
      'header',
      'run',
      'config',
      'summary',
      'history',
      'output_raw',
      'output_raw',
      'output_raw',
      'files',
      'output_raw',
      'summary',
      'history',
      'summary',
      'exit',
    ]);
    expect(() =>
      run.write({ params: [], tags: [], metrics: [{ key: 'a', value: 3, step: 2, timestamp: 8 }] }),
    ).toThrow(/has ended/);
  });
});
