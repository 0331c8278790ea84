/**
 * The conformance kit: one call runs the whole suite against a flavor.
 *
 *   describeFlavorConformance({
 *     name: 'my-flavor',
 *     createTracker: ({ storeDir }) => new MyTracker(config, { storeDir }),
 *     readRun: (tracker, run) => readBackFromMyBackend(run.ref!.runId),
 *   });
 *
 * `createTracker` makes an instance of the flavor's class; the kit logs
 * through the tracker API (`createTracker` of core) as a user would, with
 * core's default settings.
 *
 * Each test reads back what the backend holds and compares it with what was
 * logged. Capability flags switch tests off for what a flavor does not
 * support; `overrides` replaces or skips any test by name.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExperimentBackend } from '../contract/backend.js';
import { BackendError, ValidationError } from '../contract/errors.js';
import type { FlavorTracker } from '../contract/flavor.js';
import { DEFAULT_LIMITS, type RequestLimits } from '../contract/limits.js';
import { silentLogger } from '../contract/log.js';
import type { StepRunInfo } from '../contract/step-run.js';
import type { MediaKind, MetricPoint, RunRef, RunStatus } from '../contract/types.js';
import { image } from '../engine/media.js';
import type { Run, StartRunOptions } from '../tracker/run.js';
import { createTracker, type Tracker } from '../tracker/tracker.js';
import { TEST_JPEG, TEST_PNG } from './test-images.js';

export interface BackendRunView {
  status: RunStatus;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Every point of each metric, in step order (ties in logging order). */
  metrics: Record<string, { value: number; step: number; timestamp: number }[]>;
  /** sha256 (hex) of each artifact's bytes, by artifact path. */
  artifacts?: Record<string, string>;
  /** The backend id of the parent run, for nested runs. */
  parentRunId?: string | undefined;
  /** The dataset inputs the backend holds (flavors with `capabilities.inputs`). */
  inputs?: { name: string; digest?: string | undefined; context?: string | undefined }[];
  /**
   * The media the backend holds (flavors with `capabilities.media`): per value its kind, key
   * and step, and what the backend keeps of it (an image's sha256, a table's row count, a
   * histogram's counts).
   */
  media?: {
    kind: MediaKind;
    key: string;
    step: number;
    sha256?: string;
    rows?: number;
    counts?: number[];
  }[];
}

export interface LoggedRun {
  uid: string;
  ref: RunRef | undefined;
}

export interface ConformanceContext<T extends FlavorTracker> {
  /** The flavor's tracker, as `createTracker` made it. */
  flavorTracker: T;
  /** What a user holds: core's tracker of it. */
  tracker: Tracker;
  /** What one request of the flavor holds. */
  requestLimits: RequestLimits;
  storeDir: string;
  workDir: string;
  /** Starts a run with quiet logging and short timeouts. */
  startRun(options?: StartRunOptions): Promise<Run>;
  readRun(run: Run): Promise<BackendRunView>;
}

export type ConformanceTest =
  | 'lifecycle'
  | 'params-tags-metrics'
  | 'beyond-limits'
  | 'non-finite'
  | 'ordering'
  | 'bad-input'
  | 'artifacts'
  | 'resume'
  | 'nested'
  | 'inputs'
  | 'media'
  | 'retryable-errors'
  | 'fatal-errors'
  | 'step-lifecycle';

export interface ConformanceOptions<T extends FlavorTracker> {
  name: string;
  createTracker(context: { storeDir: string }): Promise<T> | T;
  readRun(tracker: T, run: LoggedRun): Promise<BackendRunView>;
  /** What the flavor does not support switches tests off (default: what `capabilities` say). */
  capabilities?: {
    artifacts?: boolean;
    nestedRuns?: boolean;
    resume?: boolean;
    /** The backend stores NaN and ±Infinity and gives them back (MLflow's SQL store clamps ±Infinity). */
    nonFinite?: 'exact' | 'nan-only' | false;
    /** The backend can fail on purpose through `writeBatch` wrapping (default true). */
    faultInjection?: boolean;
    /** The backend keeps `trackstack.uid` as a tag (default true). */
    uidTag?: boolean;
    /**
     * The backend keeps metric values as 32-bit floats (TensorBoard's scalars): values read
     * back are compared with `Math.fround` of what was logged (default false: exactly).
     */
    float32?: boolean;
  };
  /** Replace a test with your own, or `false` to skip it (say why in a comment). */
  overrides?: Partial<
    Record<ConformanceTest, false | ((context: ConformanceContext<T>) => Promise<void>)>
  >;
  timeoutMs?: number;
  /** Cleanup after all tests. */
  teardown?(tracker: T): Promise<void> | void;
}

export function describeFlavorConformance<T extends FlavorTracker>(
  options: ConformanceOptions<T>,
): void {
  describe(`flavor conformance: ${options.name}`, () => {
    let storeDir: string;
    let workDir: string;
    let flavorTracker: T;
    let tracker: Tracker;
    const context = (): ConformanceContext<T> => ({
      flavorTracker,
      tracker,
      requestLimits: isExperimentBackend(flavorTracker)
        ? flavorTracker.limits.request
        : DEFAULT_LIMITS.request,
      storeDir,
      workDir,
      startRun: (runOptions = {}) =>
        tracker.startRun({ experiment: `conformance-${options.name}`, ...runOptions }),
      readRun: async (run) =>
        options.readRun(flavorTracker, {
          uid: run.uid,
          ref: await run.backendRef(flavorTracker.name),
        }),
    });

    beforeAll(async () => {
      storeDir = await mkdtemp(join(tmpdir(), `trackstack-conformance-${options.name}-`));
      workDir = join(storeDir, 'work');
      await mkdir(workDir);
      flavorTracker = await options.createTracker({ storeDir });
      tracker = createTracker(flavorTracker, { storeDir, logger: silentLogger });
    });
    afterAll(async () => {
      await options.teardown?.(flavorTracker);
      await rm(storeDir, { recursive: true, force: true });
    });

    // A flavor without a backend (local) keeps everything: its journal is its store.
    const own = () =>
      isExperimentBackend(flavorTracker)
        ? flavorTracker.capabilities
        : { artifacts: true, nestedRuns: true, resume: true };
    const caps = () => ({
      artifacts: options.capabilities?.artifacts ?? own().artifacts,
      nestedRuns: options.capabilities?.nestedRuns ?? own().nestedRuns,
      resume: options.capabilities?.resume ?? own().resume,
      nonFinite: options.capabilities?.nonFinite ?? 'exact',
      faultInjection:
        (options.capabilities?.faultInjection ?? true) && isExperimentBackend(flavorTracker),
      uidTag: options.capabilities?.uidTag ?? true,
    });
    /** A logged value as the backend keeps it. */
    const stored = (value: number) => (options.capabilities?.float32 ? Math.fround(value) : value);

    const define = (
      name: ConformanceTest,
      title: string,
      body: (c: ConformanceContext<T>) => Promise<void>,
      enabled: () => boolean = () => true,
    ) => {
      const override = options.overrides?.[name];
      if (override === false) return;
      it(
        `${name}: ${title}`,
        async (ctx) => {
          if (override === undefined && !enabled()) {
            ctx.skip();
            return;
          }
          await (override ?? body)(context());
        },
        options.timeoutMs ?? 60_000,
      );
    };

    define(
      'lifecycle',
      'creates a run, ends it FINISHED, and a failed run ends FAILED',
      async (c) => {
        const run = await c.startRun({ name: 'lifecycle', tags: { team: 'core' } });
        const report = await run.end();
        expect(report.pendingEvents).toBe(0);
        const view = await c.readRun(run);
        expect(view.status).toBe('FINISHED');
        expect(view.tags.team).toBe('core');
        if (caps().uidTag) expect(view.tags['trackstack.uid']).toBe(run.uid);

        let failed: Run | undefined;
        const throwing = c.tracker.withRun(
          { logger: silentLogger, name: 'lifecycle-failed' },
          (inner) => {
            failed = inner;
            throw new Error('boom');
          },
        );
        await expect(throwing).rejects.toThrow('boom');
        expect((await c.readRun(failed!)).status).toBe('FAILED');
      },
    );

    define('params-tags-metrics', 'params, tags and metric histories arrive exactly', async (c) => {
      const run = await c.startRun({ name: 'values' });
      run.logParams({
        lr: 0.01,
        layers: [64, 32],
        optimizer: { name: 'adam', beta: 0.9 },
        flag: true,
      });
      run.setTags({ stage: 'dev', version: 3 });
      const t0 = Date.now() - 10_000;
      for (let step = 0; step < 5; step++) {
        run.logMetrics({ loss: 1 / (step + 1), acc: step / 10 }, { step, timestamp: t0 + step });
      }
      await run.end();
      const view = await c.readRun(run);
      expect(view.params).toMatchObject({
        lr: '0.01',
        layers: '[64,32]',
        'optimizer.name': 'adam',
        'optimizer.beta': '0.9',
        flag: 'true',
      });
      expect(view.tags).toMatchObject({ stage: 'dev', version: '3' });
      expect(view.metrics.loss).toEqual(
        [0, 1, 2, 3, 4].map((step) => ({
          value: stored(1 / (step + 1)),
          step,
          timestamp: t0 + step,
        })),
      );
      expect(view.metrics.acc?.map((p) => p.value)).toEqual([0, 0.1, 0.2, 0.3, 0.4].map(stored));
    });

    define(
      'beyond-limits',
      'more params, tags and points than one request holds all arrive once',
      async (c) => {
        const limits = c.requestLimits;
        const run = await c.startRun({ name: 'limits' });
        const params: Record<string, number> = {};
        for (let i = 0; i < limits.maxParams * 2 + 7; i++) params[`p${i}`] = i;
        run.logParams(params);
        const tags: Record<string, string> = {};
        for (let i = 0; i < limits.maxTags + 3; i++) tags[`t${i}`] = `v${i}`;
        run.setTags(tags);
        const points = limits.maxMetrics * 2 + 13;
        for (let i = 0; i < points; i++) run.logMetric('m', i, { step: i });
        const report = await run.end();
        expect(report.pendingEvents).toBe(0);
        const view = await c.readRun(run);
        expect(Object.keys(view.params).filter((k) => k.startsWith('p')).length).toBe(
          Object.keys(params).length,
        );
        expect(view.params.p7).toBe('7');
        expect(Object.keys(view.tags).filter((k) => /^t\d+$/.test(k)).length).toBe(
          Object.keys(tags).length,
        );
        expect(view.metrics.m?.length).toBe(points);
        expect(view.metrics.m?.map((p) => p.step)).toEqual(
          Array.from({ length: points }, (_, i) => i),
        );
      },
    );

    define(
      'non-finite',
      'NaN and ±Infinity arrive as the backend keeps them',
      async (c) => {
        const run = await c.startRun({ name: 'non-finite' });
        run.logMetric('x', Number.NaN, { step: 0 });
        run.logMetric('x', Number.POSITIVE_INFINITY, { step: 1 });
        run.logMetric('x', Number.NEGATIVE_INFINITY, { step: 2 });
        run.logMetric('x', 1.5, { step: 3 });
        await run.end();
        const values = (await c.readRun(run)).metrics.x?.map((p) => p.value) ?? [];
        expect(values).toHaveLength(4);
        expect(Number.isNaN(values[0])).toBe(true);
        if (caps().nonFinite === 'exact') {
          expect(values.slice(1)).toEqual([
            Number.POSITIVE_INFINITY,
            Number.NEGATIVE_INFINITY,
            1.5,
          ]);
        } else {
          expect(values[1]).toBeGreaterThan(1e300);
          expect(values[2]).toBeLessThan(-1e300);
          expect(values[3]).toBe(1.5);
        }
      },
      () => caps().nonFinite !== false,
    );

    define('ordering', 'points of a metric keep their logging order', async (c) => {
      const run = await c.startRun({ name: 'ordering', bufferSize: 64, flushIntervalMs: 5 });
      const expected: number[] = [];
      for (let step = 0; step < 600; step++) {
        run.logMetric('ordered', step * 2, { step });
        expected.push(step * 2);
        if (step % 150 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await run.end();
      expect((await c.readRun(run)).metrics.ordered?.map((p) => p.value)).toEqual(expected);
    });

    define(
      'bad-input',
      'bad input throws a typed error at the call and nothing of it is logged',
      async (c) => {
        const run = await c.startRun({ name: 'bad-input' });
        expect(() => run.logMetric('bad//key', 1)).toThrow(ValidationError);
        expect(() => run.logMetric('ok', 'x' as unknown as number)).toThrow(ValidationError);
        expect(() => run.logMetric('k'.repeat(c.tracker.limits.maxKeyLength + 1), 1)).toThrow(
          ValidationError,
        );
        run.logParams({ fixed: 1 });
        run.logParams({ fixed: 1 });
        let conflict: unknown;
        try {
          run.logParams({ other: 2, fixed: 2 });
        } catch (error) {
          conflict = error;
        }
        expect(ValidationError.isInstance(conflict) && conflict.code).toBe('PARAM_CONFLICT');
        await run.end();
        const view = await c.readRun(run);
        expect(view.params.fixed).toBe('1');
        expect(view.params.other).toBeUndefined();
        expect(view.metrics.ok).toBeUndefined();
      },
    );

    define(
      'artifacts',
      'files and directories arrive byte for byte',
      async (c) => {
        const file = join(c.workDir, 'model.json');
        await writeFile(file, JSON.stringify({ weights: [1, 2, 3] }));
        const dir = join(c.workDir, 'plots');
        await mkdir(join(dir, 'sub'), { recursive: true });
        await writeFile(join(dir, 'a.txt'), 'alpha');
        await writeFile(join(dir, 'sub', 'b.csv'), 'x,y\n1,2\n');
        const run = await c.startRun({ name: 'artifacts' });
        await run.logArtifact(file);
        await run.logArtifact(dir, { artifactPath: 'eval/plots' });
        await writeFile(file, 'overwritten after logging');
        await run.end();
        const sha = (text: string) => createHash('sha256').update(text).digest('hex');
        expect((await c.readRun(run)).artifacts).toEqual({
          'model.json': sha(JSON.stringify({ weights: [1, 2, 3] })),
          'eval/plots/a.txt': sha('alpha'),
          'eval/plots/sub/b.csv': sha('x,y\n1,2\n'),
        });
      },
      () => caps().artifacts,
    );

    define(
      'resume',
      'a run resumed by id continues the same backend run',
      async (c) => {
        const first = await c.startRun({ name: 'resumable' });
        first.logParams({ a: 1 });
        first.logMetric('r', 1, { step: 0 });
        await first.end();
        const second = await c.startRun({ id: first.uid, resume: 'allow' });
        expect(() => second.logParams({ a: 2 })).toThrow(ValidationError);
        second.logMetric('r', 2, { step: 1 });
        await second.end();
        // A flavor without a backend (local) identifies runs by their uid.
        const firstId = (await first.backendRef(c.flavorTracker.name))?.runId ?? first.uid;
        const secondId = (await second.backendRef(c.flavorTracker.name))?.runId ?? second.uid;
        expect(secondId).toBe(firstId);
        expect((await c.readRun(second)).metrics.r?.map((p) => p.value)).toEqual([1, 2]);
      },
      () => caps().resume,
    );

    define(
      'nested',
      'a child run points at its parent',
      async (c) => {
        const parent = await c.startRun({ name: 'parent' });
        const child = await c.startRun({ name: 'child', parent });
        await child.end();
        await parent.end();
        const parentId = (await parent.backendRef(c.flavorTracker.name))?.runId ?? parent.uid;
        expect((await c.readRun(child)).parentRunId).toBe(parentId);
      },
      () => caps().nestedRuns,
    );

    define(
      'inputs',
      'a dataset input arrives where the flavor records inputs, and never throws where it does not',
      async (c) => {
        const run = await c.startRun({ name: 'inputs' });
        await run.logInput({
          name: 'iris',
          digest: 'abc123',
          source: 's3://bucket/iris.csv',
          context: 'training',
        });
        run.logMetric('m', 1);
        const report = await run.end();
        expect(report.pendingEvents).toBe(0);
        expect(report.destinations[0]?.errors ?? []).toEqual([]);
        const takes = isExperimentBackend(c.flavorTracker)
          ? c.flavorTracker.capabilities.inputs === true
          : true;
        const view = await c.readRun(run);
        if (takes && view.inputs !== undefined) {
          expect(view.inputs).toEqual([
            expect.objectContaining({ name: 'iris', digest: 'abc123', context: 'training' }),
          ]);
        }
      },
    );

    define(
      'media',
      'images, a table with an image and a histogram arrive where the flavor takes them, and never throw where it does not',
      async (c) => {
        const run = await c.startRun({ name: 'media' });
        await run.logImage('samples/pred', TEST_PNG, { step: 1, caption: 'first' });
        await run.logImage('samples/pred', TEST_JPEG, { step: 2 });
        await run.logTable(
          'samples/table',
          {
            columns: ['id', 'picture', 'ok'],
            rows: [
              [1, image(TEST_PNG), true],
              [2, null, false],
            ],
          },
          { step: 1 },
        );
        run.logHistogram('weights', [1, 2, 2, 3], { step: 1, bins: 3 });
        const report = await run.end();
        expect(report.pendingEvents).toBe(0);
        expect(report.destinations[0]?.errors ?? []).toEqual([]);
        const kinds = new Set<MediaKind>(
          isExperimentBackend(c.flavorTracker)
            ? (c.flavorTracker.capabilities.media ?? [])
            : ['image', 'table', 'histogram'],
        );
        const view = await c.readRun(run);
        if (view.media === undefined) return;
        const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
        const expected: NonNullable<BackendRunView['media']> = [];
        if (kinds.has('image')) {
          expected.push(
            { kind: 'image', key: 'samples/pred', step: 1, sha256: sha(TEST_PNG) },
            { kind: 'image', key: 'samples/pred', step: 2, sha256: sha(TEST_JPEG) },
          );
        }
        if (kinds.has('table'))
          expected.push({ kind: 'table', key: 'samples/table', step: 1, rows: 2 });
        if (kinds.has('histogram')) {
          expected.push({ kind: 'histogram', key: 'weights', step: 1, counts: [1, 2, 1] });
        }
        const id = (m: { kind: string; key: string; step: number }) =>
          `${m.kind} ${m.key} ${m.step}`;
        expect(view.media.map(id).sort()).toEqual(expected.map(id).sort());
        for (const held of view.media) {
          // What the view reports of a value (its sha256, rows, counts) is what was logged.
          const logged = expected.find((e) => id(e) === id(held))!;
          for (const field of ['sha256', 'rows', 'counts'] as const) {
            if (held[field] !== undefined) expect(held[field]).toEqual(logged[field]);
          }
        }
      },
    );

    define(
      'retryable-errors',
      'retryable failures are retried: nothing lost, nothing duplicated',
      async (c) => {
        const restore = injectFaults(
          c.flavorTracker,
          () =>
            new BackendError('BACKEND_UNAVAILABLE', 'injected: 503', {
              retryable: true,
              statusCode: 503,
              retryAfterMs: 20,
            }),
          3,
        );
        try {
          const run = await c.startRun({ name: 'retryable' });
          for (let step = 0; step < 50; step++) run.logMetric('retried', step, { step });
          const report = await run.end();
          expect(report.pendingEvents).toBe(0);
          expect(report.destinations[0]?.errors).toEqual([]);
          expect((await c.readRun(run)).metrics.retried?.map((p) => p.step)).toEqual(
            Array.from({ length: 50 }, (_, i) => i),
          );
        } finally {
          restore();
        }
      },
      () => caps().faultInjection,
    );

    define(
      'fatal-errors',
      'a refused batch is reported as a typed error and the rest still arrives',
      async (c) => {
        const run = await c.startRun({ name: 'fatal', bufferSize: 10, flushIntervalMs: 0 });
        for (let step = 0; step < 10; step++) run.logMetric('lost', step, { step });
        const restore = injectFaults(
          c.flavorTracker,
          () =>
            new BackendError('BACKEND_REJECTED', 'injected: 400', {
              retryable: false,
              statusCode: 400,
            }),
          1,
        );
        try {
          await expect(run.flush({ timeoutMs: 20_000 })).rejects.toSatisfy(
            (e: unknown) => BackendError.isInstance(e) && e.statusCode === 400,
          );
        } finally {
          restore();
        }
        for (let step = 0; step < 10; step++) run.logMetric('kept', step, { step });
        const report = await run.end();
        expect(report.destinations[0]?.errors.map((e) => e.code)).toEqual(['BACKEND_REJECTED']);
        const view = await c.readRun(run);
        expect(view.metrics.kept?.length).toBe(10);
        expect(view.status).toBe('FINISHED');
      },
      () => caps().faultInjection,
    );

    define(
      'step-lifecycle',
      'runStep gives metadata, and a retried step resumes its run',
      async (c) => {
        const info: StepRunInfo = {
          pipelineName: `pipeline-${options.name}`,
          pipelineRunName: 'pipeline-run-1',
          pipelineRunId: 'b3c1a9f0-0000-4000-8000-000000000001',
          stepName: 'trainer',
          stepRunId: `${Date.now()}-${Math.random()}`,
        };
        const first = await c.tracker.runStep(info, (run) => {
          run.logMetric('step/loss', 1, { step: 0 });
          return run.uid;
        });
        expect(first.metadata.experiment_tracker_url).toMatch(/^[a-z][a-z0-9+.-]*:/);
        expect(first.metadata.trackstack_run_uid).toBe(first.value);
        await expect(
          c.tracker.runStep(info, () => {
            throw new Error('step failed');
          }),
        ).rejects.toThrow('step failed');
        const retried = await c.tracker.runStep(info, (run) => run.uid);
        expect(retried.value).toBe(first.value);
      },
    );
  });
}

/**
 * Groups stored points into the `metrics` of a BackendRunView: per key, in step
 * order (a stable sort keeps logging order within a step).
 */
export function metricHistories(points: readonly MetricPoint[]): BackendRunView['metrics'] {
  const out: BackendRunView['metrics'] = {};
  for (const { key, value, step, timestamp } of [...points].sort((a, b) => a.step - b.step)) {
    let history = out[key];
    if (history === undefined) {
      history = [];
      out[key] = history;
    }
    history.push({ value, step, timestamp });
  }
  return out;
}

/** Makes the next `times` writeBatch calls of a flavor's tracker fail with `error()`; returns the undo. */
export function injectFaults(
  tracker: FlavorTracker,
  error: () => Error,
  times: number,
): () => void {
  if (!isExperimentBackend(tracker)) throw new TypeError(`${tracker.name} has no backend to fail`);
  const backend = tracker;
  const original = backend.writeBatch;
  let left = times;
  backend.writeBatch = async function (this: typeof backend, ...args) {
    if (left > 0) {
      left -= 1;
      throw error();
    }
    return original.apply(this, args);
  };
  return () => {
    backend.writeBatch = original;
  };
}
