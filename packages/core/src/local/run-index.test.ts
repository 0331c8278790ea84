import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../contract/log.js';
import type { MetricPoint } from '../contract/types.js';
import { ENVELOPE_BUCKETS } from '../engine/segment-index.js';
import { TEST_PNG } from '../testing/test-images.js';
import { createTracker } from '../tracker/tracker.js';
import { LocalRuns } from './local-runs.js';
import { LocalExperimentTracker } from './local-tracker.js';

let storeDir: string;
beforeEach(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-run-index-'));
});
afterEach(async () => {
  await rm(storeDir, { recursive: true, force: true });
});

const tracker = () =>
  createTracker(new LocalExperimentTracker({}, { storeDir }), { logger: silentLogger });

/** Logs `steps` steps of three keys (a NaN every 1000 steps), over two processes' segments. */
async function bigRun(steps: number): Promise<string> {
  const id = `run-${steps}`;
  const first = await tracker().startRun({ id, flushIntervalMs: 0, systemMetrics: false });
  const half = Math.floor(steps / 2);
  for (let step = 0; step < half; step++) {
    first.logMetrics(
      { loss: 1 / (step + 1), acc: step % 1000 === 7 ? Number.NaN : step / steps },
      { step },
    );
  }
  first.logParams({ lr: 0.1 });
  first.setTag('phase', 'one');
  await first.logImage('img', TEST_PNG, { step: 3 });
  await first.end();
  // Resumed: a second segment, later points and a tag that replaces the first.
  const second = await tracker().startRun({
    id,
    resume: 'must',
    flushIntervalMs: 0,
    systemMetrics: false,
  });
  for (let step = half; step < steps; step++) {
    second.logMetrics({ loss: 1 / (step + 1), acc: step / steps, lr: 0.1 }, { step });
  }
  second.setTag('phase', 'two');
  await second.end();
  return id;
}

/** What the summaries must be: computed from every point. */
function expectedSummary(points: MetricPoint[]) {
  const finite = points.filter((p) => Number.isFinite(p.value));
  let latest = points[0]!;
  for (const p of points) {
    if (p.step > latest.step || (p.step === latest.step && p.timestamp >= latest.timestamp))
      latest = p;
  }
  return {
    count: points.length,
    nonFinite: points.length - finite.length,
    min: Math.min(...finite.map((p) => p.value)),
    max: Math.max(...finite.map((p) => p.value)),
    first: { step: points[0]!.step, value: points[0]!.value, timestamp: points[0]!.timestamp },
    latest: { step: latest.step, value: latest.value, timestamp: latest.timestamp },
  };
}

describe('the read index', () => {
  it('gives the snapshot a full read of the journal gives, and summaries equal to the points', async () => {
    const uid = await bigRun(20_000);
    const runs = new LocalRuns(storeDir);
    const { snapshot, histories } = await runs.load(uid);
    expect(await runs.get(uid)).toEqual(snapshot);
    expect(snapshot.tags.phase).toBe('two');
    const summaries = await runs.summaries(uid);
    expect(Object.keys(summaries).sort()).toEqual(['acc', 'loss', 'lr']);
    for (const [key, points] of Object.entries(histories)) {
      expect(summaries[key]).toMatchObject({ key, ...expectedSummary(points) });
      const mean = points.filter((p) => Number.isFinite(p.value)).reduce((a, p) => a + p.value, 0);
      expect(summaries[key]!.mean).toBeCloseTo(
        mean / (points.length - summaries[key]!.nonFinite),
        9,
      );
    }
    // Each writer saved its segment's index when it closed.
    expect(
      (await readdir(join(storeDir, 'runs', uid, 'index'))).filter((f) => f.endsWith('.json')),
    ).toHaveLength(2);
  });

  it('draws a chart from the envelope: at most the points asked for, every point within its bucket', async () => {
    const uid = await bigRun(20_000);
    const runs = new LocalRuns(storeDir);
    const series = await runs.series(uid, 'loss', { points: 300 });
    expect(series.exact).toBe(false);
    expect(series.points.length).toBeLessThanOrEqual(300);
    expect(series.points.length).toBeGreaterThan(100);
    const points = await runs.metricHistory(uid, 'loss');
    expect(series.points.reduce((n, p) => n + p.count, 0)).toBe(points.length);
    for (const bucket of series.points) {
      const inside = points.filter((p) => p.step >= bucket.step && p.step <= bucket.stepEnd);
      expect(Math.min(...inside.map((p) => p.value))).toBe(bucket.min);
      expect(Math.max(...inside.map((p) => p.value))).toBe(bucket.max);
      expect(Math.min(...inside.map((p) => p.timestamp))).toBe(bucket.time);
      expect(Math.max(...inside.map((p) => p.timestamp))).toBe(bucket.timeEnd);
    }
    // Asked for more points than the envelope has buckets: still the envelope's buckets at most.
    const wide = await runs.series(uid, 'loss', { points: 5_000 });
    expect(wide.exact).toBe(false);
    expect(wide.points.length).toBeLessThanOrEqual(ENVELOPE_BUCKETS);
    // Asked for as many as there are: every point, exact.
    const every = await runs.series(uid, 'loss', { points: 100_000 });
    expect(every.exact).toBe(true);
    expect(every.points.map((p) => p.value)).toEqual(points.map((p) => p.value));
    expect(every.points.map((p) => [p.time, p.timeEnd])).toEqual(
      points.map((p) => [p.timestamp, p.timestamp]),
    );
  });

  it('charts points all logged at one step by their order (the order envelope)', async () => {
    const run = await tracker().startRun({
      id: 'no-steps',
      flushIntervalMs: 0,
      systemMetrics: false,
    });
    for (let i = 0; i < 5000; i++) run.logMetric('loss', 5000 - i);
    await run.end();
    const runs = new LocalRuns(storeDir);
    expect((await runs.series('no-steps', 'loss', { points: 100 })).points).toHaveLength(1);
    const ordered = await runs.series('no-steps', 'loss', { points: 100, by: 'order' });
    expect(ordered.points.length).toBeGreaterThan(50);
    expect(ordered.points.length).toBeLessThanOrEqual(100);
    // Falling, as logged.
    expect(ordered.points[0]!.value).toBeGreaterThan(ordered.points.at(-1)!.value);
    expect(ordered.points.reduce((n, p) => n + p.count, 0)).toBe(5000);
  });

  it('reads the exact points of a zoomed range from the blocks that hold them', async () => {
    const uid = await bigRun(20_000);
    const runs = new LocalRuns(storeDir);
    const zoom = await runs.series(uid, 'acc', { from: 9_990, to: 10_020, points: 1000 });
    expect(zoom.exact).toBe(true);
    const all = await runs.metricHistory(uid, 'acc');
    const expected = all.filter((p) => p.step >= 9_990 && p.step <= 10_020);
    expect(zoom.points.map((p) => [p.step, p.value])).toEqual(
      expected.map((p) => [p.step, p.value]),
    );
    expect(await runs.series(uid, 'nope')).toEqual({ key: 'nope', exact: true, points: [] });
  });

  it('catches up on what a live run wrote after its index, and ignores a damaged index', async () => {
    const run = await tracker().startRun({ id: 'live', flushIntervalMs: 0, systemMetrics: false });
    for (let step = 0; step < 100; step++) run.logMetric('m', step, { step });
    await run.flush();
    const runs = new LocalRuns(storeDir);
    // The writer has not saved its index yet (it saves every 5 s and when it ends): the
    // reader reads the journal, and sees every point logged so far.
    expect((await runs.summaries('live')).m).toMatchObject({ count: 100, latest: { step: 99 } });
    await run.end();
    const [file] = await readdir(join(storeDir, 'runs', 'live', 'index'));
    await writeFile(join(storeDir, 'runs', 'live', 'index', file!), '{not json');
    expect((await runs.summaries('live')).m).toMatchObject({ count: 100, min: 0, max: 99 });
  });

  it('keeps the index of a run it read, and reads the run again once its journal grew', async () => {
    const run = await tracker().startRun({ id: 'kept', flushIntervalMs: 0, systemMetrics: false });
    for (let step = 0; step < 10; step++) run.logMetric('m', step, { step });
    await run.flush();
    const runs = new LocalRuns(storeDir);
    const first = await runs.view('kept');
    expect(first.summaries.m!.count).toBe(10);
    // Unchanged: the same index (its series answer from memory, as one read gave them).
    const again = await runs.view('kept');
    expect(again.summaries).toEqual(first.summaries);
    expect(await again.series('m')).toEqual(await first.series('m'));
    run.logMetric('m', 10, { step: 10 });
    await run.flush();
    expect((await runs.summaries('kept')).m).toMatchObject({ count: 11, latest: { step: 10 } });
    expect((await runs.series('kept', 'm')).points).toHaveLength(11);
    await run.end();
    expect((await runs.get('kept')).status).toBe('FINISHED');
  });

  it('gives each series point its wall-clock time: the timestamp when exact, the span of a bucket', async () => {
    const base = Date.UTC(2024, 0, 1);
    const run = await tracker().startRun({ id: 'timed', flushIntervalMs: 0, systemMetrics: false });
    // Two points a step, the later logged with the earlier timestamp.
    for (let step = 0; step < 4000; step++) {
      run.logMetric('m', step, { step, timestamp: base + 1000 * step + 500 });
      run.logMetric('m', -step, { step, timestamp: base + 1000 * step });
    }
    await run.end();
    const runs = new LocalRuns(storeDir);
    const exact = await runs.series('timed', 'm', { from: 10, to: 11 });
    expect(exact).toEqual({
      key: 'm',
      exact: true,
      points: [
        {
          step: 10,
          stepEnd: 10,
          time: base + 10_500,
          timeEnd: base + 10_500,
          value: 10,
          min: 10,
          max: 10,
          count: 1,
        },
        {
          step: 10,
          stepEnd: 10,
          time: base + 10_000,
          timeEnd: base + 10_000,
          value: -10,
          min: -10,
          max: -10,
          count: 1,
        },
        {
          step: 11,
          stepEnd: 11,
          time: base + 11_500,
          timeEnd: base + 11_500,
          value: 11,
          min: 11,
          max: 11,
          count: 1,
        },
        {
          step: 11,
          stepEnd: 11,
          time: base + 11_000,
          timeEnd: base + 11_000,
          value: -11,
          min: -11,
          max: -11,
          count: 1,
        },
      ],
    });
    // 8000 points over 4000 steps: the envelope has 500 buckets of 8 steps; 100 points merge 5 each.
    const bucketed = await runs.series('timed', 'm', { points: 100 });
    expect(bucketed.exact).toBe(false);
    expect(bucketed.points).toHaveLength(100);
    expect(bucketed.points[0]).toEqual({
      step: 0,
      stepEnd: 39,
      time: base,
      timeEnd: base + 39_500,
      value: 0,
      min: -39,
      max: 39,
      count: 80,
    });
    for (const p of bucketed.points) {
      expect(p.time).toBe(base + 1000 * p.step);
      expect(p.timeEnd).toBe(base + 1000 * p.stepEnd + 500);
    }
    expect(bucketed.points.at(-1)).toMatchObject({ stepEnd: 3999, timeEnd: base + 3_999_500 });
    // By order: the same spans.
    const ordered = await runs.series('timed', 'm', { points: 100, by: 'order' });
    expect(ordered.points[0]).toMatchObject({ stepEnd: 39, time: base, timeEnd: base + 39_500 });
  });

  it('ignores an index of version 1 and builds it again from the journal', async () => {
    const base = Date.UTC(2024, 0, 1);
    const run = await tracker().startRun({ id: 'old', flushIntervalMs: 0, systemMetrics: false });
    for (let step = 0; step < 100; step++)
      run.logMetric('m', step, { step, timestamp: base + 1000 * step });
    await run.end();
    const [file] = await readdir(join(storeDir, 'runs', 'old', 'index'));
    const path = join(storeDir, 'runs', 'old', 'index', file!);
    const saved = JSON.parse(await readFile(path, 'utf8'));
    expect(saved.v).toBe(2);
    // What version 1 saved: no timestamps in the buckets (and here, counts a reader must not trust).
    for (const [, bucket] of saved.keys.m.steps.buckets) {
      delete bucket.t0;
      delete bucket.t1;
    }
    saved.keys.m.n = 1;
    saved.v = 1;
    await writeFile(path, JSON.stringify(saved));
    const runs = new LocalRuns(storeDir);
    expect((await runs.summaries('old')).m).toMatchObject({ count: 100, min: 0, max: 99 });
    const series = await runs.series('old', 'm', { points: 10 });
    expect(series.exact).toBe(false);
    expect(series.points[0]).toMatchObject({ step: 0, time: base });
    expect(series.points.at(-1)).toMatchObject({ stepEnd: 99, timeEnd: base + 99_000 });
    // Saved again, of this version.
    const rebuilt = JSON.parse(await readFile(path, 'utf8'));
    expect(rebuilt.v).toBe(2);
    expect(rebuilt.keys.m.n).toBe(100);
    expect(rebuilt.keys.m.steps.buckets[0][1]).toMatchObject({ t0: base, t1: base });
  });
});
