/**
 * Media against a real `mlflow server`, with MLflow's own client as the oracle: the same
 * images (a PNG and a JPEG, at a key with '/', at two steps) and the same table with image
 * cells, logged by MlflowClient and by ours, must leave the same artifact tree (names up to
 * their uuids), the same formats, sizes and pixels, and the same tags.
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTracker, image, silentLogger } from '@trackstack/core';
import { TEST_JPEG, TEST_PNG } from '@trackstack/core/testing';
import { type MlflowServer, runPython, startMlflowServer } from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowExperimentTracker } from './mlflow-tracker.js';

const ORACLE = join(dirname(fileURLToPath(import.meta.url)), '__fixtures__', 'media_oracle.py');

let server: MlflowServer;
let work: string;

beforeAll(async () => {
  server = await startMlflowServer();
  work = await mkdtemp(join(tmpdir(), 'trackstack-mlflow-media-'));
});

afterAll(async () => {
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

interface HeldFile {
  path: string;
  size: number;
  format?: string;
  width?: number;
  height?: number;
  mode?: string;
  pixels?: string;
  json?: unknown;
}

async function oracle(args: string[]): Promise<Record<string, unknown>> {
  const result = await runPython(server.env, ORACLE, args, {
    env: { MLFLOW_TRACKING_URI: server.url },
  });
  expect(result.code, result.stderr.slice(-2000)).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

async function held(runId: string): Promise<{ tags: Record<string, string>; files: HeldFile[] }> {
  return (await oracle(['read', runId])) as { tags: Record<string, string>; files: HeldFile[] };
}

/** A path with its uuids and timestamps replaced, to compare two runs' trees. */
function shape(path: string): string {
  return path
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/\+timestamp\+\d+/, '+timestamp+<ms>');
}

function tracker() {
  return createTracker(
    new MlflowExperimentTracker(
      { nested: false, tags: {}, request_timeout_s: 120, tracking_uri: server.url },
      { storeDir: join(work, 'store') },
    ),
    { logger: silentLogger },
  );
}

describe('MLflow media', () => {
  it("lays out images and a table with images as MLflow's client does", async () => {
    const png = join(work, 'pred.png');
    const jpeg = join(work, 'pred.jpg');
    writeFileSync(png, TEST_PNG);
    writeFileSync(jpeg, TEST_JPEG);
    const theirs = await held((await oracle(['log', png, jpeg])).run_id as string);

    const run = await tracker().startRun({ experiment: 'media' });
    await run.logImage('samples/pred', TEST_PNG, { step: 1, timestamp: 1700000000001 });
    await run.logImage('samples/pred', jpeg, { step: 2, timestamp: 1700000000002 });
    await run.logTable(
      'samples/table',
      {
        columns: ['id', 'picture', 'ok'],
        rows: [
          [1, image(TEST_PNG), true],
          [2, image(png), false],
        ],
      },
      { step: 1 },
    );
    expect((await run.end()).pendingEvents).toBe(0);
    const ours = await held((await run.backendRef('mlflow'))!.runId);

    // Tags: MLflow's UI lists images only with mlflow.loggedImages, tables from mlflow.loggedArtifacts.
    expect(ours.tags['mlflow.loggedImages']).toBe(theirs.tags['mlflow.loggedImages']);
    expect(ours.tags['mlflow.loggedImages']).toBe('True');
    expect(ours.tags['mlflow.loggedArtifacts']).toBe(theirs.tags['mlflow.loggedArtifacts']);

    // The same tree, file for file: names (up to uuids), formats, sizes in pixels and modes.
    const view = (files: HeldFile[]) =>
      files
        .filter((f) => !f.path.endsWith('.json'))
        .map((f) => ({
          path: shape(f.path),
          format: f.format,
          width: f.width,
          height: f.height,
          mode: f.mode,
        }))
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    expect(view(ours.files)).toEqual(view(theirs.files));
    expect(ours.files.filter((f) => f.path.startsWith('images/'))).toHaveLength(4);
    // The full-size images hold the pixels that were logged (both clients decode the same).
    const pixels = (files: HeldFile[]) =>
      files
        .filter((f) => f.format === 'PNG')
        .map((f) => [shape(f.path), f.pixels])
        .sort();
    expect(pixels(ours.files)).toEqual(pixels(theirs.files));
    // The PNG logged as PNG is uploaded as it was logged.
    const first = ours.files.find((f) => f.path.includes('+step+1+') && f.path.endsWith('.png'))!;
    expect(first.size).toBe(TEST_PNG.length);

    // The table: the same columns and rows, image cells pointing at files that exist.
    const table = (files: HeldFile[]) => {
      const file = files.find((f) => f.path === 'tables/samples/table/step-1.json')!;
      const json = file.json as { columns: string[]; data: unknown[][] };
      for (const row of json.data) {
        const cell = row[1] as { filepath: string; compressed_filepath: string };
        expect(files.map((f) => f.path)).toContain(cell.filepath);
        expect(files.map((f) => f.path)).toContain(cell.compressed_filepath);
      }
      return JSON.parse(shape(JSON.stringify(json))) as unknown;
    };
    expect(table(ours.files)).toEqual(table(theirs.files));
  }, 180_000);

  it('writes histograms, text and JSON as artifacts, and takes a retried image once', async () => {
    const run = await tracker().startRun({ experiment: 'media' });
    run.logHistogram('weights/w1', [0.1, 0.2, 0.2, 0.9], { step: 3, bins: 4 });
    run.logHistogram('weights/w1', { bins: [0, 1, 2], counts: [5, 7] }, { step: 4 });
    await run.logText('notes/readme.txt', 'unicodé ✓\n');
    await run.logJson('config/params.json', { lr: 0.01, layers: [64, 32], name: 'é' });
    await run.logImage('grid', TEST_PNG, { step: 0, timestamp: 1700000000000 });
    await run.logImage('grid', TEST_PNG, { step: 0, timestamp: 1700000000000 });
    expect((await run.end()).pendingEvents).toBe(0);
    const ours = await held((await run.backendRef('mlflow'))!.runId);
    const byPath = new Map(ours.files.map((f) => [f.path, f]));
    expect(byPath.get('histograms/weights/w1/step-3.json')?.json).toEqual({
      key: 'weights/w1',
      step: 3,
      timestamp: expect.any(Number),
      bins: [0.1, 0.30000000000000004, 0.5, 0.7000000000000001, 0.9],
      counts: [3, 0, 0, 1],
    });
    expect(byPath.get('histograms/weights/w1/step-4.json')?.json).toMatchObject({
      bins: [0, 1, 2],
      counts: [5, 7],
    });
    expect(byPath.get('notes/readme.txt')?.size).toBe(Buffer.byteLength('unicodé ✓\n'));
    expect(byPath.get('config/params.json')?.json).toEqual({
      lr: 0.01,
      layers: [64, 32],
      name: 'é',
    });
    // The same image at the same key, step and time twice: one pair of files, same name.
    const grid = ours.files.filter((f) => f.path.startsWith('images/grid+'));
    expect(grid.map((f) => shape(f.path)).sort()).toEqual([
      'images/grid+step+0+timestamp+<ms>+<uuid>+compressed.webp',
      'images/grid+step+0+timestamp+<ms>+<uuid>.png',
    ]);
  }, 120_000);
});
