/**
 * Delivery cursors: how far each journal segment has been delivered to one
 * destination. A record read from a segment is tracked until every request
 * that carries a part of it was acknowledged (or refused); the segment's
 * cursor then moves over it, in order, and is persisted soon after. A crash
 * therefore replays at most the records that were in flight.
 */
import type { BackendError } from '../contract/errors.js';
import type { RunDir, SegmentCursor } from './run-dir.js';

const CURSOR_PERSIST_MS = 250;

/** One record on its way: the unit the cursors count. */
export interface PendingRecord {
  readonly segment: SegmentState;
  readonly q: number;
  /** Logged events it carries (params, tags, points, lines, an artifact, a status). */
  readonly events: number;
  /** Batches (open or sent) that still hold a part of it. */
  remaining: number;
  /** Every part of it was put into some batch. */
  sealed: boolean;
}

export interface SegmentState {
  readonly name: string;
  readonly cursor: SegmentCursor;
  readonly pending: PendingRecord[];
  dirty: boolean;
}

export class SegmentCursors {
  private readonly runDir: RunDir;
  private readonly destination: string;
  private readonly segments = new Map<string, SegmentState>();
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: (() => void)[] = [];
  /** Events read and not yet acknowledged. */
  unacked = 0;
  /** Events acknowledged (or refused) since these cursors were loaded. */
  acked = 0;

  private constructor(runDir: RunDir, destination: string) {
    this.runDir = runDir;
    this.destination = destination;
  }

  static async load(runDir: RunDir, destination: string, names: readonly string[]) {
    const cursors = new SegmentCursors(runDir, destination);
    for (const name of names) {
      const cursor = await runDir.readCursor(destination, name);
      cursors.segments.set(name, { name, cursor, pending: [], dirty: false });
    }
    return cursors;
  }

  segment(name: string): SegmentState {
    const segment = this.segments.get(name);
    if (segment === undefined) throw new Error(`no cursor for segment ${name}`);
    return segment;
  }

  /** Whether the segment's cursor is at or past `q`. */
  reached(name: string, q: number): boolean {
    return this.segment(name).cursor.q >= q;
  }

  /** Calls `listener` whenever a cursor moves. */
  onAdvance(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** A record read from `segment` starts its way; it is done once sealed and released by every batch. */
  track(segment: SegmentState, q: number, events: number): PendingRecord {
    const record: PendingRecord = { segment, q, events, remaining: 0, sealed: false };
    segment.pending.push(record);
    this.unacked += events;
    return record;
  }

  /** Every part of the record is in some batch now. */
  seal(record: PendingRecord): void {
    record.sealed = true;
    this.advance(record.segment);
  }

  /** A batch that held parts of these records was acknowledged (or refused). */
  release(records: readonly PendingRecord[]): void {
    for (const record of records) {
      record.remaining -= 1;
      this.advance(record.segment);
    }
  }

  /** The backend refused these records: the cursor moves over them, and remembers why. */
  reject(records: readonly PendingRecord[], error: BackendError): void {
    for (const { segment, q } of records) {
      segment.cursor.rejected ??= [];
      segment.cursor.rejected.push({ q, code: error.code, message: error.message });
    }
  }

  /** Writes the cursors that moved. */
  async persist(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (const segment of this.segments.values()) {
      if (!segment.dirty) continue;
      segment.dirty = false;
      await this.runDir.writeCursor(this.destination, segment.name, { ...segment.cursor });
    }
  }

  /** Moves the segment's cursor over every leading record that is done. */
  private advance(segment: SegmentState): void {
    let moved = false;
    while (segment.pending.length > 0) {
      const head = segment.pending[0]!;
      if (!head.sealed || head.remaining > 0) break;
      segment.pending.shift();
      segment.cursor.q = head.q;
      this.unacked -= head.events;
      this.acked += head.events;
      moved = true;
    }
    if (!moved) return;
    segment.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.persist();
    }, CURSOR_PERSIST_MS).unref();
    for (const listener of this.listeners) listener();
  }
}
