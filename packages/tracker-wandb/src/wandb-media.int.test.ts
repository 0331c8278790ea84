/**
 * Images and histograms in W&B's own form, checked by W&B's own code: the real SDK logs the same
 * media offline (wandb.Image of the same files, wandb.Histogram of the same values); wandb-core's
 * reader reads both runs, whose history rows must match field by field; `wandb sync` of ours to
 * the loopback server uploads every media file a row refers to; our online run streams the same
 * rows and uploads the same files itself.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { image, type Run } from '@trackstack/core';
import { TEST_JPEG, TEST_PNG } from '@trackstack/core/testing';
import {
  ensurePythonEnv,
  type PythonEnv,
  runProcess,
  runPython,
  startWandbServer,
  WANDB_MEDIA_REQUIREMENTS,
  type WandbServer,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offlineRunDir, sdkOfflineRun, wandbTracker } from './__fixtures__/test-tracker.js';

const READER = join(import.meta.dirname, '__fixtures__', 'wandb_read_offline.py');
let py: PythonEnv;
let work: string;
const servers: WandbServer[] = [];

beforeAll(async () => {
  py = await ensurePythonEnv({ name: 'wandb-media', requirements: WANDB_MEDIA_REQUIREMENTS });
  work = mkdtempSync(join(tmpdir(), 'trackstack-wandb-media-'));
  writeFileSync(join(work, 'pred.png'), TEST_PNG);
  writeFileSync(join(work, 'pred.jpg'), TEST_JPEG);
}, 600_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(work, { recursive: true, force: true });
});

type Row = Record<string, unknown>;

async function viewOf(runDir: string): Promise<{ history: Row[]; files: string[] }> {
  const file = readdirSync(runDir).find((f) => f.endsWith('.wandb'))!;
  const result = await runPython(py, READER, [join(runDir, file)]);
  expect(result.code, result.stderr).toBe(0);
  const report = JSON.parse(result.stdout) as {
    ok: boolean;
    view: { history: Row[]; files: string[] };
  };
  expect(report.ok).toBe(true);
  return report.view;
}

/** The media values of history rows by step; file names without the step the SDK counts itself. */
function mediaOf(rows: Row[]): Record<string, Row> {
  const out: Record<string, Row> = {};
  for (const row of rows) {
    for (const [key, value] of Object.entries(row)) {
      if (key.startsWith('_') || typeof value !== 'object' || value === null) continue;
      const media = { ...(value as Row) };
      if (typeof media.path === 'string')
        media.path = media.path.replace(/_\d+_([0-9a-f]{20})\./, '_<step>_$1.');
      out[`${key}@${row._step}`] = media;
    }
  }
  return out;
}

/** The table both clients log: every cell type, and an image column (a file each, one empty). */
function samplesTable() {
  return {
    columns: ['id', 'name', 'score', 'ok', 'nothing', 'picture'],
    rows: [
      [1, 'cat', 0.5, true, null, image(join(work, 'pred.png'), { caption: 'a cat' })],
      [2, 'dog é', 2.25, false, null, image(join(work, 'pred.jpg'))],
      [3, 'none', -1.5, true, null, null],
    ],
  };
}

async function logOurs(run: Run): Promise<void> {
  await run.logImage('samples/pred', join(work, 'pred.png'), { step: 1, caption: 'first' });
  // The edges np.linspace(1, 3, 4) gives the SDK: start + i × step.
  const edges = [0, 1, 2, 3].map((i) => 1 + i * (2 / 3));
  edges[3] = 3;
  run.logHistogram('weights', { bins: edges, counts: [1, 2, 1] }, { step: 1 });
  run.logMetric('loss', 0.5, { step: 1 });
  await run.logImage('samples/pred', join(work, 'pred.jpg'), { step: 2 });
  run.logHistogram('weights', [1, 2, 2, 3], { step: 3, bins: 3 });
  expect((await run.end()).pendingEvents).toBe(0);
}

describe('W&B media', () => {
  it("writes the history values and files of the SDK's own wandb.Image and wandb.Histogram", async () => {
    // 1. The SDK's offline run with the same media.
    const sdkRunDir = await sdkOfflineRun(
      py,
      work,
      'sdk',
      [
        'import sys, wandb, numpy as np',
        "run = wandb.init(project='media')",
        "run.log({'samples/pred': wandb.Image(sys.argv[1], caption='first'),",
        "         'weights': wandb.Histogram(np_histogram=([1, 2, 1], np.linspace(1, 3, 4))), 'loss': 0.5}, step=1)",
        "run.log({'samples/pred': wandb.Image(sys.argv[2])}, step=2)",
        "run.log({'weights': wandb.Histogram([1, 2, 2, 3], num_bins=3)}, step=3)",
        'run.finish()',
      ],
      [join(work, 'pred.png'), join(work, 'pred.jpg')],
    );
    const theirs = await viewOf(sdkRunDir);

    // 2. Ours, offline.
    const synced = await startWandbServer();
    const online = await startWandbServer();
    servers.push(synced, online);
    const offDir = join(work, 'ours');
    mkdirSync(offDir);
    const off = await wandbTracker(
      synced,
      { mode: 'offline', dir: offDir, entity: synced.entity },
      join(work, 'store-off'),
    ).startRun({ experiment: 'media', systemMetrics: false });
    await logOurs(off);
    const ours = await viewOf(offlineRunDir(offDir));

    // Field by field: _type, path (up to the SDK's own step count), sha256, size, format, width,
    // height, caption; histogram values and bins.
    expect(mediaOf(ours.history)).toEqual(mediaOf(theirs.history));
    expect(Object.keys(mediaOf(ours.history)).sort()).toEqual([
      'samples/pred@1',
      'samples/pred@2',
      'weights@1',
      'weights@3',
    ]);
    expect(mediaOf(ours.history)['samples/pred@1']).toMatchObject({
      sha256: createHash('sha256').update(TEST_PNG).digest('hex'),
      size: TEST_PNG.length,
      width: 24,
      height: 16,
    });
    // Every image is a run file `wandb sync` uploads.
    const paths = (view: { history: Row[] }) =>
      view.history.flatMap((row) =>
        Object.values(row)
          .map((v) => (v as Row | null)?.path)
          .filter((p): p is string => typeof p === 'string'),
      );
    for (const path of paths(ours)) expect(ours.files).toContain(path);
    for (const path of paths(theirs)) expect(theirs.files).toContain(path);

    // 3. `wandb sync` of ours: every referenced media file arrived, with the bytes logged.
    const sync = await runProcess(py.bin('wandb'), ['sync', offlineRunDir(offDir)], {
      env: { ...process.env, ...synced.sdkEnv, WANDB_DIR: offDir, TMPDIR: offDir },
    });
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
    const syncedRun = synced.run((await off.backendRef('wandb'))!.runId);
    for (const value of Object.values(mediaOf(ours.history))) {
      if (value._type !== 'image-file') continue;
      const name = Object.keys(syncedRun.files).find((n) =>
        n.endsWith(String(value.path).split('_<step>_')[1]!),
      )!;
      expect(syncedRun.files[name]?.sha256).toBe(value.sha256);
    }
    expect(mediaOf(syncedRun.history)).toEqual(mediaOf(ours.history));

    // 4. Ours online: the same rows, the files uploaded by us.
    const on = await wandbTracker(online, {}, join(work, 'store-on')).startRun({
      experiment: 'media',
      systemMetrics: false,
    });
    await logOurs(on);
    const onlineRun = online.run((await on.backendRef('wandb'))!.runId);
    expect(mediaOf(onlineRun.history)).toEqual(mediaOf(ours.history));
    for (const path of paths({ history: onlineRun.history })) {
      expect(onlineRun.files[path]?.sha256, path).toMatch(/^[0-9a-f]{64}$/);
      expect(onlineRun.uploaded).toContain(path);
    }
    expect(onlineRun.history.find((row) => row._step === 1)?.loss).toBe(0.5);
  }, 600_000);

  it('logs a table as the SDK does: the same run_table artifact (digest, entries), run copy and history value', async () => {
    // 1. The SDK's offline run: a wandb.Table with every cell type and an image column.
    const sdkRunDir = await sdkOfflineRun(
      py,
      work,
      'sdk-table',
      [
        'import sys, wandb',
        "run = wandb.init(project='media')",
        "table = wandb.Table(columns=['id', 'name', 'score', 'ok', 'nothing', 'picture'], data=[",
        "    [1, 'cat', 0.5, True, None, wandb.Image(sys.argv[1], caption='a cat')],",
        "    [2, 'dog é', 2.25, False, None, wandb.Image(sys.argv[2])],",
        "    [3, 'none', -1.5, True, None, None]])",
        "run.log({'eval/samples': table}, step=1)",
        'run.finish()',
      ],
      [join(work, 'pred.png'), join(work, 'pred.jpg')],
    );
    writeFileSync(
      join(work, 'sanitize.py'),
      'import sys\nfrom wandb.sdk.artifacts._internal_artifact import sanitize_artifact_name\nprint(sanitize_artifact_name(sys.argv[1]))\n',
    );
    const sdkRunId = sdkRunDir.split('-').at(-1)!;

    // 2. Ours, offline, the same table.
    const offDir = join(work, 'ours-table');
    mkdirSync(offDir);
    const off = await wandbTracker(
      { apiKey: 'unused', url: 'http://127.0.0.1:9', entity: 'e' } as WandbServer,
      { mode: 'offline', dir: offDir },
      join(work, 'store-table-off'),
    ).startRun({ experiment: 'media', systemMetrics: false });
    await off.logTable('eval/samples', samplesTable(), { step: 1 });
    expect((await off.end()).pendingEvents).toBe(0);
    const ourRunDir = offlineRunDir(offDir);
    const ourRunId = (await off.backendRef('wandb'))!.runId;

    const artifactOf = async (runDir: string) => {
      const file = readdirSync(runDir).find((f) => f.endsWith('.wandb'))!;
      const result = await runPython(py, READER, [join(runDir, file)]);
      const report = JSON.parse(result.stdout) as {
        records: { type: string; artifact?: Row }[];
        view: { history: Row[]; files: string[] };
      };
      const artifact = report.records.find((r) => r.type === 'artifact')?.artifact as Row;
      return { artifact, view: report.view };
    };
    const theirs = await artifactOf(sdkRunDir);
    const ours = await artifactOf(ourRunDir);
    // The artifact: same name (up to the run id), type, aliases, digest and entries.
    const shape = (a: Row, runId: string) => {
      const manifest = a.manifest as { contents: Row[] };
      return {
        name: String(a.name).replace(runId, '<run>'),
        type: a.type,
        aliases: a.aliases,
        digest: a.digest,
        digest_algorithm: a.digest_algorithm,
        finalize: a.finalize,
        entries: manifest.contents.map((e) => ({ path: e.path, digest: e.digest, size: e.size })),
      };
    };
    const named = (a: Row, runId: string) => {
      const view = shape(a, runId);
      // Without the CRC suffix W&B adds to a name it had to change ('-' and six base64url
      // characters: it hashes the run id too).
      return { ...view, name: view.name.slice(0, -7) };
    };
    expect(named(ours.artifact, ourRunId)).toEqual(named(theirs.artifact, sdkRunId));
    // The name as the SDK's own rule makes it of our run id and key.
    const sanitized = await runPython(py, join(work, 'sanitize.py'), [
      `run-${ourRunId}-eval/samples`,
    ]);
    expect(ours.artifact.name).toBe(sanitized.stdout.trim());
    expect(ours.artifact.type).toBe('run_table');
    // Its files are on disk where the record says, inside our run directory.
    for (const entry of (ours.artifact.manifest as { contents: Row[] }).contents) {
      expect(String(entry.local_path).startsWith(ourRunDir)).toBe(true);
      expect(readFileSync(String(entry.local_path)).length).toBe(Number(entry.size));
    }
    // The history value and the run copy.
    const value = (view: { history: Row[] }) => {
      const v = { ...(view.history.find((row) => row._step === 1)!['eval/samples'] as Row) };
      v.path = String(v.path).replace(/_\d+_([0-9a-f]{20})\./, '_<step>_$1.');
      v.artifact_path = String(v.artifact_path).replace(/\/\/[a-z0-9]{128}/, '//<client>');
      v._latest_artifact_path = String(v._latest_artifact_path).replace(
        /\/\/[a-z0-9]{128}/,
        '//<client>',
      );
      return v;
    };
    expect(value(ours.view)).toEqual(value(theirs.view));
    expect(ours.view.files).toContain(
      (ours.view.history.find((row) => row._step === 1)!['eval/samples'] as Row).path,
    );

    // 3. `wandb sync` of ours: the artifact is created and committed with every file, and the
    // history value's client ids name it.
    const synced = await startWandbServer();
    const online = await startWandbServer();
    servers.push(synced, online);
    const sync = await runProcess(py.bin('wandb'), ['sync', '--entity', synced.entity, ourRunDir], {
      env: { ...process.env, ...synced.sdkEnv, WANDB_DIR: offDir, TMPDIR: offDir },
    });
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
    const checkHeld = (server: WandbServer, runId: string, name: string) => {
      const artifact = server.artifact(name);
      expect(artifact.state).toBe('COMMITTED');
      expect(artifact.type).toBe('run_table');
      expect(artifact.digest).toBe(ours.artifact.digest);
      const entries = (ours.artifact.manifest as { contents: Row[] }).contents;
      expect(Object.keys(artifact.files).sort()).toEqual(entries.map((e) => String(e.path)).sort());
      for (const entry of entries)
        expect(artifact.files[String(entry.path)]?.md5).toBe(entry.digest);
      const row = server.run(runId).history.find((r) => r._step === 1)!;
      const held = row['eval/samples'] as Row;
      expect(held.artifact_path).toBe(
        `wandb-client-artifact://${artifact.clientId}/eval/samples.table.json`,
      );
      expect(held._latest_artifact_path).toBe(
        `wandb-client-artifact://${artifact.sequenceClientId}:latest/eval/samples.table.json`,
      );
      expect(server.run(runId).files[String(held.path)]?.sha256).toBe(held.sha256);
      expect(server.unknownOperations).toEqual([]);
    };
    checkHeld(synced, ourRunId, String(ours.artifact.name));

    // 4. Ours online: the same artifact saved by us through W&B's artifact API.
    const on = await wandbTracker(online, {}, join(work, 'store-table-on')).startRun({
      experiment: 'media',
      systemMetrics: false,
    });
    await on.logTable('eval/samples', samplesTable(), { step: 1 });
    expect((await on.end()).pendingEvents).toBe(0);
    const onId = (await on.backendRef('wandb'))!.runId;
    const onName = (
      await runPython(py, join(work, 'sanitize.py'), [`run-${onId}-eval/samples`])
    ).stdout.trim();
    checkHeld(online, onId, onName);
    expect(online.artifact(onName).createdBy?.run).toBe(onId);
  }, 600_000);
});
