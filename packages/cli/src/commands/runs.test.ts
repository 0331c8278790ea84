import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stripVTControlCharacters } from 'node:util';
import {
  createTracker,
  image,
  LocalExperimentTracker,
  type RunSummary,
  silentLogger,
  TrackstackError,
} from '@trackstack/core';
import { TEST_JPEG, TEST_PNG } from '@trackstack/core/testing';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CliContext } from '../context.js';
import { UsageError } from '../output.js';
import { registerRunsCommands, runTree } from './runs.js';

const LONG_HISTORY = 500;
const NAN_STEP = 250;
const BASE_TIME = Date.UTC(2025, 0, 1);

/** The loss logged by the baseline run: NaN at one step, so charts and JSON must cope with it. */
function baselineLoss(step: number): number {
  return step === NAN_STEP ? Number.NaN : 1 / (step + 1);
}

let storeDir: string;
let baselineUid: string;
let widerUid: string;

beforeAll(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-cli-runs-'));
  const tracker = createTracker(new LocalExperimentTracker({}, { storeDir }), {
    logger: silentLogger,
  });
  const model = join(storeDir, 'model.json');
  await writeFile(model, '{"weights":[1,2,3]}');

  const baseline = await tracker.startRun({ experiment: 'iris', name: 'baseline' });
  baselineUid = baseline.uid;
  baseline.logParams({ lr: 0.01, layers: [64, 32], optimizer: 'adam' });
  baseline.setTags({ team: 'vision' });
  for (let step = 0; step < LONG_HISTORY; step++) {
    baseline.logMetric('loss', baselineLoss(step), { step, timestamp: BASE_TIME + step });
  }
  baseline.logMetrics({ acc: 0.9 }, { step: 1 });
  baseline.logMetrics({ acc: 0.95 }, { step: 2 });
  await baseline.logArtifact(model);
  await baseline.end('FINISHED');

  // list sorts by start time: keep the runs' start times apart.
  await sleep(5);
  const wider = await tracker.startRun({ experiment: 'iris', name: 'wider' });
  widerUid = wider.uid;
  wider.logParams({ lr: 0.1, layers: [128, 64], optimizer: 'adam' });
  for (let step = 0; step < 50; step++) wider.logMetric('loss', 2 / (step + 1), { step });
  await wider.end('FAILED');

  // Two runs whose ids share a 6-character prefix.
  for (const id of ['abcdef-1', 'abcdef-2']) {
    await sleep(5);
    const run = await tracker.startRun({ experiment: 'mnist', name: id, id });
    run.logMetric('loss', 1);
    await run.end('FINISHED');
  }
});

afterAll(async () => {
  await rm(storeDir, { recursive: true, force: true });
});

/** Runs `trackstack runs ...` in-process and returns what it printed on stdout, without colors. */
async function cli(...args: string[]): Promise<string> {
  const program = new Command().exitOverride().option('--store <dir>');
  registerRunsCommands(program, new CliContext(program));
  let printed = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    printed += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['--store', storeDir, 'runs', ...args], { from: 'user' });
  } finally {
    write.mockRestore();
  }
  return stripVTControlCharacters(printed);
}

async function cliJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await cli(...args, '--json')) as T;
}

/** Curve characters of asciichart; tables draw with ┼ and ┤ too, so those prove nothing. */
const CHART_CURVE = /[╭╮╯╰]/;
/** A chart row: a y-axis label, then the axis. */
const CHART_ROW = /^\s*[-+.\de]+ [┤┼]/;

describe('runs list', () => {
  it('prints every run, newest first, with its status', async () => {
    const out = await cli('list');
    expect(out).toContain(baselineUid);
    expect(out).toContain(widerUid);
    expect(out).toContain('FINISHED');
    expect(out).toContain('FAILED');
    expect(out.indexOf(widerUid)).toBeLessThan(out.indexOf(baselineUid));
  });

  it('prints the run summaries as JSON', async () => {
    const runs = await cliJson<RunSummary[]>('list');
    expect(runs.map((run) => run.uid)).toEqual(['abcdef-2', 'abcdef-1', widerUid, baselineUid]);
    expect(runs[3]).toMatchObject({
      uid: baselineUid,
      experiment: 'iris',
      name: 'baseline',
      status: 'FINISHED',
      destinations: [],
      startTime: expect.any(Number),
      endTime: expect.any(Number),
      dir: join(storeDir, 'runs', baselineUid),
    });
  });

  it('filters by experiment, status and count', async () => {
    const iris = await cliJson<RunSummary[]>('list', '--experiment', 'iris');
    expect(iris.map((run) => run.uid)).toEqual([widerUid, baselineUid]);
    const failed = await cliJson<RunSummary[]>('list', '--status', 'failed');
    expect(failed.map((run) => run.uid)).toEqual([widerUid]);
    const newest = await cliJson<RunSummary[]>('list', '--limit', '1');
    expect(newest.map((run) => run.uid)).toEqual(['abcdef-2']);
    expect(await cli('list', '--experiment', 'none')).toContain('No matching runs');
  });

  it("filters with MLflow's search syntax on latest metrics, params and tags", async () => {
    const list = async (filter: string) =>
      (await cliJson<RunSummary[]>('list', '--filter', filter)).map((r) => r.name).sort();
    expect(await list("params.optimizer = 'adam' and params.lr = '0.01'")).toEqual(['baseline']);
    // Latest losses: baseline 0.002, wider 0.04, the two abcdef runs 1.
    expect(await list('metrics.loss > 0.01')).toEqual(['abcdef-1', 'abcdef-2', 'wider']);
    expect(await list('metrics.loss > 0.01 and metrics.loss < 0.5')).toEqual(['wider']);
    expect(await list("tags.team = 'vision' and metrics.acc >= 0.95")).toEqual(['baseline']);
    expect(await list("attributes.status = 'FAILED'")).toEqual(['wider']);
    expect(await list("params.lr IN ('0.01', '0.1')")).toEqual(['baseline', 'wider']);
    await expect(cli('list', '--filter', "params.lr > '1'")).rejects.toMatchObject({
      code: 'INVALID_FILTER',
    });
  });

  it('refuses an unknown status or a bad limit as usage errors', async () => {
    await expect(cli('list', '--status', 'DONE')).rejects.toBeInstanceOf(UsageError);
    await expect(cli('list', '--limit', '0')).rejects.toBeInstanceOf(UsageError);
    await expect(cli('list', '--limit', 'ten')).rejects.toBeInstanceOf(UsageError);
  });
});

describe('runs show', () => {
  it('prints details, params, tags, metrics, artifacts and a chart per metric', async () => {
    const out = await cli('show', baselineUid);
    expect(out).toMatch(new RegExp(`uid:\\s+${baselineUid}`));
    expect(out).toMatch(/status:\s+FINISHED/);
    expect(out).toContain('optimizer');
    expect(out).toContain('adam');
    expect(out).toContain('[64,32]');
    expect(out).toContain('vision');
    // loss: last value at step 499, 500 points, min at step 499, max at step 0.
    expect(out).toMatch(/│ loss\s+│ 0\.002\s+│ 499\s+│ 500\s+│ 0\.002\s+│ 1\s+│/);
    expect(out).toMatch(/│ acc\s+│ 0\.95\s+│ 2\s+│ 2\s+│ 0\.9\s+│ 0\.95\s+│/);
    expect(out).toContain('model.json');
    expect(out).toContain('19 B');
    expect(out).toContain('application/json');
    expect(out).toMatch(CHART_CURVE);
    expect(out).toContain('loss (500 points, 1 NaN/Infinity not charted, each column the mean of');
  });

  it('lists media per key: kind, how many, steps, size and the latest value', async () => {
    const shared = storeDir;
    storeDir = await mkdtemp(join(tmpdir(), 'trackstack-cli-media-'));
    try {
      const tracker = createTracker(new LocalExperimentTracker({}, { storeDir }), {
        logger: silentLogger,
      });
      const run = await tracker.startRun({ experiment: 'media' });
      for (let step = 0; step < 3; step++) {
        await run.logImage('val/pred', TEST_PNG, { step, caption: `epoch ${step}` });
      }
      await run.logTable('samples', {
        columns: ['id', 'img'],
        rows: [
          [1, image(TEST_JPEG)],
          [2, null],
        ],
      });
      run.logHistogram('weights', [1, 2, 2, 3], { step: 4, bins: 3 });
      await run.end();
      const out = await cli('show', run.uid);
      expect(out).toContain('Media');
      expect(out).toMatch(
        new RegExp(
          `│ val/pred\\s+│ image\\s+│ 3\\s+│ 0\\.\\.2\\s+│ ${TEST_PNG.length * 3} B\\s+│ PNG 24×16 "epoch 2"`,
        ),
      );
      expect(out).toMatch(
        /│ samples\s+│ table\s+│ 1\s+│ 0\s+│ [\d.]+ [kK]?B\s+│ 2 rows × 2 columns, 1 image/,
      );
      expect(out).toMatch(
        /│ weights\s+│ histogram\s+│ 1\s+│ 4\s+│ -\s+│ 3 bins over \[1, 3\], 4 values/,
      );
      const json = await cliJson<{ media: { kind: string; key: string; step: number }[] }>(
        'show',
        run.uid,
      );
      expect(json.media.map((m) => `${m.kind} ${m.key} ${m.step}`)).toEqual([
        'image val/pred 0',
        'image val/pred 1',
        'image val/pred 2',
        'table samples 0',
        'histogram weights 4',
      ]);
    } finally {
      await rm(storeDir, { recursive: true, force: true });
      storeDir = shared;
    }
  });

  it('downsamples a long history to the chart width', async () => {
    const out = await cli('show', baselineUid);
    const chartRows = out.split('\n').filter((line) => CHART_ROW.test(line));
    expect(chartRows.length).toBeGreaterThanOrEqual(10);
    for (const row of chartRows) expect(row.length).toBeLessThanOrEqual(80);
  });

  it('leaves the charts out with --no-chart', async () => {
    const out = await cli('show', baselineUid, '--no-chart');
    expect(out).toContain('loss');
    expect(out).not.toMatch(CHART_CURVE);
  });

  it("prints the snapshot and each metric's summary as JSON, non-finite values as strings", async () => {
    const run = await cliJson<Record<string, unknown>>('show', baselineUid);
    expect(run).toMatchObject({
      uid: baselineUid,
      status: 'FINISHED',
      params: { lr: '0.01', layers: '[64,32]', optimizer: 'adam' },
      tags: { team: 'vision' },
      metrics: { loss: 1 / LONG_HISTORY, acc: 0.95 },
      artifacts: [{ path: 'model.json', size: 19, contentType: 'application/json' }],
    });
    expect(run.histories).toBeUndefined();
    const summaries = run.summaries as Record<string, Record<string, unknown>>;
    expect(summaries.loss).toEqual({
      count: LONG_HISTORY,
      nonFinite: 1,
      min: 1 / LONG_HISTORY,
      max: 1,
      mean: expect.any(Number),
      first: { step: 0, value: 1, timestamp: BASE_TIME },
      latest: {
        step: LONG_HISTORY - 1,
        value: 1 / LONG_HISTORY,
        timestamp: BASE_TIME + LONG_HISTORY - 1,
      },
    });
    expect(summaries.acc).toMatchObject({
      count: 2,
      min: 0.9,
      max: 0.95,
      latest: { step: 2, value: 0.95 },
    });
  });
});

describe('runs export', () => {
  it('streams every point in the order logged as JSON lines, non-finite values as strings', async () => {
    const lines = (await cli('export', baselineUid))
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { key: string; step: number; value: unknown; timestamp: number },
      );
    expect(lines.filter((p) => p.key === 'loss')).toEqual(
      Array.from({ length: LONG_HISTORY }, (_, step) => ({
        key: 'loss',
        step,
        value: step === NAN_STEP ? 'NaN' : baselineLoss(step),
        timestamp: BASE_TIME + step,
      })),
    );
    expect(lines.filter((p) => p.key === 'acc')).toMatchObject([
      { step: 1, value: 0.9 },
      { step: 2, value: 0.95 },
    ]);
  });

  it('writes CSV, and only the keys asked for', async () => {
    const rows = (await cli('export', baselineUid, '--format', 'csv', '--key', 'acc'))
      .trim()
      .split('\n');
    expect(rows[0]).toBe('key,step,value,timestamp');
    expect(rows.slice(1).map((row) => row.split(',').slice(0, 3).join(','))).toEqual([
      'acc,1,0.9',
      'acc,2,0.95',
    ]);
    await expect(cli('export', baselineUid, '--format', 'xml')).rejects.toBeInstanceOf(UsageError);
  });
});

describe('runs compare', () => {
  it('puts params and latest metrics side by side, marks differing params, and charts shared metrics', async () => {
    const out = await cli('compare', baselineUid, widerUid);
    expect(out).toContain(baselineUid);
    expect(out).toContain(widerUid);
    expect(out).toMatch(/│ \* │ lr\s+│ 0\.01\s+│ 0\.1\s+│/);
    expect(out).toMatch(/│ \* │ layers\s+│ \[64,32\]\s+│ \[128,64\]\s+│/);
    expect(out).toMatch(/│\s+│ optimizer\s+│ adam\s+│ adam\s+│/);
    expect(out).toMatch(/│ acc\s+│ 0\.95\s+│\s+│/);
    expect(out).toMatch(CHART_CURVE);
    expect(out).toContain('#1 baseline (500 points, 1 NaN/Infinity not charted)');
    expect(out).toContain('#2 wider (50 points)');
  });

  it('prints runs, params and metrics as JSON, null where a run lacks a key', async () => {
    const comparison = await cliJson<{
      runs: { uid: string }[];
      params: Record<string, unknown[]>;
      metrics: Record<string, unknown[]>;
    }>('compare', baselineUid, widerUid);
    expect(comparison.runs.map((run) => run.uid)).toEqual([baselineUid, widerUid]);
    expect(comparison.params).toEqual({
      lr: ['0.01', '0.1'],
      layers: ['[64,32]', '[128,64]'],
      optimizer: ['adam', 'adam'],
    });
    expect(comparison.metrics).toEqual({ loss: [1 / LONG_HISTORY, 2 / 50], acc: [0.95, null] });
  });

  it('needs two distinct runs', async () => {
    await expect(cli('compare', baselineUid)).rejects.toBeInstanceOf(UsageError);
    await expect(cli('compare', baselineUid, baselineUid)).rejects.toBeInstanceOf(UsageError);
  });
});

describe('run ids', () => {
  it('accepts a unique prefix of at least 6 characters', async () => {
    const prefix = baselineUid.slice(0, 30);
    expect((await cliJson<{ uid: string }>('show', prefix)).uid).toBe(baselineUid);
    expect((await cliJson<{ uid: string }>('show', prefix.toUpperCase())).uid).toBe(baselineUid);
  });

  it('throws RUN_NOT_FOUND for an unknown id, with a hint to list the runs', async () => {
    const error = await cli('show', 'ffffffff-nope').catch((e: unknown) => e);
    expect(TrackstackError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'RUN_NOT_FOUND',
      hint: expect.stringContaining('runs list'),
    });
  });

  it('throws a usage error that lists the matches of an ambiguous prefix', async () => {
    const error = await cli('show', 'abcdef').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain('abcdef-1');
    expect((error as Error).message).toContain('abcdef-2');
  });

  it('throws a usage error for a prefix shorter than 6 characters', async () => {
    await expect(cli('show', 'abc')).rejects.toBeInstanceOf(UsageError);
  });
});

describe('runs list: child runs', () => {
  it('shows each child under its parent, a grandchild deeper, whoever ended first', async () => {
    const own = await mkdtemp(join(tmpdir(), 'trackstack-cli-tree-'));
    const main = storeDir;
    try {
      const tracker = createTracker(new LocalExperimentTracker({}, { storeDir: own }), {
        logger: silentLogger,
      });
      const parent = await tracker.startRun({ experiment: 'tree', name: 'parent' });
      const first = await parent.startChild({ name: 'child-1' });
      await sleep(5);
      const second = await parent.startChild({ name: 'child-2' });
      const grand = await first.startChild({ name: 'grandchild' });
      // The parent ends while its children still run; they go on and end later.
      await parent.end();
      grand.logMetric('loss', 1);
      await Promise.all([grand.end(), first.end(), second.end()]);
      await sleep(5);
      const other = await tracker.startRun({ experiment: 'tree', name: 'other' });
      await other.end();
      expect(second.parentUid).toBe(parent.uid);
      expect(grand.parent).toBe(first);

      storeDir = own;
      const lines = (await cli('list'))
        .split('\n')
        .filter((l) => /parent|child|grandchild|other/.test(l));
      const names = lines.map((l) => /(└─ )?(parent|child-\d|grandchild|other)/.exec(l)![0]);
      expect(names).toEqual(['other', 'parent', '└─ child-1', '└─ grandchild', '└─ child-2']);
      expect(lines[3]).toMatch(/ {2}└─ grandchild/);
      const json = await cliJson<RunSummary[]>('list');
      expect(json.find((r) => r.uid === grand.uid)?.parentUid).toBe(first.uid);
      expect(json.every((r) => r.status === 'FINISHED')).toBe(true);
    } finally {
      storeDir = main;
      await rm(own, { recursive: true, force: true });
    }
  });

  it('keeps every run of a damaged store whose parents form a cycle', () => {
    const run = (uid: string, parentUid?: string) =>
      ({ uid, parentUid, startTime: 0 }) as unknown as RunSummary;
    const tree = runTree([run('a', 'b'), run('b', 'a'), run('c')]);
    expect(tree.map((t) => t.run.uid).sort()).toEqual(['a', 'b', 'c']);
  });
});
