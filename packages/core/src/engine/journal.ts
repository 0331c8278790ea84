/**
 * The journal: an append-only file per run and per writing process (a
 * "segment"), one JSON object per line. It is the durable copy of everything a
 * run accepted and the queue the senders read from.
 *
 * Metric points travel as columns: each column is the little-endian bytes of a
 * typed array, base64-encoded, so a block of thousands of points costs one
 * line, is exact (NaN and ±Infinity included) and is cheap to write on the
 * logging thread.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { TrackstackError } from '../errors.js';
import type { ConsoleLine, FinalRunStatus, KeyValue } from '../types.js';

export const JOURNAL_VERSION = 1;

export interface MetricsBlock {
  /** Number of points. */
  n: number;
  /** Key names used in this block; `k` indexes into it. */
  keys: string[];
  /** base64 Uint32Array: key index per point. */
  k: string;
  /** base64 Float64Array: value per point. */
  v: string;
  /** base64 Float64Array: step per point. */
  s: string;
  /** base64 Float64Array: timestamp (epoch ms) per point. */
  ts: string;
}

export interface HeaderRecord {
  t: 'h';
  v: number;
  uid: string;
  segment: string;
  pid: number;
  host: string;
  time: number;
}

/** A console line: number, stream ('o' stdout, 'e' stderr), start time (epoch ms), text. */
export type ConsoleEntry = [line: number, stream: 'o' | 'e', time: number, text: string];

export interface BatchRecord {
  t: 'b';
  q: number;
  p?: [string, string][];
  g?: [string, string][];
  m?: MetricsBlock;
  /** Console lines; a number seen again replaces the line (it was still open). */
  o?: ConsoleEntry[];
}

export interface ArtifactRecord {
  t: 'a';
  q: number;
  /** Destination path inside the run's artifacts. */
  path: string;
  /** Staged copy, relative to the run directory. */
  file: string;
  size: number;
  sha256: string;
  ct: string;
}

export interface EndRecord {
  t: 'e';
  q: number;
  status: FinalRunStatus;
  time: number;
}

export type DataRecord = BatchRecord | ArtifactRecord | EndRecord;
export type JournalRecord = HeaderRecord | DataRecord;

/** How many logged events (params, tags, points, artifacts, status) a record carries. */
export function recordEvents(record: DataRecord): number {
  switch (record.t) {
    case 'b':
      return (
        (record.p?.length ?? 0) +
        (record.g?.length ?? 0) +
        (record.m?.n ?? 0) +
        (record.o?.length ?? 0)
      );
    case 'a':
    case 'e':
      return 1;
  }
}

export function encodeColumn(array: Float64Array | Uint32Array, n: number): string {
  return Buffer.from(array.buffer, array.byteOffset, n * array.BYTES_PER_ELEMENT).toString(
    'base64',
  );
}

export interface DecodedMetrics {
  keys: string[];
  k: Uint32Array;
  v: Float64Array;
  s: Float64Array;
  ts: Float64Array;
}

/** Columns of blocks that this process logged, kept in memory (see JournalTail): no base64 to undo. */
const liveColumns = new WeakMap<MetricsBlock, DecodedMetrics>();

export function decodeMetrics(block: MetricsBlock): DecodedMetrics {
  const live = liveColumns.get(block);
  if (live !== undefined) return live;
  const n = block.n;
  return {
    keys: block.keys,
    k: new Uint32Array(...columnBytes(block.k, n, 4)),
    v: new Float64Array(...columnBytes(block.v, n, 8)),
    s: new Float64Array(...columnBytes(block.s, n, 8)),
    ts: new Float64Array(...columnBytes(block.ts, n, 8)),
  };
}

/** A decoded column as (buffer, byte offset, length) for a typed array of `n` elements. */
function columnBytes(
  base64: string,
  n: number,
  size: number,
): [buffer: ArrayBufferLike, byteOffset: number, length: number] {
  const expected = n * size;
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length !== expected) {
    throw new Error(`metric column has ${bytes.length} bytes, expected ${expected}`);
  }
  // Typed arrays need alignment that Buffer's pool does not promise: copy when it is off.
  if (bytes.byteOffset % size === 0) return [bytes.buffer, bytes.byteOffset, n];
  const out = new ArrayBuffer(expected);
  new Uint8Array(out).set(bytes);
  return [out, 0, n];
}

interface TailEntry {
  /** Byte offsets of the record's line in the segment: `[start, end)`, newline included. */
  start: number;
  end: number;
  record: JournalRecord;
  /** Memory the entry holds, for the bound. */
  cost: number;
}

/**
 * The newest records of the segment this process writes, as they were
 * appended, so that a delivery following the segment takes them from memory
 * instead of reading, parsing and decoding the lines it just wrote. Metric
 * columns are kept decoded (typed arrays, not the base64 of the line).
 *
 * The file stays the only source of truth: the tail holds complete lines, at
 * the byte offsets the file has them, one run of consecutive lines. A record
 * leaves once every reader following the segment has read past it. When the
 * readers fall more than `maxBytes` behind (the backend is down, delivery
 * lags), the tail stops taking records (the writer then keeps no copies of
 * columns either: no memory grows and no garbage is made for it), the readers
 * read the rest from the file, as `sync` does, and once one of them is level
 * with the writer again the tail starts over from there.
 */
export class JournalTail {
  private readonly entries: TailEntry[] = [];
  private head = 0;
  private bytes = 0;
  private readonly maxBytes: number;
  /** The file's size as the writer last reported it. */
  private size = 0;
  private taking = true;
  /** Each following reader's offset: a line boundary it has read up to. */
  private readonly readers = new Map<object, number>();

  constructor(maxBytes = 8 * 1024 * 1024) {
    this.maxBytes = maxBytes;
  }

  /** Whether the next record would be kept: the writer makes decoded columns for it only then. */
  get accepting(): boolean {
    return this.taking;
  }

  /** The writer appended the line `[start, end)`; the tail keeps it if it is taking records. */
  add(start: number, end: number, record: JournalRecord, cost: number): void {
    const contiguous = start === this.size;
    this.size = end;
    if (!this.taking) return;
    if (!contiguous || this.bytes + cost > this.maxBytes) {
      this.taking = false;
      return;
    }
    this.entries.push({ start, end, record, cost });
    this.bytes += cost;
  }

  /**
   * A following reader is at `offset` (a line boundary): the records every
   * reader has passed leave; a reader level with the writer restarts a tail
   * that had stopped.
   */
  reached(reader: object, offset: number): void {
    this.readers.set(reader, offset);
    let lowest = offset;
    for (const at of this.readers.values()) lowest = Math.min(lowest, at);
    const entries = this.entries;
    while (this.head < entries.length && entries[this.head]!.end <= lowest) {
      this.bytes -= entries[this.head]!.cost;
      this.head += 1;
    }
    if (this.head === entries.length) {
      entries.length = 0;
      this.head = 0;
      this.bytes = 0;
    } else if (this.head > 64 && this.head * 2 > entries.length) {
      entries.splice(0, this.head);
      this.head = 0;
    }
    if (!this.taking && entries.length === 0 && offset === this.size) this.taking = true;
  }

  /** Whether it holds the line that starts at `offset`. */
  has(offset: number): boolean {
    return this.entries[this.search(offset)]?.start === offset;
  }

  /** The records whose lines follow one another from `offset` on, up to about `maxBytes` of lines. */
  from(offset: number, maxBytes: number): TailEntry[] {
    const entries = this.entries;
    const out: TailEntry[] = [];
    let at = offset;
    for (let i = this.search(offset); i < entries.length && entries[i]!.start === at; i++) {
      out.push(entries[i]!);
      at = entries[i]!.end;
      if (at - offset >= maxBytes) break;
    }
    return out;
  }

  /** Index of the first kept entry that starts at or after `offset`. */
  private search(offset: number): number {
    const entries = this.entries;
    let lo = this.head;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entries[mid]!.start < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Appends records to one segment file. Writes are synchronous: a line is in the OS once `append` returns. */
export class JournalWriter {
  readonly path: string;
  private fd: number | undefined;
  private nextSeq = 1;
  /** Bytes in the file: where the next line starts. */
  private size = 0;
  private readonly tail: JournalTail | undefined;

  constructor(
    path: string,
    header: Omit<HeaderRecord, 't' | 'v'>,
    options: { tail?: JournalTail | undefined } = {},
  ) {
    this.path = path;
    this.tail = options.tail;
    this.fd = openSync(path, 'wx', 0o600);
    const record: HeaderRecord = { t: 'h', v: JOURNAL_VERSION, ...header };
    const end = this.writeLine(record);
    this.tail?.add(0, end, record, end);
  }

  /** Whether the next record goes into an in-memory tail (then `append` wants its metric columns). */
  get wantsColumns(): boolean {
    return this.tail?.accepting === true;
  }

  /** The sequence number the next record will get. */
  get seq(): number {
    return this.nextSeq;
  }

  /**
   * Appends a record. `columns` are the decoded columns of its metrics block,
   * for the tail (the caller hands over arrays it will not change).
   */
  append<R extends DataRecord>(record: Omit<R, 'q'>, columns?: DecodedMetrics): R {
    const full = { ...record, q: this.nextSeq } as R;
    const start = this.size;
    const end = this.writeLine(full);
    this.nextSeq += 1;
    // The line's length stands for the memory the entry holds (decoded columns take less).
    this.tail?.add(start, end, tailRecord(full, columns), end - start);
    return full;
  }

  sync(): void {
    if (this.fd !== undefined) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
  }

  get closed(): boolean {
    return this.fd === undefined;
  }

  /** Writes one line; returns the file's size after it. */
  private writeLine(record: JournalRecord): number {
    if (this.fd === undefined) {
      throw new TrackstackError('RUN_ENDED', `journal ${this.path} is closed`);
    }
    // The string goes to the OS as UTF-8 without a Buffer of it (a metrics record is
    // hundreds of KiB); a short write, rare for a file, finishes from the encoded bytes.
    const text = recordLine(record);
    let written = writeSync(this.fd, text);
    const length = Buffer.byteLength(text, 'utf8');
    if (written < length) {
      const line = Buffer.from(text, 'utf8');
      while (written < length) written += writeSync(this.fd, line, written, length - written);
    }
    this.size += length;
    return this.size;
  }
}

/**
 * A record's line. A metrics block's columns are spliced in as they are: base64
 * needs no JSON escaping, and `JSON.stringify` would scan the hundreds of KiB
 * of them for characters to escape.
 */
function recordLine(record: JournalRecord): string {
  if (record.t !== 'b' || record.m === undefined) return `${JSON.stringify(record)}\n`;
  const { m, ...rest } = record;
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)},"m":{"n":${m.n},"keys":${JSON.stringify(m.keys)},"k":"${m.k}","v":"${m.v}","s":"${m.s}","ts":"${m.ts}"}}\n`;
}

/**
 * What the tail keeps of a record: a metrics block as its decoded columns
 * (the base64 strings are dropped; `decodeMetrics` finds the columns),
 * anything else as it is.
 */
function tailRecord(record: DataRecord, columns: DecodedMetrics | undefined): DataRecord {
  if (record.t !== 'b' || record.m === undefined || columns === undefined) return record;
  const { n, keys } = record.m;
  const block: MetricsBlock = { n, keys, k: '', v: '', s: '', ts: '' };
  liveColumns.set(block, columns);
  return { ...record, m: block };
}

/**
 * Reads a segment incrementally: each `read` returns the complete lines that
 * were appended since the last call. A torn last line (the writer was killed
 * mid-write) is never returned; a malformed line elsewhere is an error that
 * names the file and line.
 */
export class JournalReader {
  readonly path: string;
  private offset = 0;
  private line = 0;
  private pending: Buffer = Buffer.alloc(0);
  private readonly tail: JournalTail | undefined;
  header: HeaderRecord | undefined;

  /** `tail`: the in-memory tail of this segment's writer, when this process writes it. */
  constructor(path: string, tail?: JournalTail) {
    this.path = path;
    this.tail = tail;
    tail?.reached(this, 0);
  }

  async read(maxBytes = 4 * 1024 * 1024): Promise<DataRecord[]> {
    // Part of a line read from the file, whose whole line the tail has: take it from there.
    if (this.pending.length > 0 && this.tail?.has(this.offset - this.pending.length)) {
      this.offset -= this.pending.length;
      this.pending = Buffer.alloc(0);
    }
    if (this.tail !== undefined && this.pending.length === 0) {
      const entries = this.tail.from(this.offset, maxBytes);
      if (entries.length > 0) {
        const records: DataRecord[] = [];
        for (const entry of entries) {
          this.offset = entry.end;
          this.line += 1;
          if (entry.record.t === 'h') this.header = entry.record;
          else records.push(entry.record);
        }
        this.tail.reached(this, this.offset);
        return records;
      }
    }
    const handle = await open(this.path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(Math.min(maxBytes, 1024 * 1024));
      // Nothing comes back only when the file has no complete data line left: a line
      // longer than maxBytes (or behind the header) is read to its end.
      for (;;) {
        const chunks: Buffer[] = [this.pending];
        let total = this.pending.length;
        let eof = false;
        // At least one read each time round: what is pending may already be over maxBytes.
        do {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
          if (bytesRead === 0) {
            eof = true;
            break;
          }
          chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
          this.offset += bytesRead;
          total += bytesRead;
        } while (total < maxBytes);
        const records = this.lines(Buffer.concat(chunks, total));
        if (records.length > 0 || eof) {
          this.tail?.reached(this, this.offset - this.pending.length);
          return records;
        }
      }
    } finally {
      await handle.close();
    }
  }

  /** Parses the complete lines of `data`; keeps the rest for the next read. */
  private lines(data: Buffer): DataRecord[] {
    const lastNewline = data.lastIndexOf(10);
    this.pending = lastNewline === -1 ? data : data.subarray(lastNewline + 1);
    const records: DataRecord[] = [];
    let start = 0;
    while (start <= lastNewline) {
      const end = data.indexOf(10, start);
      this.line += 1;
      const record = this.parse(data.toString('utf8', start, end));
      if (record !== undefined) records.push(record);
      start = end + 1;
    }
    return records;
  }

  /** Reads everything there is now. */
  async readAll(): Promise<DataRecord[]> {
    const out: DataRecord[] = [];
    for (;;) {
      const before = this.offset;
      for (const record of await this.read()) out.push(record);
      if (this.offset === before) return out;
    }
  }

  private parse(text: string): DataRecord | undefined {
    let record: JournalRecord;
    try {
      record = JSON.parse(text) as JournalRecord;
    } catch (error) {
      throw new TrackstackError(
        'CORRUPT_FILE',
        `journal ${this.path} line ${this.line} is not valid JSON`,
        { cause: error, hint: 'the file was edited or damaged; move it away to sync the rest' },
      );
    }
    if (record.t === 'h') {
      if (record.v > JOURNAL_VERSION) {
        throw new TrackstackError(
          'CORRUPT_FILE',
          `journal ${this.path} has version ${record.v}; this trackstack reads up to ${JOURNAL_VERSION}`,
          { hint: 'upgrade @trackstack/core' },
        );
      }
      this.header = record;
      return undefined;
    }
    if (record.t !== 'b' && record.t !== 'a' && record.t !== 'e') {
      throw new TrackstackError(
        'CORRUPT_FILE',
        `journal ${this.path} line ${this.line} has an unknown record type`,
      );
    }
    return record;
  }
}

export function consoleLineOf(entry: ConsoleEntry): ConsoleLine {
  return {
    line: entry[0],
    stream: entry[1] === 'e' ? 'stderr' : 'stdout',
    timestamp: entry[2],
    text: entry[3],
  };
}

export function keyValuePairs(entries: KeyValue[]): [string, string][] {
  return entries.map((entry) => [entry.key, entry.value]);
}
