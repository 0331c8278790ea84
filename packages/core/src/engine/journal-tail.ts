/**
 * The newest records of the segment this process writes, kept in memory so
 * that a delivery following the segment need not read back the lines it just
 * wrote. The file stays the only source of truth.
 */
import type { JournalRecord } from './journal-records.js';

export interface TailEntry {
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
