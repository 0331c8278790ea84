import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendError } from '../contract/errors.js';
import type { Logger } from '../contract/log.js';
import { silentLogger } from '../contract/log.js';
import { image } from '../engine/media.js';
import { LocalRuns } from '../local/local-runs.js';
import { LocalExperimentTracker } from '../local/local-tracker.js';
import { InMemoryBackend, InMemoryTracker } from '../testing/in-memory-tracker.js';
import { TEST_JPEG, TEST_PNG } from '../testing/test-images.js';
import { currentRun } from './context.js';
import { getTracker } from './get-tracker.js';
import { CAPTURE_SOURCE_ENV } from './open-run.js';
import type { Run, StartRunOptions } from './run.js';
import { syncRun } from './sync.js';
import { createTracker } from './tracker.js';

let storeDir: string;
beforeEach(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-api-'));
});
afterEach(async () => {
  await rm(storeDir, { recursive: true, force: true });
});

const local = () =>
  createTracker(new LocalExperimentTracker({}, { storeDir }), { logger: silentLogger });

/** A tracker of an in-memory backend of that name. */
const memory = (
  backend: string,
  options: { logger?: Logger; runDefaults?: StartRunOptions } = {},
) =>
  createTracker(new InMemoryTracker({ backend, ordered_writes: false }, { storeDir }), {
    logger: silentLogger,
    ...options,
  });

describe('await using', () => {
  it('ends the run FINISHED when the scope is left', async () => {
    let uid = '';
    {
      await using run = await local().startRun({ experiment: 'dispose' });
      run.logMetric('m', 1);
      uid = run.uid;
    }
    expect((await new LocalRuns(storeDir).get(uid)).status).toBe('FINISHED');
  });

  it('keeps an explicit end status (end() before the scope ends wins)', async () => {
    let uid = '';
    await expect(
      (async () => {
        await using run = await local().startRun({ experiment: 'dispose' });
        uid = run.uid;
        try {
          throw new Error('boom');
        } catch (error) {
          await run.end('FAILED');
          throw error;
        }
      })(),
    ).rejects.toThrow('boom');
    expect((await new LocalRuns(storeDir).get(uid)).status).toBe('FAILED');
  });
});

describe('withRun and currentRun', () => {
  it('gives the run to code that was not handed it, across awaits', async () => {
    const deep = async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      currentRun()?.logMetric('deep', 42);
    };
    let seen: Run | undefined;
    const value = await local().withRun({ experiment: 'ctx' }, async (run) => {
      seen = currentRun();
      await deep();
      return run.uid;
    });
    expect(seen?.uid).toBe(value);
    expect(currentRun()).toBeUndefined();
    const snapshot = await new LocalRuns(storeDir).get(value);
    expect(snapshot.metrics.deep).toBe(42);
    expect(snapshot.status).toBe('FINISHED');
  });

  it('ends FAILED and rethrows when the function throws', async () => {
    let uid = '';
    await expect(
      local().withRun({ experiment: 'ctx' }, (run) => {
        uid = run.uid;
        throw new TypeError('bad');
      }),
    ).rejects.toThrow(TypeError);
    expect((await new LocalRuns(storeDir).get(uid)).status).toBe('FAILED');
  });

  it('keeps concurrent runs apart', async () => {
    const tracker = local();
    const uids = await Promise.all(
      [1, 2, 3].map((i) =>
        tracker.withRun({ experiment: 'ctx', name: `r${i}` }, async () => {
          await new Promise((resolve) => setTimeout(resolve, 5 * (4 - i)));
          currentRun()!.logParams({ i });
          return currentRun()!.uid;
        }),
      ),
    );
    const runs = new LocalRuns(storeDir);
    expect(await Promise.all(uids.map(async (uid) => (await runs.get(uid)).params.i))).toEqual([
      '1',
      '2',
      '3',
    ]);
  });
});

describe('fan-out', () => {
  it('delivers one run to several trackers, each exactly once', async () => {
    const names = [`fan-a-${process.pid}`, `fan-b-${process.pid}`];
    const members = names.map(
      (backend, i) =>
        new InMemoryTracker({ backend, ordered_writes: i === 1 }, { storeDir, name: `t${i}` }),
    );
    const group = createTracker(members, { storeDir, logger: silentLogger });
    expect(group.members).toEqual([
      { name: 't0', flavor: 'memory' },
      { name: 't1', flavor: 'memory' },
    ]);
    const run = await group.startRun({ experiment: 'fan', tags: { who: 'both' } });
    run.logParams({ lr: 1 });
    for (let step = 0; step < 2500; step++) run.logMetric('m', step, { step });
    const report = await run.end();
    expect(report.destinations.map((d) => [d.name, d.pendingEvents, d.finished])).toEqual([
      ['t0', 0, true],
      ['t1', 0, true],
    ]);
    for (const name of names) {
      const stored = InMemoryBackend.get(name).findByUid(run.uid)!;
      expect(stored.metrics).toHaveLength(2500);
      expect(stored.params.get('lr')).toBe('1');
      expect(stored.tags.get('who')).toBe('both');
      expect(stored.status).toBe('FINISHED');
    }
    expect((await new LocalRuns(storeDir).get(run.uid)).destinations).toEqual(['t0', 't1']);
  });

  it('getTracker() with nothing configured is the local default', async () => {
    const tracker = await getTracker({ storeDir });
    expect(tracker.flavor?.name).toBe('local');
    expect(tracker.name).toBe('local');
    expect(tracker.members).toEqual([{ name: 'local', flavor: 'local' }]);
    // What users hold has no backend primitive to call.
    expect('writeBatch' in tracker).toBe(false);
  });
});

describe('offline mode', () => {
  it('journals only, and TRACKSTACK_MODE=offline does the same', async () => {
    const backend = `offline-${process.pid}`;
    const tracker = memory(backend);
    const run = await tracker.startRun({ mode: 'offline' });
    run.logMetric('m', 1);
    await run.end();
    process.env.TRACKSTACK_MODE = 'offline';
    try {
      const second = await tracker.startRun();
      second.logMetric('m', 2);
      await second.end();
    } finally {
      delete process.env.TRACKSTACK_MODE;
    }
    expect(InMemoryBackend.get(backend).calls).toEqual([]);
    expect(await new LocalRuns(storeDir).list()).toHaveLength(2);
  });
});

describe('resume', () => {
  it('delivers what an earlier process left behind, and only the last end counts', async () => {
    const backend = `resume-${process.pid}`;
    const tracker = memory(backend);
    const first = await tracker.startRun({ mode: 'offline', experiment: 'resume' });
    first.logParams({ a: 1 });
    first.logMetric('m', 1, { step: 0 });
    await first.end('FAILED');
    await new Promise((resolve) => setTimeout(resolve, 5));

    const second = await tracker.startRun({ id: first.uid, resume: 'must' });
    expect((await new LocalRuns(storeDir).get(first.uid)).status).toBe('RUNNING');
    second.logMetric('m', 2, { step: 1 });
    await second.flush();
    const stored = InMemoryBackend.get(backend).findByUid(first.uid)!;
    // The old FAILED end was superseded by the resume: the run is not finished yet.
    expect(stored.status).toBe('RUNNING');
    expect(stored.metrics.map((p) => p.value)).toEqual([1, 2]);
    expect(stored.params.get('a')).toBe('1');
    await second.end();
    expect(stored.status).toBe('FINISHED');
    expect((await new LocalRuns(storeDir).get(first.uid)).status).toBe('FINISHED');
  });

  it("refuses an id that exists unless resume allows it, and 'must' needs one that exists", async () => {
    const tracker = local();
    const run = await tracker.startRun();
    await run.end();
    await expect(tracker.startRun({ id: run.uid })).rejects.toMatchObject({ code: 'RUN_EXISTS' });
    await expect(tracker.startRun({ id: 'no-such-run', resume: 'must' })).rejects.toMatchObject({
      code: 'RUN_NOT_FOUND',
    });
    await expect(tracker.startRun({ id: '../escape' })).rejects.toMatchObject({
      code: 'INVALID_RUN_ID',
    });
  });
});

describe('review fixes', () => {
  it('sends the final status again when a finished run is resumed', async () => {
    const backend = `refinish-${process.pid}`;
    const tracker = memory(backend);
    const first = await tracker.startRun();
    await first.end('FAILED');
    const stored = InMemoryBackend.get(backend).findByUid(first.uid)!;
    expect(stored.status).toBe('FAILED');
    const retry = await tracker.startRun({ id: first.uid, resume: 'allow', tags: { attempt: 2 } });
    await retry.end('FINISHED');
    expect(stored.status).toBe('FINISHED');
    expect(stored.tags.get('attempt')).toBe('2');
  });

  it('refuses a conflicting start param on resume before touching the run', async () => {
    const tracker = local();
    const first = await tracker.startRun({ params: { lr: 1 } });
    await first.end();
    await expect(
      tracker.startRun({ id: first.uid, resume: 'allow', params: { lr: 2 } }),
    ).rejects.toMatchObject({
      code: 'PARAM_CONFLICT',
    });
    const snapshot = await new LocalRuns(storeDir).get(first.uid);
    expect(snapshot.status).toBe('FINISHED');
    expect(snapshot.params.lr).toBe('1');
  });

  it('does not hang runStep metadata on a backend that is down', async () => {
    const backend = `down-${process.pid}`;
    const tracker = memory(backend, { runDefaults: { startTimeoutMs: 50, endTimeoutMs: 50 } });
    InMemoryBackend.get(backend).breakDown(
      '*',
      () => new BackendError('BACKEND_UNREACHABLE', 'down', { retryable: true }),
    );
    const started = Date.now();
    const { metadata } = await tracker.runStep(
      {
        pipelineName: 'p',
        pipelineRunName: 'pr',
        pipelineRunId: 'x',
        stepName: 's',
        stepRunId: `down-${Date.now()}`,
      },
      () => 1,
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(metadata.experiment_tracker_url).toMatch(/^file:/);
    InMemoryBackend.get(backend).heal();
  });

  it("uses the tracker's logger for its runs and says how to deliver an offline run", async () => {
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(m), info: () => {}, debug: () => {} };
    const tracker = memory(`log-${process.pid}`, { logger });
    const run = await tracker.startRun({ mode: 'offline' });
    run.logMetric('m', 1);
    const report = await run.end();
    expect(report.pendingEvents).toBe(2);
    expect(report.hint).toContain(`trackstack sync ${run.uid}`);
    expect(lines.join('\n')).toContain(`trackstack sync ${run.uid}`);
  });

  it('refuses to sync to a group or to the local flavor, with a clear message', async () => {
    const run = await local().startRun();
    await run.end();
    const group = createTracker(
      [new LocalExperimentTracker({}, { storeDir }), new LocalExperimentTracker({}, { storeDir })],
      { logger: silentLogger },
    );
    await expect(syncRun({ uid: run.uid, tracker: group, logger: silentLogger })).rejects.toThrow(
      /nothing to sync|group/,
    );
    await expect(syncRun({ uid: run.uid, tracker: local(), logger: silentLogger })).rejects.toThrow(
      /nothing to sync/,
    );
  });
});

describe('where a run ran (captureSource)', () => {
  it('records the source in run.json, hands it to the backend, and can be turned off', async () => {
    const tracker = memory('source');
    const run = await tracker.startRun({ experiment: 'source' });
    await run.end();
    const source = (await new LocalRuns(storeDir).get(run.uid)).source;
    expect(source).toMatchObject({ host: hostname(), node: process.version });
    expect(source?.command).toEqual(process.argv);
    const stored = [...InMemoryBackend.get('source').runs.values()].find(
      (r) => r.init.uid === run.uid,
    );
    expect(stored?.init.source).toEqual(source);

    const off = await tracker.startRun({ experiment: 'source', captureSource: false });
    await off.end();
    expect((await new LocalRuns(storeDir).get(off.uid)).source).toBeUndefined();

    process.env[CAPTURE_SOURCE_ENV] = '0';
    try {
      const envOff = await tracker.startRun({ experiment: 'source' });
      await envOff.end();
      expect((await new LocalRuns(storeDir).get(envOff.uid)).source).toBeUndefined();
      // The option wins over the environment.
      const on = await tracker.startRun({ experiment: 'source', captureSource: true });
      await on.end();
      expect((await new LocalRuns(storeDir).get(on.uid)).source).toBeDefined();
    } finally {
      delete process.env[CAPTURE_SOURCE_ENV];
    }
  });
});

describe('sync to another backend', () => {
  it('gives the run its source, and nests a child under its parent once the parent is there', async () => {
    const parent = await local().startRun({ experiment: 'later' });
    const child = await local().startRun({ experiment: 'later', parent });
    await child.end();
    await parent.end();
    const target = memory('later');
    for (const uid of [parent.uid, child.uid]) {
      const report = await syncRun({ uid, tracker: target, logger: silentLogger });
      expect(report.pendingEvents).toBe(0);
    }
    const runs = [...InMemoryBackend.get('later').runs.values()];
    const parentRun = runs.find((r) => r.init.uid === parent.uid)!;
    const childRun = runs.find((r) => r.init.uid === child.uid)!;
    expect(parentRun.init.source).toEqual((await new LocalRuns(storeDir).get(parent.uid)).source);
    expect(parentRun.init.source?.node).toBe(process.version);
    expect(childRun.init.parent?.runId).toBe(parentRun.runId);
  });
});

describe('child runs', () => {
  it('startChild nests under the parent in a backend with nested runs, by Run or by uid', async () => {
    const tracker = memory('children');
    const parent = await tracker.startRun({ experiment: 'kids' });
    const child = await parent.startChild({ name: 'child' });
    expect(child.parent).toBe(parent);
    expect(child.parentUid).toBe(parent.uid);
    // Another process knows only the parent's uid (a worker): the ref comes from the store.
    const worker = await memory('children').startRun({ experiment: 'kids', parent: parent.uid });
    expect(worker.parent).toBeUndefined();
    expect(worker.parentUid).toBe(parent.uid);
    // The parent ends first; its children go on.
    await parent.end();
    child.logMetric('m', 1);
    worker.logMetric('m', 2);
    await Promise.all([child.end(), worker.end()]);
    const runs = [...InMemoryBackend.get('children').runs.values()];
    const parentRun = runs.find((r) => r.init.uid === parent.uid)!;
    for (const uid of [child.uid, worker.uid]) {
      const run = runs.find((r) => r.init.uid === uid)!;
      expect(run.init.parent?.runId, uid).toBe(parentRun.runId);
      expect(run.init.parentUid, uid).toBe(parent.uid);
      expect(run.status, uid).toBe('FINISHED');
    }
    expect(parentRun.status).toBe('FINISHED');
    const listed = await new LocalRuns(storeDir).list();
    expect(listed.find((r) => r.uid === worker.uid)?.parentUid).toBe(parent.uid);
  });

  it('refuses a parent uid the store does not have', async () => {
    await expect(local().startRun({ parent: 'no-such-run' })).rejects.toMatchObject({
      code: 'RUN_NOT_FOUND',
    });
  });
});

describe('dataset inputs (logInput)', () => {
  it('records inputs in the backend and the store, with the digest of a file and a source type from the source', async () => {
    const file = join(storeDir, 'iris.csv');
    await writeFile(file, 'sepal,petal\n1,2\n');
    const run = await memory('inputs').startRun({ experiment: 'data' });
    await run.logInput({ name: 'iris', path: file, context: 'training' });
    await run.logInput({ name: 'iris', path: file, context: 'training' });
    await run.logInput({
      name: 'remote',
      source: 'https://example.com/x.parquet',
      schema: { cols: ['a'] },
    });
    await run.logInput({ name: 'plain' });
    await run.end();
    const digest = createHash('sha256').update('sepal,petal\n1,2\n').digest('hex').slice(0, 16);
    const expected = [
      { name: 'iris', digest, source: file, sourceType: 'local', context: 'training' },
      {
        name: 'remote',
        digest: expect.stringMatching(/^[0-9a-f]{16}$/),
        source: 'https://example.com/x.parquet',
        sourceType: 'http',
        schema: '{"cols":["a"]}',
      },
      { name: 'plain', digest: expect.stringMatching(/^[0-9a-f]{16}$/), sourceType: 'code' },
    ];
    expect((await new LocalRuns(storeDir).get(run.uid)).inputs).toEqual(expected);
    const stored = [...InMemoryBackend.get('inputs').runs.values()].find(
      (r) => r.init.uid === run.uid,
    )!;
    expect(stored.inputs).toEqual(expected);
  });

  it('refuses a bad input with a typed error, before anything is logged', async () => {
    const run = await local().startRun();
    for (const [input, key] of [
      [{}, 'input.name'],
      [{ name: '' }, 'input.name'],
      [{ name: 'x', digest: 'd'.repeat(37) }, 'input.digest'],
      [{ name: 'x', context: 7 }, 'input.context'],
      [{ name: 'x', path: join(storeDir, 'missing.csv') }, 'input.path'],
    ] as const) {
      await expect(run.logInput(input as never)).rejects.toMatchObject({
        code: 'INVALID_VALUE',
        key,
      });
    }
    await run.end();
    expect((await new LocalRuns(storeDir).get(run.uid)).inputs).toEqual([]);
  });

  it('says once that a backend does not record inputs, and keeps them in the journal', async () => {
    class NoInputs extends InMemoryTracker {
      override get capabilities() {
        return { ...super.capabilities, inputs: false };
      }
    }
    const lines: string[] = [];
    const logger = { ...silentLogger, warn: (line: string) => lines.push(line) };
    const tracker = createTracker(
      new NoInputs({ backend: 'no-inputs', ordered_writes: false }, { storeDir }),
      { logger },
    );
    const run = await tracker.startRun({ experiment: 'data' });
    await run.logInput({ name: 'a' });
    await run.logInput({ name: 'b' });
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
    expect(lines.filter((l) => /do(es)? not record dataset inputs/.test(l))).toHaveLength(1);
    expect((await new LocalRuns(storeDir).get(run.uid)).inputs.map((i) => i.name)).toEqual([
      'a',
      'b',
    ]);
  });
});

describe('media (logImage, logTable, logHistogram, logText, logJson)', () => {
  const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

  it('stages every image before the call resolves: a file changed or deleted after it is still delivered as logged', async () => {
    const file = join(storeDir, 'pred.png');
    await writeFile(file, TEST_PNG);
    const run = await memory('media-stage').startRun();
    await run.logImage('pred', file, { step: 3, caption: 'a cat' });
    await writeFile(file, TEST_JPEG);
    await run.logTable('t', { columns: ['img'], rows: [[image(file)]] }, { step: 1 });
    await rm(file);
    await run.end();
    const stored = [...InMemoryBackend.get('media-stage').runs.values()].find(
      (r) => r.init.uid === run.uid,
    )!;
    const [img, table] = stored.media;
    expect(img).toMatchObject({
      kind: 'image',
      key: 'pred',
      step: 3,
      image: { format: 'png', width: 24, height: 16, caption: 'a cat', sha256: sha(TEST_PNG) },
    });
    expect(sha(img!.bytes!)).toBe(sha(TEST_PNG));
    expect(table).toMatchObject({ kind: 'table', columns: ['img'], images: [{ format: 'jpeg' }] });
    const local = await new LocalRuns(storeDir).get(run.uid);
    expect(local.media.map((m) => [m.kind, m.key, m.step])).toEqual([
      ['image', 'pred', 3],
      ['table', 't', 1],
    ]);
  });

  it('reads tables back from the store with their cells, images included', async () => {
    const run = await local().startRun();
    const cell = image(TEST_JPEG, { caption: 'c' });
    await run.logTable('eval', {
      columns: ['id', 'img', 'score', 'ok'],
      rows: [
        [1, cell, 0.5, true],
        [2, null, Number.NaN, false],
      ],
    });
    run.logHistogram('w', [1, 2, 3], { step: 2, bins: 2 });
    await run.end();
    const [table, histogram] = await new LocalRuns(storeDir).media(run.uid);
    expect(table).toMatchObject({
      kind: 'table',
      columns: ['id', 'img', 'score', 'ok'],
      rows: [
        [1, { format: 'jpeg', caption: 'c', sha256: sha(TEST_JPEG) }, 0.5, true],
        [2, null, Number.NaN, false],
      ],
    });
    expect(histogram).toMatchObject({ kind: 'histogram', key: 'w', step: 2, counts: [1, 2] });
  });

  it('refuses bad media with a typed error naming the key, and logs nothing of it', async () => {
    const run = await local().startRun();
    const truncated = TEST_PNG.subarray(0, TEST_PNG.length - 20);
    const cases: [() => Promise<unknown>, string, string][] = [
      [() => run.logImage('bad', truncated), 'bad', 'image-format'],
      [() => run.logImage('bad', Buffer.from('GIF89a....')), 'bad', 'image-format'],
      [() => run.logImage('bad', join(storeDir, 'missing.png')), 'bad', 'value-type'],
      [() => run.logImage('bad', 42 as never), 'bad', 'value-type'],
      [() => run.logImage('bad', TEST_PNG, { caption: 7 as never }), 'bad', 'value-type'],
      [() => run.logImage('', TEST_PNG), '', 'key-empty'],
      [() => run.logImage('a//b', TEST_PNG), 'a//b', 'key-path'],
      [() => run.logImage('ok', TEST_PNG, { step: -1 }), 'ok', 'step'],
      [() => run.logTable('t', { columns: ['a', 'b'], rows: [[1]] }), 't', 'table-shape'],
      [
        () => run.logTable('t', { columns: ['a'], rows: [[image(truncated)]] }),
        't[0]["a"]',
        'image-format',
      ],
      [async () => run.logHistogram('h', [1, Number.NaN]), 'h', 'value-type'],
      [() => run.logText('../escape.txt', 'x'), '../escape.txt', 'key-path'],
      [() => run.logText('/abs.txt', 'x'), '/abs.txt', 'key-path'],
      [
        () =>
          run.logJson(
            'loop.json',
            (() => {
              const o: Record<string, unknown> = {};
              o.o = o;
              return o;
            })(),
          ),
        'loop.json',
        'value-circular',
      ],
      [() => run.logJson('u.json', undefined), 'u.json', 'value-type'],
    ];
    for (const [call, key, rule] of cases) {
      await expect(call(), `${key} ${rule}`).rejects.toMatchObject({
        code: key === '' || key === 'a//b' ? 'INVALID_KEY' : 'INVALID_VALUE',
        key,
        rule,
      });
    }
    await run.end();
    const snapshot = await new LocalRuns(storeDir).get(run.uid);
    expect(snapshot.media).toEqual([]);
    expect(snapshot.artifacts).toEqual([]);
  });

  it('refuses an image over 50 MiB (a 100 MB file) with a typed error', async () => {
    const big = join(storeDir, 'big.png');
    const { truncate } = await import('node:fs/promises');
    await writeFile(big, TEST_PNG);
    await truncate(big, 100 * 1024 * 1024);
    const run = await local().startRun();
    await expect(run.logImage('big', big)).rejects.toMatchObject({ key: 'big', rule: 'too-large' });
    await run.end();
  });

  it('writes text and JSON as artifacts, JSON indented by 2 as MLflow writes log_dict', async () => {
    const run = await local().startRun();
    await run.logText('notes/a.txt', 'hé\n');
    await run.logJson('cfg.json', { lr: 0.1, layers: [1, 2] });
    await run.end();
    const { artifacts } = await new LocalRuns(storeDir).get(run.uid);
    const { readFile } = await import('node:fs/promises');
    const text = await Promise.all(
      artifacts.map(async (a) => [a.path, await readFile(a.file, 'utf8')]),
    );
    expect(text).toEqual([
      ['cfg.json', '{\n  "lr": 0.1,\n  "layers": [\n    1,\n    2\n  ]\n}'],
      ['notes/a.txt', 'hé\n'],
    ]);
  });

  it('says once per kind that a backend does not take media, and keeps it in the journal', async () => {
    class NoMedia extends InMemoryTracker {
      override get capabilities() {
        return { ...super.capabilities, media: ['image' as const] };
      }
    }
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
    const tracker = createTracker(
      new NoMedia({ backend: 'no-media', ordered_writes: false }, { storeDir }),
      {
        logger,
      },
    );
    const run = await tracker.startRun();
    await run.logImage('i', TEST_PNG);
    run.logHistogram('h', [1]);
    run.logHistogram('h', [2], { step: 1 });
    await run.logTable('t', { columns: ['a'], rows: [[1]] });
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
    expect(warnings.filter((w) => w.includes('does not record'))).toEqual([
      expect.stringContaining('histograms'),
      expect.stringContaining('tables'),
    ]);
    expect((await new LocalRuns(storeDir).get(run.uid)).media).toHaveLength(4);
  });
});

describe('a run its owner ended while another process still logs to it', () => {
  it('says so, once, to the process still logging; what it logs is still delivered', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
    const name = `owner-ended-${process.pid}`;
    const owner = await memory(name).startRun({ systemMetrics: false });
    const rank = await memory(name, { logger }).startRun({
      id: owner.uid,
      attach: true,
      systemMetrics: false,
      logger,
      flushIntervalMs: 20,
    });
    rank.logMetric('m', 1, { step: 0 });
    await rank.flush();
    await owner.end();
    rank.logMetric('m', 2, { step: 1 });
    // The next journal flush notices the end (no waiting for end()).
    await new Promise((resolve) => setTimeout(resolve, 100));
    const said = warnings.filter((w) =>
      w.includes('was ended (FINISHED) by the process that owns it'),
    );
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(`pid ${process.pid} on ${hostname()}`);
    const report = await rank.end();
    expect(report.status).toBe('FINISHED');
    expect(report.hint).toBe(said[0]);
    // Said once: end() does not repeat it.
    expect(warnings.filter((w) => w.includes('was ended'))).toHaveLength(1);
    expect(
      InMemoryBackend.get(name)
        .findByUid(owner.uid)!
        .metrics.map((p) => p.value),
    ).toEqual([1, 2]);
  });
});
