import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JournalReader, JournalWriter } from './journal.js';
import {
  type BatchRecord,
  type DataRecord,
  decodeMetrics,
  type EndRecord,
} from './journal-records.js';
import { JournalTail } from './journal-tail.js';
import { MetricBuffer } from './metric-buffer.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trackstack-tail-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const header = { uid: 'u1', segment: 's1', pid: 1, host: 'h', time: 0 };

/** Journals `blocks` records of `perBlock` points (2 keys, steps counting up), plus a param and an end. */
function writeJournal(writer: JournalWriter, blocks: number, perBlock: number): void {
  const buffer = new MetricBuffer(perBlock);
  const keys = [buffer.addKey('loss'), buffer.addKey('acc')];
  let step = 0;
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < perBlock; i++, step++) {
      buffer.push(keys[i % 2]!, step / 7, step, 1_700_000_000_000 + step);
    }
    const drained = buffer.drain(writer.wantsColumns)!;
    const record: Omit<BatchRecord, 'q'> = { t: 'b', m: drained.block };
    if (b === 0) record.p = [['lr', '0.1']];
    writer.append<BatchRecord>(record, drained.columns);
  }
  writer.append<EndRecord>({ t: 'e', status: 'FINISHED', time: 5 });
}

/** Records with their metric columns decoded, comparable across readers. */
function comparable(records: DataRecord[]) {
  return records.map((record) => {
    if (record.t !== 'b' || record.m === undefined) return record;
    const { k, v, s, ts, keys } = decodeMetrics(record.m);
    return {
      ...record,
      m: { n: record.m.n, keys, k: [...k], v: [...v], s: [...s], ts: [...ts] },
    };
  });
}

async function readAllChunked(reader: JournalReader, maxBytes: number): Promise<DataRecord[]> {
  const out: DataRecord[] = [];
  for (;;) {
    const records = await reader.read(maxBytes);
    if (records.length === 0) return out;
    out.push(...records);
  }
}

describe('journal tail', () => {
  it('gives a following reader the same records as the file, without reading it', async () => {
    const path = join(dir, 'a.jsonl');
    const tail = new JournalTail();
    writeJournal(new JournalWriter(path, header, { tail }), 5, 1000);
    const fromFile = await new JournalReader(path).readAll();
    const live = new JournalReader(path, tail);
    const fromTail = await readAllChunked(live, 1024 * 1024);
    expect(fromFile).toHaveLength(6);
    expect(comparable(fromTail)).toEqual(comparable(fromFile));
    expect(live.header?.uid).toBe('u1');
    // From memory: the tail's metric blocks carry no base64, only their columns.
    const first = fromTail[0] as BatchRecord;
    expect(first.m?.v).toBe('');
    expect(decodeMetrics(first.m!).v[3]).toBe(3 / 7);
  });

  it('stops taking records when its readers fall behind, and starts over once one is level', async () => {
    const path = join(dir, 'b.jsonl');
    // Room for about two of the ~37 KB lines.
    const tail = new JournalTail(80_000);
    const writer = new JournalWriter(path, header, { tail });
    const reader = new JournalReader(path, tail);
    writeJournal(writer, 8, 1000);
    // It took the first two records, then stopped: no columns are made for what it would not keep.
    expect(writer.wantsColumns).toBe(false);
    const fromFile = await new JournalReader(path).readAll();
    const mixed = await readAllChunked(reader, 20_000);
    expect(comparable(mixed)).toEqual(comparable(fromFile));
    const fromMemory = (records: DataRecord[]) =>
      records.filter((r) => r.t === 'b' && r.m?.v === '').map((r) => r.q);
    expect(fromMemory(mixed)).toEqual([1, 2]);
    // The reader read the rest from the file up to the writer's end: the tail takes records again.
    expect(writer.wantsColumns).toBe(true);
    writeJournal(writer, 2, 1000);
    const next = await readAllChunked(reader, 1024 * 1024);
    expect(fromMemory(next)).toEqual([10, 11]);
    expect(next.map((r) => r.q)).toEqual([10, 11, 12]);
  });

  it('lets a record go once every following reader has read past it', async () => {
    const path = join(dir, 'd.jsonl');
    const tail = new JournalTail(80_000);
    const writer = new JournalWriter(path, header, { tail });
    const fast = new JournalReader(path, tail);
    const slow = new JournalReader(path, tail);
    for (let i = 0; i < 6; i++) {
      writeJournal(writer, 1, 1000);
      // The fast reader keeps up; the slow one is still at the start, so the tail fills up.
      expect((await fast.read()).length).toBe(2);
    }
    expect(writer.wantsColumns).toBe(false);
    expect((await readAllChunked(slow, 1024 * 1024)).map((r) => r.q)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    // Both level with the writer: everything left, and new records are kept again.
    expect(writer.wantsColumns).toBe(true);
  });

  it('returns a line longer than a read whole, never nothing while the file has more', async () => {
    const path = join(dir, 'long.jsonl');
    writeJournal(new JournalWriter(path, header), 3, 1000);
    const reader = new JournalReader(path);
    // Each line is ~37 KB; reads of 1 KB still return a record each time.
    const first = await reader.read(1024);
    expect(first.length).toBeGreaterThan(0);
    const rest = await readAllChunked(reader, 1024);
    expect([...first, ...rest].map((r) => r.q)).toEqual([1, 2, 3, 4]);
  });

  it('serves records appended after the reader caught up', async () => {
    const path = join(dir, 'c.jsonl');
    const tail = new JournalTail();
    const writer = new JournalWriter(path, header, { tail });
    const reader = new JournalReader(path, tail);
    expect(await reader.read()).toEqual([]);
    writer.append<BatchRecord>({ t: 'b', p: [['a', '1']] });
    expect(await reader.read()).toEqual([{ t: 'b', p: [['a', '1']], q: 1 }]);
    expect(await reader.read()).toEqual([]);
    writer.append<BatchRecord>({ t: 'b', g: [['t', 'x']] });
    writer.append<EndRecord>({ t: 'e', status: 'FAILED', time: 9 });
    expect((await reader.read()).map((r) => r.q)).toEqual([2, 3]);
    expect(await new JournalReader(path).readAll()).toHaveLength(3);
  });
});
