/**
 * The TensorBoard flavor against TensorBoard itself: the event files it writes read back by
 * TensorBoard's own readers (EventAccumulator, the plugin accumulator, the HParams plugin's
 * protos; read_events.py in the harness's pinned venv), served by `tensorboard --logdir`,
 * compared record by record with what tensorboardX writes for the same values, and run
 * through core's conformance kit.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import {
  BackendError,
  createTracker,
  LocalExperimentTracker,
  LocalRuns,
  type Run,
  type RunRef,
  silentLogger,
  syncRun,
} from '@trackstack/core';
import { describeFlavorConformance, TEST_JPEG, TEST_PNG } from '@trackstack/core/testing';
import { startTensorboard } from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  num,
  type RunEvents,
  readEvents,
  textOf,
  writeWithTensorboardX,
} from './__fixtures__/tensorboard-read.js';
import { tensorboardConfigSchema } from './tensorboard-config.js';
import { TensorboardExperimentTracker } from './tensorboard-tracker.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function flavor(logDir: string, storeDir: string, more: Record<string, unknown> = {}) {
  return new TensorboardExperimentTracker(
    tensorboardConfigSchema.parse({ log_dir: logDir, ...more }),
    { storeDir },
  );
}

async function runDirOf(run: Run, name = 'tensorboard'): Promise<string> {
  const ref = (await run.backendRef(name)) as RunRef;
  return ref.data!.dir as string;
}

/** Every file under `dir`, by its path relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

/** The run's own view (read_events.py on its directory: the run is "."). */
async function eventsOf(dir: string): Promise<RunEvents> {
  const doc = await readEvents(dir);
  const run = doc.runs['.'];
  if (run === undefined) throw new Error(`no run in ${dir}: ${Object.keys(doc.runs)}`);
  return run;
}

const STATUS = { STATUS_SUCCESS: 'FINISHED', STATUS_FAILURE: 'FAILED' } as const;

describeFlavorConformance({
  name: 'tensorboard',
  createTracker: ({ storeDir }) => flavor(join(storeDir, 'tb'), storeDir),
  capabilities: { float32: true },
  timeoutMs: 120_000,
  readRun: async (tracker, run) => {
    const dir = tracker.runMetadata(run.ref!).tensorboard_run_dir!;
    const events = await eventsOf(dir);
    const { hparams, text } = events.plugin_accumulator;
    const start = hparams['_hparams_/session_start_info']?.session_start_info;
    const end = hparams['_hparams_/session_end_info']?.session_end_info;
    const tags: Record<string, string> = {};
    for (const [tag, values] of Object.entries(text)) {
      if (tag.startsWith('tags/')) tags[tag.slice('tags/'.length)] = textOf(values.at(-1)!.text);
    }
    const metrics: Record<string, { value: number; step: number; timestamp: number }[]> = {};
    for (const [tag, points] of Object.entries(events.accumulator.scalars)) {
      metrics[tag] = points
        .map((p) => ({
          value: num(p.value),
          step: p.step,
          timestamp: Math.round(p.wall_time * 1000),
        }))
        .sort((a, b) => a.step - b.step);
    }
    const artifacts: Record<string, string> = {};
    for (const path of await filesUnder(join(dir, 'artifacts'))) {
      artifacts[path] = sha256(await readFile(join(dir, 'artifacts', path)));
    }
    const parent = run.ref!.runId.split('/').slice(0, -1).join('/');
    const media = [
      ...Object.entries(events.accumulator.images).flatMap(([key, values]) =>
        values.map((v) => ({ kind: 'image' as const, key, step: v.step, sha256: v.sha256 })),
      ),
      ...Object.entries(events.accumulator.histograms).flatMap(([key, values]) =>
        values.map((v) => ({ kind: 'histogram' as const, key, step: v.step, counts: v.bucket })),
      ),
    ];
    return {
      status: end === undefined ? 'RUNNING' : STATUS[end.status as keyof typeof STATUS],
      params: Object.fromEntries(
        Object.entries(start?.hparams ?? {}).map(([k, v]) => [k, String(v)]),
      ),
      tags,
      metrics,
      artifacts,
      // A child run is a directory inside its parent's (a run of `<experiment>/` is at depth 2).
      parentRunId: parent.split('/').length >= 2 ? parent : undefined,
      media,
    };
  },
});

describe('what TensorBoard reads back', () => {
  let root: string;
  let logDir: string;
  let run: Run;
  let dir: string;
  let events: RunEvents;
  const values = [0.1, 1 / 3, 1e-46, 1e39, -1e39, 16777217, Number.NaN, Infinity, -Infinity];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'trackstack-tb-'));
    logDir = join(root, 'runs');
    const tracker = createTracker(flavor(logDir, join(root, 'store')), { logger: silentLogger });
    // System metrics sampled every second (default 10 s) so that this short run has some.
    run = await tracker.startRun({
      experiment: 'iris',
      name: 'baseline',
      systemMetrics: { intervalS: 1 },
    });
    run.logParams({ lr: 0.01, layers: 2, optimizer: 'adam', nesterov: true, name: '007' });
    run.setTag('team', 'ml');
    for (let step = 0; step < 1000; step++) run.logMetric('loss', 1 / (step + 1), { step });
    for (const [step, value] of values.entries()) run.logMetric('precision', value, { step });
    run.logMetric('_hparams_/x', 1, { step: 0 });
    run.logConsole('epoch 1\nepoch 2\n');
    await run.logImage('samples', TEST_PNG, { step: 3 });
    await run.logImage('photo', TEST_JPEG, { step: 4 });
    run.logHistogram('weights', [0, 0.25, 0.25, 0.5, 1], { step: 5, bins: 4 });
    const model = join(root, 'model.json');
    await writeFile(model, '{"w":[1,2]}');
    await run.logArtifact(model, { artifactPath: 'models/model.json' });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await run.end();
    dir = await runDirOf(run);
    events = await eventsOf(dir);
  }, 180_000);

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('puts the run in <log_dir>/<experiment>/<name>, with its event file named as TensorBoard’s writers name theirs', async () => {
    expect(relative(logDir, dir)).toBe(join('iris', 'baseline'));
    const names = (await readdir(dir)).filter((n) => n.includes('tfevents'));
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^events\.out\.tfevents\.\d{10}\.[^.]+\.\d+\.\d+$/);
    const [file] = events.files;
    // Every record whole, its CRCs right (TensorBoard's reader checks them), nothing after.
    expect(file!.reader).toEqual({ count: file!.loader_count, error: null });
    expect(file!.framing).toMatchObject({ error: null, trailing_bytes: 0 });
    expect(file!.events[0]).toMatchObject({ file_version: 'brain.Event:2' });
  });

  it('reads every scalar back: count, steps, and the float32 TensorBoard keeps', () => {
    const loss = events.accumulator.scalars.loss!;
    expect(loss).toHaveLength(1000);
    expect(loss.map((p) => p.step)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(loss.map((p) => num(p.value))).toEqual(
      Array.from({ length: 1000 }, (_, i) => Math.fround(1 / (i + 1))),
    );
    // float32: 0.1 and 1/3 rounded, 1e-46 to 0, ±1e39 beyond float32's range to ±Infinity,
    // 2^24 + 1 to 2^24; NaN and ±Infinity kept.
    expect(events.accumulator.scalars.precision!.map((p) => num(p.value))).toEqual([
      Math.fround(0.1),
      Math.fround(1 / 3),
      0,
      Infinity,
      -Infinity,
      16777216,
      Number.NaN,
      Infinity,
      -Infinity,
    ]);
    // A key the HParams plugin owns is moved under metrics/.
    expect(Object.keys(events.accumulator.scalars)).toContain('metrics/_hparams_/x');
    expect(Object.keys(events.accumulator.scalars)).not.toContain('_hparams_/x');
  });

  it("names the params in the HParams plugin's session start, and the status at its end", () => {
    const { hparams } = events.plugin_accumulator;
    expect(hparams['_hparams_/session_start_info']!.session_start_info!.hparams).toEqual({
      lr: 0.01,
      layers: 2,
      optimizer: 'adam',
      nesterov: true,
      // Read back as a different number ("007" → 7) would change it: it stays text.
      name: '007',
    });
    expect(hparams['_hparams_/session_end_info']!.session_end_info!.status).toBe('STATUS_SUCCESS');
  });

  it('writes tags and console output as text, images and histograms as their summaries, system metrics as scalars', async () => {
    const { text } = events.plugin_accumulator;
    expect(textOf(text['tags/team']!.at(-1)!.text)).toBe('ml');
    expect(textOf(text['tags/trackstack.uid']!.at(-1)!.text)).toBe(run.uid);
    expect(textOf(text.console!.map((t) => textOf(t.text)).join('\n'))).toContain('epoch 2');
    const [png] = events.accumulator.images.samples!;
    expect(png).toMatchObject({ step: 3, width: 24, height: 16, sha256: sha256(TEST_PNG) });
    expect(png!.decoded.width).toBe(24);
    expect(events.accumulator.images.photo![0]).toMatchObject({ sha256: sha256(TEST_JPEG) });
    const [histogram] = events.accumulator.histograms.weights!;
    expect(histogram).toMatchObject({ step: 5, min: 0, max: 1, num: 5, bucket: [1, 2, 1, 1] });
    expect(histogram!.bucket_limit).toEqual([0.25, 0.5, 0.75, 1]);
    const system = Object.keys(events.accumulator.scalars).filter((k) => k.startsWith('system/'));
    expect(system.length).toBeGreaterThan(3);
    expect(await readFile(join(dir, 'artifacts', 'models', 'model.json'), 'utf8')).toBe(
      '{"w":[1,2]}',
    );
  });

  it('is served by `tensorboard --logdir`: its runs, scalars and HParams experiment', async () => {
    const tb = await startTensorboard({ logdir: logDir });
    try {
      const runs = await tb.waitForJson<string[]>('/data/runs', (r) => r.includes('iris/baseline'));
      expect(runs).toContain('iris/baseline');
      const loss = await tb.waitForJson<[number, number, number][]>(
        '/data/plugin/scalars/scalars?run=iris%2Fbaseline&tag=loss',
        (points) => points.length === 1000,
      );
      expect(loss[999]).toEqual([expect.any(Number), 999, Math.fround(1 / 1000)]);
      const experiment = await tb.json<{ hparamInfos: { name: string; type: string }[] }>(
        '/data/plugin/hparams/experiment',
        { experimentName: '' },
      );
      expect(Object.fromEntries(experiment.hparamInfos.map((h) => [h.name, h.type]))).toEqual({
        lr: 'DATA_TYPE_FLOAT64',
        layers: 'DATA_TYPE_FLOAT64',
        optimizer: 'DATA_TYPE_STRING',
        nesterov: 'DATA_TYPE_BOOL',
        name: 'DATA_TYPE_STRING',
      });
      const groups = await tb.json<{
        sessionGroups: { sessions: { name: string; status: string }[] }[];
      }>('/data/plugin/hparams/session_groups', {
        experimentName: '',
        allowedStatuses: ['STATUS_UNKNOWN', 'STATUS_SUCCESS', 'STATUS_FAILURE', 'STATUS_RUNNING'],
        colParams: [],
        startIndex: 0,
        sliceSize: 100,
      });
      expect(groups.sessionGroups.flatMap((g) => g.sessions)).toEqual([
        expect.objectContaining({ name: 'iris/baseline', status: 'STATUS_SUCCESS' }),
      ]);
    } finally {
      await tb.stop();
    }
  }, 180_000);
});

describe('event files that grow', () => {
  it('roll over past max_file_mb, and TensorBoard reads them all in order', async () => {
    const root = await mkdtemp(join(tmpdir(), 'trackstack-tb-roll-'));
    try {
      const tracker = createTracker(
        flavor(join(root, 'runs'), join(root, 'store'), {
          max_file_mb: 0.002,
          flush_interval_s: 0,
        }),
        { logger: silentLogger },
      );
      const run = await tracker.startRun({
        name: 'rolled',
        systemMetrics: false,
        flushIntervalMs: 0,
      });
      for (let step = 0; step < 400; step++) {
        run.logMetric('m', step, { step });
        if (step % 50 === 49) await run.flush();
      }
      await run.end();
      const dir = await runDirOf(run);
      const events = await eventsOf(dir);
      expect(events.files.length).toBeGreaterThan(2);
      for (const file of events.files) {
        expect(file.events[0]).toMatchObject({ file_version: 'brain.Event:2' });
        expect(file.framing.error).toBeNull();
      }
      expect(events.accumulator.scalars.m!.map((p) => p.step)).toEqual(
        Array.from({ length: 400 }, (_, i) => i),
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the same values written by tensorboardX', () => {
  it('are the same Event records, field by field (wall times aside)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'trackstack-tb-oracle-'));
    try {
      const t = 1_700_000_000_000;
      const tracker = createTracker(flavor(join(root, 'ours'), join(root, 'store')), {
        logger: silentLogger,
      });
      const run = await tracker.startRun({
        experiment: 'x',
        name: 'y',
        systemMetrics: false,
        captureSource: false,
      });
      const scalars = [
        { tag: 'loss', value: 0.5, step: 3 },
        { tag: 'loss', value: 0.1, step: 4 },
        { tag: 'acc', value: 0, step: 0 },
        { tag: 'acc', value: Number.NaN, step: 1 },
      ];
      for (const s of scalars) run.logMetric(s.tag, s.value, { step: s.step, timestamp: t });
      await run.logImage('img', TEST_PNG, { step: 1 });
      run.logHistogram('w', { bins: [0, 1, 2], counts: [3, 4] }, { step: 2 });
      await run.end();
      const ours = await eventsOf(await runDirOf(run));
      await writeWithTensorboardX({
        logdir: join(root, 'theirs'),
        scalars: scalars.map((s) => ({
          ...s,
          value: Number.isNaN(s.value) ? 'NaN' : s.value,
          wall_time: t / 1000,
        })),
        images: [{ tag: 'img', png_base64: Buffer.from(TEST_PNG).toString('base64'), step: 1 }],
        histograms: [{ tag: 'w', bins: [0, 1, 2], counts: [3, 4], step: 2 }],
      });
      const theirs = await eventsOf(join(root, 'theirs'));
      // The values both wrote: every event with a scalar, image or histogram, in order.
      const valued = (run: RunEvents) =>
        run.files
          .flatMap((f) => f.events)
          .filter((e) => {
            const [value] = (e.summary as { value?: Record<string, unknown>[] })?.value ?? [];
            return (
              value !== undefined &&
              ('simple_value' in value || 'image' in value || 'histo' in value)
            );
          })
          .map(({ wall_time: _w, _record, ...event }) => event);
      expect(valued(ours)).toEqual(valued(theirs));
      // And byte for byte, where the wall time is the same: the scalars.
      const bytes = (run: RunEvents) =>
        run.files
          .flatMap((f) => f.events)
          .filter((e) => JSON.stringify(e).includes('simple_value'))
          .map((e) => (e._record as { hex: string }).hex);
      expect(bytes(ours)).toEqual(bytes(theirs));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('bad input and crashes', () => {
  it('says a log_dir it cannot write is one, once, and the journal keeps the run', async () => {
    const root = await mkdtemp(join(tmpdir(), 'trackstack-tb-bad-'));
    try {
      // A file where the directory should be (as root, permissions would not stop a write).
      const blocked = join(root, 'blocked');
      await writeFile(blocked, 'not a directory');
      const tb = flavor(join(blocked, 'runs'), join(root, 'store'));
      await expect(tb.validateConnection()).rejects.toMatchObject({
        name: 'TensorboardError',
        code: 'BACKEND_REJECTED',
        retryable: false,
        message: expect.stringContaining(blocked),
        hint: expect.stringContaining('log_dir'),
      });
      const run = await createTracker(tb, { logger: silentLogger }).startRun({
        systemMetrics: false,
      });
      run.logMetric('kept', 1, { step: 0 });
      const report = await run.end();
      const errors = report.destinations.flatMap((d) => d.errors);
      expect(errors[0]).toBeInstanceOf(BackendError);
      expect(errors[0]!.message).toContain('cannot make the run directory');
      // The journal still has it: the local store reads it back.
      const summaries = await new LocalRuns(join(root, 'store')).summaries(run.uid);
      expect(summaries.kept?.count).toBe(1);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 60_000);

  it('keeps a file readable up to its last whole record, and a resumed run appends a new file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'trackstack-tb-crash-'));
    try {
      const logDir = join(root, 'runs');
      const storeDir = join(root, 'store');
      const tracker = createTracker(flavor(logDir, storeDir), { logger: silentLogger });
      const first = await tracker.startRun({ name: 'resumed', systemMetrics: false });
      for (let step = 0; step < 10; step++) first.logMetric('m', step, { step });
      await first.end();
      const dir = await runDirOf(first);
      // A crash mid-write: the last record torn.
      const [name] = (await readdir(dir)).filter((n) => n.includes('tfevents'));
      const path = join(dir, name!);
      const { size } = await stat(path);
      await truncate(path, size - 5);
      const torn = await eventsOf(dir);
      expect(torn.files[0]!.framing.trailing_bytes).toBeGreaterThan(0);
      // Every record before the torn one is read.
      expect(torn.accumulator.scalars.m).toHaveLength(10);
      // The run goes on in another process's tracker: a new file, after the first in name order.
      const again = createTracker(flavor(logDir, storeDir), { logger: silentLogger });
      const second = await again.startRun({ id: first.uid, resume: 'allow', systemMetrics: false });
      for (let step = 10; step < 15; step++) second.logMetric('m', step, { step });
      await second.end();
      const files = (await readdir(dir)).filter((n) => n.includes('tfevents')).sort();
      expect(files).toHaveLength(2);
      const resumed = await eventsOf(dir);
      expect(resumed.accumulator.scalars.m!.map((p) => p.step)).toEqual(
        Array.from({ length: 15 }, (_, i) => i),
      );
      // The second file names the params again (none here) and the run's end.
      expect(resumed.plugin_accumulator.hparams['_hparams_/session_end_info']).toBeDefined();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 120_000);

  it('writes a run logged earlier to another backend: trackstack sync --to a tensorboard tracker', async () => {
    const root = await mkdtemp(join(tmpdir(), 'trackstack-tb-sync-'));
    try {
      const storeDir = join(root, 'store');
      const local = createTracker(new LocalExperimentTracker({}, { storeDir }), {
        logger: silentLogger,
      });
      const run = await local.startRun({
        experiment: 'later',
        name: 'offline',
        systemMetrics: false,
      });
      run.logParams({ lr: 0.1 });
      for (let step = 0; step < 50; step++) run.logMetric('loss', 1 / (step + 1), { step });
      await run.end();
      const tb = createTracker(flavor(join(root, 'runs'), storeDir), {
        storeDir,
        logger: silentLogger,
      });
      const report = await syncRun({ uid: run.uid, tracker: tb, logger: silentLogger });
      expect(report.pendingEvents).toBe(0);
      const events = await eventsOf(join(root, 'runs', 'later', 'offline'));
      expect(events.accumulator.scalars.loss).toHaveLength(50);
      expect(
        events.plugin_accumulator.hparams['_hparams_/session_start_info']!.session_start_info!
          .hparams,
      ).toEqual({ lr: 0.1 });
      expect(
        events.plugin_accumulator.hparams['_hparams_/session_end_info']!.session_end_info!.status,
      ).toBe('STATUS_SUCCESS');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 120_000);
});
