import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendError } from '../contract/errors.js';
import { SegmentCursors } from './cursors.js';
import { RunDir } from './run-dir.js';

let storeDir: string;
beforeEach(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-cursors-'));
});
afterEach(async () => {
  await rm(storeDir, { recursive: true, force: true });
});

describe('segment cursors', () => {
  it('move over a record only when every batch holding it was acknowledged, in order', async () => {
    const dir = new RunDir(storeDir, 'run-1');
    dir.create();
    const cursors = await SegmentCursors.load(dir, 'dest', ['seg-a']);
    const segment = cursors.segment('seg-a');
    const first = cursors.track(segment, 1, 10);
    const second = cursors.track(segment, 2, 5);
    first.remaining = 2;
    second.remaining = 1;
    cursors.seal(first);
    cursors.seal(second);
    expect(cursors.unacked).toBe(15);
    // The second record is done first: the cursor waits for the first.
    cursors.release([second]);
    expect(cursors.reached('seg-a', 1)).toBe(false);
    cursors.release([first]);
    expect(cursors.reached('seg-a', 1)).toBe(false);
    cursors.release([first]);
    expect(cursors.reached('seg-a', 2)).toBe(true);
    expect(cursors.acked).toBe(15);
    expect(cursors.unacked).toBe(0);
    await cursors.persist();
    expect(await dir.readCursor('dest', 'seg-a')).toEqual({ q: 2 });
  });

  it('remember what the backend refused, and move on', async () => {
    const dir = new RunDir(storeDir, 'run-2');
    dir.create();
    const cursors = await SegmentCursors.load(dir, 'dest', ['seg-a']);
    const record = cursors.track(cursors.segment('seg-a'), 7, 1);
    record.remaining = 1;
    cursors.seal(record);
    cursors.reject([record], new BackendError('BACKEND_REJECTED', 'bad', { retryable: false }));
    cursors.release([record]);
    await cursors.persist();
    expect(await dir.readCursor('dest', 'seg-a')).toEqual({
      q: 7,
      rejected: [{ q: 7, code: 'BACKEND_REJECTED', message: 'bad' }],
    });
    // Loaded again, the cursor goes on from there.
    const again = await SegmentCursors.load(dir, 'dest', ['seg-a']);
    expect(again.reached('seg-a', 7)).toBe(true);
  });
});
