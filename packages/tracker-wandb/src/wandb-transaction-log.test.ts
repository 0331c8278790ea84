import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fixture from './__fixtures__/wandb-0.30.0-records.json' with { type: 'json' };
import {
  WANDB_LOG_BLOCK_SIZE as BLOCK,
  CHUNK_FIRST,
  CHUNK_FULL,
  CHUNK_LAST,
  CHUNK_MIDDLE,
  frameRecord,
  logFileHeader,
  scanWandbTransactionLog,
  WandbTransactionLogWriter,
} from './wandb-transaction-log.js';

const HEADER = 7;

/** A log made of the file header, then `records` appended in order. */
function logOf(records: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [logFileHeader()];
  let size = HEADER;
  for (const record of records) {
    const framed = frameRecord(record, size);
    parts.push(framed);
    size += framed.length;
  }
  return Buffer.concat(parts);
}

function payload(length: number, seed = length): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** A payload that, framed at `offset` as one FULL chunk, ends `left` bytes before a block end. */
function filler(offset: number, left: number): Uint8Array {
  const room = BLOCK - (offset % BLOCK);
  return payload(room - left - HEADER);
}

/** Byte arrays compared as hex: vitest's deep equality is slow on large arrays. */
function hex(arrays: readonly Uint8Array[]): string[] {
  return arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex'));
}

function chunkTypes(bytes: Uint8Array): number[] {
  return scanWandbTransactionLog(bytes).chunks.map((c) => c.type);
}

describe('the .wandb file header', () => {
  it('is :W&B, 0xBEE1 little-endian, version 0', () => {
    expect(Buffer.from(logFileHeader()).toString('hex')).toBe('3a572642e1be00');
  });
});

describe('chunk checksums', () => {
  it('are CRC-32 (IEEE) of the type byte then the payload, as in a file written by wandb 0.30.0', () => {
    // The first chunk header of a real offline run (wandb 0.30.0): crc c5ae7080, length 77, FULL.
    const header = fixture.records.find((r) => r.note === 'header')!;
    const framed = frameRecord(Buffer.from(header.hex, 'hex'), HEADER);
    expect(Buffer.from(framed.subarray(0, 7)).toString('hex')).toBe('c5ae70804d0001');
    const data = Buffer.from(header.hex, 'hex');
    const view = new DataView(framed.buffer, framed.byteOffset);
    expect(view.getUint32(0, true)).toBe(crc32(Buffer.concat([Buffer.of(1), data])));
  });

  it('cover the type byte, so the same payload as FIRST and as FULL has different checksums', () => {
    const data = payload(100);
    const full = frameRecord(data, HEADER);
    const first = frameRecord(data, BLOCK - 50);
    expect(first[6]).toBe(CHUNK_FIRST);
    expect(first.subarray(0, 4)).not.toEqual(full.subarray(0, 4));
  });
});

describe('block boundaries', () => {
  it('puts a small record in one FULL chunk right after the header', () => {
    const log = logOf([payload(10)]);
    expect(log.length).toBe(HEADER + HEADER + 10);
    expect(scanWandbTransactionLog(log).chunks).toEqual([
      { offset: 7, type: CHUNK_FULL, length: 10 },
    ]);
  });

  it('lets a record fill its block exactly; the next one starts the next block with no fill', () => {
    const log = logOf([filler(HEADER, 0), payload(5)]);
    const { chunks } = scanWandbTransactionLog(log);
    expect(chunks.map((c) => [c.offset, c.type])).toEqual([
      [7, CHUNK_FULL],
      [BLOCK, CHUNK_FULL],
    ]);
  });

  for (const left of [1, 2, 3, 4, 5, 6]) {
    it(`zero-fills the ${left} byte(s) left in a block and starts the next record in the next block`, () => {
      const first = filler(HEADER, left);
      const withoutNext = logOf([first]);
      // Nothing is written for the gap until another record comes: no trailing fill.
      expect(withoutNext.length).toBe(BLOCK - left);
      const log = logOf([first, payload(20)]);
      expect([...log.subarray(BLOCK - left, BLOCK)]).toEqual(new Array(left).fill(0));
      const { chunks, records } = scanWandbTransactionLog(log);
      expect(chunks.map((c) => [c.offset, c.type, c.length])).toEqual([
        [7, CHUNK_FULL, first.length],
        [BLOCK, CHUNK_FULL, 20],
      ]);
      expect(records[1]).toEqual(payload(20));
    });
  }

  it('with exactly 7 bytes left, writes a zero-length FIRST chunk there and the data after it', () => {
    const first = filler(HEADER, 7);
    const log = logOf([first, payload(20)]);
    const { chunks, records } = scanWandbTransactionLog(log);
    expect(chunks.map((c) => [c.offset, c.type, c.length])).toEqual([
      [7, CHUNK_FULL, first.length],
      [BLOCK - 7, CHUNK_FIRST, 0],
      [BLOCK, CHUNK_LAST, 20],
    ]);
    expect(records).toEqual([first, payload(20)]);
  });

  it('checksums an empty chunk as the CRC of its type byte alone', () => {
    // An empty view of an empty buffer has no memory behind it; Node's crc32 mishandles that.
    const empty = new Uint8Array(0).subarray(0, 0);
    const framed = frameRecord(empty, HEADER);
    expect(new DataView(framed.buffer).getUint32(0, true)).toBe(crc32(Uint8Array.of(CHUNK_FULL)));
  });

  it('with exactly 7 bytes left and an empty record, writes a zero-length FULL chunk', () => {
    const log = logOf([filler(HEADER, 7), new Uint8Array(0), payload(3)]);
    expect(scanWandbTransactionLog(log).chunks.map((c) => [c.offset, c.type, c.length])).toEqual([
      [7, CHUNK_FULL, BLOCK - 21],
      [BLOCK - 7, CHUNK_FULL, 0],
      [BLOCK, CHUNK_FULL, 3],
    ]);
  });

  it('splits a record larger than a block into FIRST, MIDDLE..., LAST, each ending its block', () => {
    const big = payload(100_000);
    const log = logOf([payload(10), big, payload(10)]);
    const { chunks, records } = scanWandbTransactionLog(log);
    const firstLength = BLOCK - 24 - HEADER;
    const middle = BLOCK - HEADER;
    const lastLength = 100_000 - firstLength - 2 * middle;
    expect(chunks.map((c) => [c.offset, c.type, c.length])).toEqual([
      [7, CHUNK_FULL, 10],
      [24, CHUNK_FIRST, firstLength],
      [BLOCK, CHUNK_MIDDLE, middle],
      [2 * BLOCK, CHUNK_MIDDLE, middle],
      [3 * BLOCK, CHUNK_LAST, lastLength],
      [3 * BLOCK + HEADER + lastLength, CHUNK_FULL, 10],
    ]);
    expect(hex([records[1]!])).toEqual(hex([big]));
  });

  it('ends a multi-block record exactly at a block end without an empty LAST chunk', () => {
    const exact = payload(BLOCK - 24 - HEADER + (BLOCK - HEADER));
    const log = logOf([payload(10), exact]);
    expect(chunkTypes(log)).toEqual([CHUNK_FULL, CHUNK_FIRST, CHUNK_LAST]);
    expect(log.length).toBe(2 * BLOCK);
  });

  it('round-trips any record size at any offset near a block end', () => {
    for (let left = 0; left <= 20; left++) {
      for (const size of [0, 1, 6, 7, 8, 13, 14, BLOCK - 8, BLOCK - 7, BLOCK - 6, BLOCK, 70_000]) {
        const lead = filler(HEADER, left);
        const log = logOf([lead, payload(size, left), payload(1)]);
        const { records, chunks } = scanWandbTransactionLog(log);
        expect(hex(records)).toEqual(hex([lead, payload(size, left), payload(1)]));
        for (const c of chunks) {
          expect(Math.floor(c.offset / BLOCK)).toBe(Math.floor((c.offset + 6 + c.length) / BLOCK));
        }
      }
    }
  });
});

describe('scanWandbTransactionLog', () => {
  const good = logOf([filler(HEADER, 3), payload(50_000), payload(9)]);

  it('rejects a CRC mismatch', () => {
    const bad = Uint8Array.from(good);
    bad[40] = bad[40]! ^ 1;
    expect(() => scanWandbTransactionLog(bad)).toThrow(/CRC mismatch at 7/);
  });

  it('rejects non-zero block fill', () => {
    const bad = Uint8Array.from(good);
    bad[BLOCK - 2] = 1;
    expect(() => scanWandbTransactionLog(bad)).toThrow(/non-zero block fill/);
  });

  it('rejects fill bytes after the last record, as wandb-core does', () => {
    const bad = Buffer.concat([logOf([filler(HEADER, 3)]), new Uint8Array(2)]);
    expect(() => scanWandbTransactionLog(bad)).toThrow(/after the last record/);
  });

  it('rejects a file cut inside a record', () => {
    expect(() => scanWandbTransactionLog(good.subarray(0, BLOCK + 100))).toThrow(/truncated/);
    expect(() => scanWandbTransactionLog(good.subarray(0, 2 * BLOCK))).toThrow(
      /ends inside a record/,
    );
  });

  it('rejects a bad header', () => {
    const bad = Uint8Array.from(good);
    bad[0] = 0;
    expect(() => scanWandbTransactionLog(bad)).toThrow(/bad header/);
  });
});

describe('WandbTransactionLogWriter', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trackstack-wandb-log-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes exactly what frameRecord computes, and the file is readable after every append', () => {
    const path = join(dir, 'run-a.wandb');
    const writer = WandbTransactionLogWriter.create(path);
    const records: Uint8Array[] = [];
    let seed = 1;
    for (let i = 0; i < 300; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      const record = payload(seed % (i % 50 === 0 ? 90_000 : 700), i);
      const offset = writer.append(record);
      records.push(record);
      expect(offset).toBeLessThan(writer.size);
      if (i % 37 === 0) {
        writer.flush();
        expect(hex(scanWandbTransactionLog(readFileSync(path)).records)).toEqual(hex(records));
      }
    }
    writer.close();
    writer.close();
    const bytes = readFileSync(path);
    expect(bytes.length).toBe(writer.size);
    expect(bytes.equals(logOf(records))).toBe(true);
    expect(() => writer.append(payload(1))).toThrow(/closed/);
  });

  it('returns the offset of the record after any block fill', () => {
    const writer = WandbTransactionLogWriter.create(join(dir, 'run-b.wandb'));
    writer.append(filler(HEADER, 4));
    expect(writer.size).toBe(BLOCK - 4);
    expect(writer.append(payload(3))).toBe(BLOCK);
    writer.close();
  });

  it('refuses to overwrite an existing file, as wandb-core does', () => {
    const path = join(dir, 'run-c.wandb');
    WandbTransactionLogWriter.create(path).close();
    expect(() => WandbTransactionLogWriter.create(path)).toThrow(/EEXIST/);
  });
});
