import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MediaImage, TableMedia } from '@trackstack/core';
import { TEST_JPEG, TEST_PNG } from '@trackstack/core/testing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeImage,
  histogramPlan,
  imageKeyName,
  imagePlan,
  tablePlan,
  thumbnailSize,
  withLoggedTable,
} from './mlflow-media.js';

let dir: string;
let png: MediaImage;
let jpeg: MediaImage;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trackstack-mlflow-media-unit-'));
  await writeFile(join(dir, 'a.png'), TEST_PNG);
  await writeFile(join(dir, 'a.jpg'), TEST_JPEG);
  const common = { size: 0, width: 24, height: 16 };
  png = { ...common, localPath: join(dir, 'a.png'), sha256: 'p', format: 'png' };
  jpeg = { ...common, localPath: join(dir, 'a.jpg'), sha256: 'j', format: 'jpeg' };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('thumbnailSize', () => {
  it("follows MLflow's rule: the longer side 256, the other truncated, small images scaled up", () => {
    // Sizes MLflow 3.17's client wrote for these images.
    expect(thumbnailSize(1000, 600)).toEqual({ width: 256, height: 153 });
    expect(thumbnailSize(300, 900)).toEqual({ width: 85, height: 256 });
    expect(thumbnailSize(30, 20)).toEqual({ width: 256, height: 170 });
    expect(thumbnailSize(64, 48)).toEqual({ width: 256, height: 192 });
    expect(thumbnailSize(40, 40)).toEqual({ width: 256, height: 256 });
    expect(thumbnailSize(10_000, 1)).toEqual({ width: 256, height: 1 });
  });
});

describe('imageKeyName', () => {
  it("writes '/' as '~' (MLflow's client) and ':' as '_' (not allowed in MLflow's image keys)", () => {
    expect(imageKeyName('val/pred')).toBe('val~pred');
    expect(imageKeyName('a b.c-d_e')).toBe('a b.c-d_e');
    expect(imageKeyName('epoch:3/x')).toBe('epoch_3~x');
  });
});

describe('encodeImage', () => {
  it('keeps PNG bytes as logged, re-encodes JPEG as PNG, and makes a WebP thumbnail', async () => {
    const fromPng = await encodeImage(png);
    expect(Buffer.from(fromPng.png).equals(Buffer.from(TEST_PNG))).toBe(true);
    const fromJpeg = await encodeImage(jpeg);
    expect((await sharp(fromJpeg.png).metadata()).format).toBe('png');
    for (const { webp } of [fromPng, fromJpeg]) {
      const meta = await sharp(webp).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['webp', 256, 170]);
    }
  });
});

describe('plans', () => {
  it('names image files by key, step, time and a uuid that a retry gets again', async () => {
    const media = { kind: 'image' as const, key: 'val/pred', step: 3, timestamp: 17, image: png };
    const a = await imagePlan('run1', media);
    const b = await imagePlan('run1', media);
    expect(a.files.map((f) => f.path)).toEqual(b.files.map((f) => f.path));
    expect(a.files.map((f) => f.path)).toEqual([
      expect.stringMatching(/^images\/val~pred\+step\+3\+timestamp\+17\+[0-9a-f-]{36}\.png$/),
      expect.stringMatching(
        /^images\/val~pred\+step\+3\+timestamp\+17\+[0-9a-f-]{36}\+compressed\.webp$/,
      ),
    ]);
    expect(a.files[1]!.path.startsWith(a.files[0]!.path.slice(0, -4))).toBe(true);
    const other = await imagePlan('run2', media);
    expect(other.files[0]!.path).not.toBe(a.files[0]!.path);
    expect(a.loggedImages).toBe(true);
  });

  it('writes a table as log_table does: columns and data, non-finite numbers as null', async () => {
    const media: TableMedia = {
      kind: 'table',
      key: 'eval:set',
      step: 2,
      timestamp: 1,
      columns: ['s', 'n', 'b', 'z', 'img'],
      rows: [
        ['a', Number.NaN, true, null, png],
        ['b', 2.5, false, null, png],
      ],
      images: [png],
    };
    const plan = await tablePlan('run1', media);
    expect(plan.table).toBe('tables/eval_set/step-2.json');
    const file = plan.files.find((f) => f.path === plan.table)!;
    const json = JSON.parse(Buffer.from(file.bytes).toString('utf8')) as {
      columns: string[];
      data: unknown[][];
    };
    expect(json.columns).toEqual(['s', 'n', 'b', 'z', 'img']);
    expect(json.data.map((row) => row.slice(0, 4))).toEqual([
      ['a', null, true, null],
      ['b', 2.5, false, null],
    ]);
    // One pair of files per image cell, under table_images/<table path without .json>/.
    const cells = json.data.map(
      (row) => row[4] as { type: string; filepath: string; compressed_filepath: string },
    );
    expect(new Set(cells.map((c) => c.filepath)).size).toBe(2);
    for (const cell of cells) {
      expect(cell.type).toBe('image');
      expect(cell.filepath).toMatch(/^table_images\/tables\/eval_set\/step-2\/[0-9a-f-]{36}\.png$/);
      expect(cell.compressed_filepath).toBe(cell.filepath.replace(/\.png$/, '.webp'));
      expect(plan.files.map((f) => f.path)).toContain(cell.filepath);
    }
  });

  it('writes a histogram as one JSON file per key and step', () => {
    const plan = histogramPlan({
      kind: 'histogram',
      key: 'w',
      step: 5,
      timestamp: 9,
      bins: [0, 1, 2],
      counts: [3, 4],
    });
    expect(plan.files.map((f) => [f.path, Buffer.from(f.bytes).toString('utf8')])).toEqual([
      [
        'histograms/w/step-5.json',
        '{"key":"w","step":5,"timestamp":9,"bins":[0,1,2],"counts":[3,4]}',
      ],
    ]);
  });
});

describe('withLoggedTable', () => {
  it("adds a table once, in Python's json.dumps form, keeping what another client listed", () => {
    const one = withLoggedTable(undefined, 'tables/a/step-0.json');
    expect(one).toBe('[{"path": "tables/a/step-0.json", "type": "table"}]');
    expect(withLoggedTable(one, 'tables/a/step-0.json')).toBe(one);
    expect(withLoggedTable(one, 't.json')).toBe(
      '[{"path": "tables/a/step-0.json", "type": "table"}, {"path": "t.json", "type": "table"}]',
    );
    expect(withLoggedTable('not json', 'x.json')).toBe('[{"path": "x.json", "type": "table"}]');
  });
});
