/**
 * The journal: an append-only file per run and per writing process (a
 * "segment"), one JSON object per line (journal-records.ts). It is the
 * durable copy of everything a run accepted and the queue deliveries read.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { TrackstackError } from '../contract/errors.js';
import type { MetricColumns } from '../contract/write-batch.js';
import {
  type DataRecord,
  type HeaderRecord,
  JOURNAL_VERSION,
  type JournalRecord,
  liveBlock,
} from './journal-records.js';
import type { JournalTail } from './journal-tail.js';
import { SegmentIndex } from './segment-index.js';
import { saveSegmentIndex } from './segment-index-file.js';

/** The data record types this version reads (batch, artifact, input, media, end). */
const DATA_RECORD_TYPES: ReadonlySet<string> = new Set(['b', 'a', 'i', 'm', 'e']);

/** The writer saves its segment's read index at most this often (and when it closes). */
const INDEX_SAVE_INTERVAL_MS = 5000;

/** Appends records to one segment file. Writes are synchronous: a line is in the OS once `append` returns. */
export class JournalWriter {
  readonly path: string;
  private fd: number | undefined;
  private nextSeq = 1;
  /** Bytes in the file: where the next line starts. */
  private size = 0;
  private readonly tail: JournalTail | undefined;
  /** The segment's read index, and where it is saved (`indexPath`). */
  private readonly index: SegmentIndex | undefined;
  private readonly indexPath: string | undefined;
  private indexSavedAt = 0;

  constructor(
    path: string,
    header: Omit<HeaderRecord, 't' | 'v'>,
    options: { tail?: JournalTail | undefined; indexPath?: string | undefined } = {},
  ) {
    this.path = path;
    this.tail = options.tail;
    this.indexPath = options.indexPath;
    this.index = options.indexPath === undefined ? undefined : new SegmentIndex(header.segment);
    this.fd = openSync(path, 'wx', 0o600);
    const record: HeaderRecord = { t: 'h', v: JOURNAL_VERSION, ...header };
    const end = this.writeLine(record);
    this.tail?.add(0, end, record, end);
    this.index?.skip(0, end);
  }

  /** Whether the next record goes into an in-memory tail (then `append` wants copies of its metric columns). */
  get wantsColumns(): boolean {
    return this.tail?.accepting === true;
  }

  /** The sequence number the next record will get. */
  get seq(): number {
    return this.nextSeq;
  }

  /**
   * Appends a record. `columns` are the decoded columns of its metrics block,
   * for the tail (the caller hands over arrays it will not change); `view`
   * the same columns in arrays the caller will reuse, read by the read index
   * before this returns (else it decodes the block).
   */
  append<R extends DataRecord>(
    record: Omit<R, 'q'>,
    columns?: MetricColumns,
    view?: MetricColumns,
  ): R {
    const full = { ...record, q: this.nextSeq } as R;
    const start = this.size;
    const end = this.writeLine(full);
    this.nextSeq += 1;
    // The line's length stands for the memory the entry holds (decoded columns take less).
    this.tail?.add(start, end, tailRecord(full, columns), end - start);
    if (this.index !== undefined) {
      this.index.add(full, start, end - start, columns ?? view);
      if (Date.now() - this.indexSavedAt >= INDEX_SAVE_INTERVAL_MS) this.saveIndex();
    }
    return full;
  }

  /** Saves the read index, when it changed (segment-index-file.ts). */
  saveIndex(): void {
    const { index, indexPath } = this;
    if (index === undefined || indexPath === undefined || !index.changed) return;
    this.indexSavedAt = Date.now();
    saveSegmentIndex(indexPath, index.toJSON());
  }

  sync(): void {
    if (this.fd !== undefined) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    this.saveIndex();
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
function tailRecord(record: DataRecord, columns: MetricColumns | undefined): DataRecord {
  if (record.t !== 'b' || record.m === undefined || columns === undefined) return record;
  return { ...record, m: liveBlock(record.m, columns) };
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
    const record = parseLine(text, `journal ${this.path} line ${this.line}`, this.path);
    if (record.t === 'h') {
      this.header = record;
      return undefined;
    }
    return record;
  }
}

/** One journal line, checked: JSON, a header of a version this reads, or a known data record. */
function parseLine(text: string, where: string, path: string): JournalRecord {
  let record: JournalRecord;
  try {
    record = JSON.parse(text) as JournalRecord;
  } catch (error) {
    throw new TrackstackError('CORRUPT_FILE', `${where} is not valid JSON`, {
      cause: error,
      hint: 'the file was edited or damaged; move it away to sync the rest',
    });
  }
  if (record.t === 'h') {
    if (record.v > JOURNAL_VERSION) {
      throw new TrackstackError(
        'CORRUPT_FILE',
        `journal ${path} has version ${record.v}; this trackstack reads up to ${JOURNAL_VERSION}`,
        { hint: 'upgrade @trackstack/core' },
      );
    }
    return record;
  }
  if (!DATA_RECORD_TYPES.has(record.t)) {
    throw new TrackstackError('CORRUPT_FILE', `${where} has an unknown record type`);
  }
  return record;
}

/**
 * Reads a segment from byte `from` to its last complete line, and hands each
 * record to `visit` with its offset and length (a torn last line, still being
 * written or cut by a crash, is left out). Returns where it stopped.
 */
export async function scanSegment(
  path: string,
  from: number,
  visit: (record: JournalRecord, offset: number, length: number) => void,
  /** The number of the line at `from` (1 at the start), for messages. */
  firstLine = 1,
): Promise<number> {
  let line = firstLine;
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    let offset = from;
    let pending = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset + pending.length);
      if (bytesRead === 0) return offset;
      const data =
        pending.length === 0
          ? buffer.subarray(0, bytesRead)
          : Buffer.concat([pending, buffer.subarray(0, bytesRead)]);
      let start = 0;
      for (;;) {
        const end = data.indexOf(10, start);
        if (end === -1) break;
        const record = parseLine(
          data.toString('utf8', start, end),
          `journal ${path} line ${line}`,
          path,
        );
        line += 1;
        visit(record, offset, end + 1 - start);
        offset += end + 1 - start;
        start = end + 1;
      }
      pending = Buffer.from(data.subarray(start));
    }
  } finally {
    await handle.close();
  }
}
