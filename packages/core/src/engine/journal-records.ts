/**
 * What a journal line holds: the record types, how many logged events each
 * carries, and the columns of a metrics block (little-endian typed arrays,
 * base64-encoded: exact, NaN and ±Infinity included, cheap to write).
 */

import type {
  ConsoleLine,
  DatasetInput,
  FinalRunStatus,
  KeyValue,
  MediaImage,
} from '../contract/types.js';
import type { MetricColumns } from '../contract/write-batch.js';

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

/** A dataset the run read (`logInput`). */
export interface InputRecord {
  t: 'i';
  q: number;
  input: DatasetInput;
}

/** A staged image: its copy relative to the run directory, and what its header says. */
export type ImageEntry = Omit<MediaImage, 'localPath'> & { file: string };

/**
 * A media value (`logImage`, `logTable`, `logHistogram`) at a key and step.
 * Images and tables are staged files; a histogram's bins are inline.
 */
export type MediaRecord = {
  t: 'm';
  q: number;
  key: string;
  step: number;
  ts: number;
} & MediaBody;

/** What a media record holds besides its key, step and time. */
export type MediaBody =
  | { kind: 'image'; image: ImageEntry }
  | {
      kind: 'table';
      /** The staged table file (see encodeTableFile). */
      table: { file: string; sha256: string; size: number; columns: number; rows: number };
      images: ImageEntry[];
    }
  | { kind: 'histogram'; bins: number[]; counts: number[] };

export interface EndRecord {
  t: 'e';
  q: number;
  status: FinalRunStatus;
  time: number;
}

export type DataRecord = BatchRecord | ArtifactRecord | InputRecord | MediaRecord | EndRecord;
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
    case 'i':
    case 'm':
    case 'e':
      return 1;
  }
}

export function encodeColumn(array: Float64Array | Uint32Array, n: number): string {
  return Buffer.from(array.buffer, array.byteOffset, n * array.BYTES_PER_ELEMENT).toString(
    'base64',
  );
}

/** Columns of blocks that this process logged, kept in memory (see JournalTail): no base64 to undo. */
const liveColumns = new WeakMap<MetricsBlock, MetricColumns>();

/**
 * A metrics block without its base64 strings, whose columns `decodeMetrics`
 * returns from memory: what the journal's in-memory tail keeps.
 */
export function liveBlock(block: MetricsBlock, columns: MetricColumns): MetricsBlock {
  const { n, keys } = block;
  const live: MetricsBlock = { n, keys, k: '', v: '', s: '', ts: '' };
  liveColumns.set(live, columns);
  return live;
}

export function decodeMetrics(block: MetricsBlock): MetricColumns {
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
