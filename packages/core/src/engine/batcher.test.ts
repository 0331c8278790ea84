import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type RequestLimits } from '../contract/limits.js';
import type { MetricPoint } from '../contract/types.js';
import { forEachMetric, type WriteBatch } from '../contract/write-batch.js';
import { Batcher, type BatcherOptions, type Task } from './batcher.js';
import type { BatchRecord, DataRecord } from './journal-records.js';
import { MetricBuffer } from './metric-buffer.js';

const RUN_ID = 'a'.repeat(32);

/** A part that counts how many tasks hold it, as the delivery's cursors do. */
interface Part {
  id: number;
  held: number;
}

function batcher(overrides: Partial<BatcherOptions<Part>> = {}) {
  return new Batcher<Part>({
    limits: DEFAULT_LIMITS.request,
    console: false,
    artifacts: true,
    metricOrder: 'logged',
    retain: (part, n) => {
      part.held += n;
    },
    stagedPath: (file) => `/run/${file}`,
    ...overrides,
  });
}

let seq = 0;
const part = (): Part => ({ id: ++seq, held: 0 });

/** A journal batch record of these points (in this order), params and tags. */
function record(
  points: MetricPoint[],
  params: [string, string][] = [],
  tags: [string, string][] = [],
): DataRecord {
  const buffer = new MetricBuffer(Math.max(1, points.length));
  for (const p of points) {
    let index = buffer.indexOf(p.key);
    if (index === -1) index = buffer.addKey(p.key);
    buffer.push(index, p.value, p.step, p.timestamp);
  }
  const out: BatchRecord = { t: 'b', q: ++seq };
  const drained = buffer.drain();
  if (drained !== undefined) out.m = drained.block;
  if (params.length > 0) out.p = params;
  if (tags.length > 0) out.g = tags;
  return out;
}

/** Steps × keys, in the order a training loop logs them (every key of a step, step by step). */
function stepMajor(steps: number, keys: number): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (let step = 0; step < steps; step++) {
    for (let k = 0; k < keys; k++) {
      points.push({
        key: `m${k}`,
        value: step + k / 1000,
        step,
        timestamp: 1_760_000_000_000 + step,
      });
    }
  }
  return points;
}

function takeAll<P>(b: Batcher<P>): Task<P>[] {
  const out: Task<P>[] = [];
  for (let task = b.take(); task !== undefined; task = b.take()) out.push(task);
  return out;
}

const writes = (tasks: Task<Part>[]): WriteBatch[] =>
  tasks.flatMap((t) => (t.kind === 'write' ? [t.batch] : []));

function points(batch: WriteBatch): MetricPoint[] {
  const out: MetricPoint[] = [];
  forEachMetric(batch, (key, value, step, timestamp) => out.push({ key, value, step, timestamp }));
  return out;
}

/** The request a flavor would send for a batch, as MLflow's log-batch body. */
const body = (batch: WriteBatch) =>
  JSON.stringify({
    run_id: RUN_ID,
    metrics: points(batch).map((p) => ({
      ...p,
      value: Number.isFinite(p.value) ? p.value : String(p.value),
    })),
    params: batch.params,
    tags: batch.tags,
  });

function expectWithin(batches: WriteBatch[], limits: RequestLimits = DEFAULT_LIMITS.request) {
  for (const batch of batches) {
    const n = points(batch).length;
    expect(n).toBeLessThanOrEqual(limits.maxMetrics);
    expect(batch.params.length).toBeLessThanOrEqual(limits.maxParams);
    expect(batch.tags.length).toBeLessThanOrEqual(limits.maxTags);
    expect(n + batch.params.length + batch.tags.length).toBeLessThanOrEqual(limits.maxEntities);
    expect(Buffer.byteLength(body(batch))).toBeLessThanOrEqual(limits.maxBytes);
  }
}

describe('batcher, in logging order', () => {
  it('cuts points into requests of the limits, in the order they were logged', () => {
    const b = batcher({ limits: { ...DEFAULT_LIMITS.request, maxMetrics: 70 } });
    const p = part();
    const logged = stepMajor(100, 10);
    b.add(p, record(logged));
    const batches = writes(takeAll(b));
    expect(batches.map((x) => points(x).length)).toEqual([...Array(14).fill(70), 20]);
    expect(batches.flatMap(points)).toEqual(logged);
    // Each request holds the record, and was counted: the record is done once all are acked.
    expect(p.held).toBe(15);
  });

  it('waits with a part-filled request until it is taken, so what queues up goes together', () => {
    const b = batcher();
    b.add(part(), record(stepMajor(1, 3)));
    b.add(part(), record(stepMajor(1, 3)));
    expect(b.queued).toBe(0);
    expect(b.empty).toBe(false);
    const [first, ...rest] = takeAll(b);
    expect(rest).toEqual([]);
    expect(first?.kind === 'write' && points(first.batch)).toHaveLength(6);
    expect(first?.parts.map((x) => x.held)).toEqual([1, 1]);
    expect(b.empty).toBe(true);
  });

  it('keeps params, tags and the entity limit, and a param that changed value goes alone', () => {
    const b = batcher();
    const params = Array.from({ length: 250 }, (_, i): [string, string] => [`p${i}`, `${i}`]);
    b.add(part(), record(stepMajor(15, 100), params, [['team', 'a']]));
    b.add(part(), record([], [['p0', 'other']]));
    const batches = writes(takeAll(b));
    expectWithin(batches);
    expect(batches.flatMap((x) => x.params.map((p) => p.key)).filter((k) => k === 'p0')).toEqual([
      'p0',
      'p0',
    ]);
    expect(batches.at(-1)!.params).toEqual([{ key: 'p0', value: 'other' }]);
    expect(batches.flatMap(points)).toHaveLength(1500);
  });

  it('keeps a request under its byte limit, counting UTF-8 and JSON escapes', () => {
    const b = batcher();
    // 100 params of 6000 characters, 3 bytes each in UTF-8, and 100 tags of quotes and controls.
    const params = Array.from({ length: 100 }, (_, i): [string, string] => [
      `p${i}`,
      `${i}`.padEnd(6000, '€'),
    ]);
    const tags = Array.from({ length: 100 }, (_, i): [string, string] => [
      `t${i}`,
      `${i}`.padEnd(8000, '"\u0001'),
    ]);
    b.add(part(), record(stepMajor(10, 100), params, tags));
    const batches = writes(takeAll(b));
    expect(batches.length).toBeGreaterThanOrEqual(5);
    expectWithin(batches);
    expect(batches.flatMap((x) => x.params)).toHaveLength(100);
    expect(batches.flatMap((x) => x.tags)).toHaveLength(100);
  });

  it('closes the open request before an artifact, and passes artifacts on only when asked', () => {
    const b = batcher();
    b.add(part(), record(stepMajor(1, 2)));
    b.add(part(), {
      t: 'a',
      q: ++seq,
      path: 'model.json',
      file: 'artifacts/abc',
      size: 3,
      sha256: 'abc',
      ct: 'application/json',
    });
    b.add(part(), record(stepMajor(1, 2)));
    const tasks = takeAll(b);
    expect(tasks.map((t) => t.kind)).toEqual(['write', 'artifact', 'write']);
    expect(tasks[1]?.kind === 'artifact' && tasks[1].artifact.localPath).toBe('/run/artifacts/abc');
    const without = batcher({ artifacts: false });
    const skipped = part();
    without.add(skipped, {
      t: 'a',
      q: ++seq,
      path: 'x',
      file: 'f',
      size: 1,
      sha256: 's',
      ct: 'text/plain',
    });
    expect(takeAll(without)).toEqual([]);
    expect(skipped.held).toBe(0);
  });

  it('passes console lines on to a flavor that takes them, the latest text of each line', () => {
    const b = batcher({ console: true });
    b.add(part(), {
      t: 'b',
      q: ++seq,
      o: [
        [0, 'o', 1, 'epo'],
        [1, 'e', 2, 'warn'],
      ],
    });
    b.add(part(), { t: 'b', q: ++seq, o: [[0, 'o', 1, 'epoch 1']] });
    const [batch] = writes(takeAll(b));
    expect(batch?.console).toEqual([
      { line: 0, stream: 'stdout', timestamp: 1, text: 'epoch 1' },
      { line: 1, stream: 'stderr', timestamp: 2, text: 'warn' },
    ]);
    const silent = batcher();
    silent.add(part(), { t: 'b', q: ++seq, o: [[0, 'o', 1, 'x']] });
    expect(takeAll(silent)).toEqual([]);
  });
});

describe('batcher, key by key', () => {
  const byKey = () => batcher({ metricOrder: 'by-key' });

  it('sends 100 keys × 100 steps as 10 requests of 10 keys each', () => {
    const b = byKey();
    const logged = stepMajor(100, 100);
    const p = part();
    b.add(p, record(logged));
    const batches = writes(takeAll(b));
    expect(batches).toHaveLength(10);
    for (const [i, batch] of batches.entries()) {
      const sent = points(batch);
      expect(sent).toHaveLength(1000);
      expect([...new Set(sent.map((m) => m.key))]).toEqual(
        Array.from({ length: 10 }, (_, k) => `m${i * 10 + k}`),
      );
    }
    // Each key's points in the order they were logged; nothing lost, nothing twice.
    const sent = batches.flatMap(points);
    expect(sent.filter((m) => m.key === 'm42').map((m) => m.step)).toEqual(
      Array.from({ length: 100 }, (_, s) => s),
    );
    const id = (m: MetricPoint) => `${m.key}@${m.step}`;
    expect(sent.map(id).sort()).toEqual(logged.map(id).sort());
    expect(p.held).toBe(10);
    expectWithin(batches);
  });

  it('groups across journal blocks, each key in logging order', () => {
    const b = byKey();
    const logged = stepMajor(30, 5);
    b.add(part(), record(logged.slice(0, 70)));
    b.add(part(), record(logged.slice(70)));
    const [batch, ...rest] = writes(takeAll(b));
    expect(rest).toEqual([]);
    const sent = points(batch!);
    expect(sent.map((m) => m.key)).toEqual(
      ['m0', 'm1', 'm2', 'm3', 'm4'].flatMap((key) => Array(30).fill(key)),
    );
    expect(sent.filter((m) => m.key === 'm3').map((m) => m.step)).toEqual(
      Array.from({ length: 30 }, (_, s) => s),
    );
  });

  it('puts params and tags first and fills the rest of that request with points', () => {
    const b = byKey();
    const params = Array.from({ length: 100 }, (_, i): [string, string] => [`p${i}`, 'v']);
    const tags = Array.from({ length: 100 }, (_, i): [string, string] => [`t${i}`, 'v']);
    b.add(part(), record(stepMajor(30, 100), params, tags));
    const batches = writes(takeAll(b));
    expect(batches.map((x) => [x.params.length, x.tags.length, points(x).length])).toEqual([
      [100, 100, 800],
      [0, 0, 1000],
      [0, 0, 1000],
      [0, 0, 200],
    ]);
    expectWithin(batches);
  });

  it('holds up to ten requests a window before it cuts one', () => {
    const b = byKey();
    const p = part();
    b.add(p, record(stepMajor(250, 100)));
    expect(b.queued).toBe(20);
    const batches = writes(takeAll(b));
    expect(batches).toHaveLength(25);
    expectWithin(batches);
    expect(p.held).toBe(25);
  });

  it('cuts the same requests from the same records', () => {
    const cut = () => {
      const b = byKey();
      b.add(part(), record(stepMajor(25, 7), [['a', '1']], [['b', '2']]));
      return writes(takeAll(b)).map((x) => ({ ...x, metrics: points(x) }));
    };
    expect(cut()).toEqual(cut());
  });
});
