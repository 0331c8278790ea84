import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SEGMENT_INDEX_VERSION, SegmentIndex } from './segment-index.js';
import { readSegmentIndex, saveSegmentIndex } from './segment-index-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trackstack-segment-index-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function indexOf(segment: string) {
  const index = new SegmentIndex(segment);
  const n = 2;
  index.add({ t: 'b', q: 1, m: { n, keys: ['m'], k: '', v: '', s: '', ts: '' } } as never, 0, 10, {
    keys: ['m'],
    k: new Uint32Array(n),
    v: Float64Array.from([1, 2]),
    s: Float64Array.from([0, 0]),
    ts: Float64Array.from([300, 100]),
  });
  return index.toJSON();
}

describe('the segment index file', () => {
  it('saves an index and reads it back, bucket timestamps too', async () => {
    const path = join(dir, 'index', 'seg.json');
    const data = indexOf('seg');
    saveSegmentIndex(path, data);
    const read = readSegmentIndex(path, 'seg');
    expect(read).toEqual(JSON.parse(JSON.stringify(data)));
    expect(read!.v).toBe(2);
    expect(read!.keys.m!.steps.buckets).toEqual([
      [0, { s0: 0, s1: 0, t0: 100, t1: 300, n: 2, bad: 0, min: 1, max: 2, sum: 3 }],
    ]);
  });

  it('ignores an index of version 1 (buckets without timestamps), or of another segment', async () => {
    const path = join(dir, 'seg.json');
    const data = indexOf('seg');
    await writeFile(path, JSON.stringify({ ...data, v: 1 }));
    expect(readSegmentIndex(path, 'seg')).toBeUndefined();
    await writeFile(path, JSON.stringify({ ...data, v: SEGMENT_INDEX_VERSION + 1 }));
    expect(readSegmentIndex(path, 'seg')).toBeUndefined();
    await writeFile(path, JSON.stringify(data));
    expect(readSegmentIndex(path, 'other')).toBeUndefined();
    expect(readSegmentIndex(path, 'seg')).toEqual(JSON.parse(await readFile(path, 'utf8')));
    expect(readSegmentIndex(join(dir, 'missing.json'), 'seg')).toBeUndefined();
  });
});
