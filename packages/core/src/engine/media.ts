/**
 * Media values: the checks `logImage`, `logTable` and `logHistogram` make
 * before anything is staged or journaled, the `image()` value a table cell
 * holds, the histogram of raw values, and the staged table file's form.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ValidationError } from '../contract/errors.js';
import type {
  HistogramMedia,
  ImageMedia,
  Media,
  MediaImage,
  TableCell,
} from '../contract/types.js';
import { ImageFormatProblem, type ImageInfo, readImageInfo } from './image-info.js';
import type { ImageEntry, MediaRecord } from './journal-records.js';

/** An image file larger than this is refused (log it with `logArtifact`). */
export const MAX_IMAGE_BYTES = 50 * 1024 * 1024;
/** More pixels than this is refused: Pillow's decompression-bomb error threshold. */
export const MAX_IMAGE_PIXELS = 178_956_970;
/** W&B's cap on a histogram's bins. */
export const MAX_HISTOGRAM_BINS = 512;
/** Bins of a histogram of raw values when none are asked for (W&B's `num_bins`). */
export const DEFAULT_HISTOGRAM_BINS = 64;
/** W&B's cap on a logged table's rows (`Table.MAX_ARTIFACT_ROWS`). */
export const MAX_TABLE_ROWS = 200_000;
export const MAX_TABLE_COLUMNS = 1000;
export const MAX_CAPTION_LENGTH = 4096;

const IMAGE_VALUE = Symbol.for('trackstack.image');

/** An image to log or to put in a table cell: made by `image()`. */
export interface ImageValue {
  readonly [IMAGE_VALUE]: true;
  /** PNG or JPEG bytes, or a file path. */
  readonly source: Uint8Array | string;
  readonly caption: string | undefined;
}

/**
 * An image value, for a table cell or `logImage`: PNG or JPEG bytes, or the
 * path of such a file (read when the value is logged).
 */
export function image(source: Uint8Array | string, options: { caption?: string } = {}): ImageValue {
  return Object.freeze({ [IMAGE_VALUE]: true as const, source, caption: options.caption });
}

export function isImageValue(value: unknown): value is ImageValue {
  return typeof value === 'object' && value !== null && IMAGE_VALUE in value;
}

/** An image read and checked, ready to stage. */
export interface LoadedImage {
  bytes: Uint8Array;
  info: ImageInfo;
  caption: string | undefined;
  /** The base name of the file it was read from (absent for bytes). */
  fileName: string | undefined;
}

/**
 * Reads an image (bytes, a path or an `image()` value) and checks it: PNG or
 * JPEG, whole, within the size caps. `where` names the key (and cell) in errors.
 */
export async function loadImage(
  where: string,
  value: unknown,
  caption: unknown = undefined,
): Promise<LoadedImage> {
  let source: unknown = value;
  let text: unknown = caption;
  if (isImageValue(value)) {
    source = value.source;
    text = caption ?? value.caption;
  }
  const checkedCaption = checkCaption(where, text);
  let bytes: Uint8Array;
  let fileName: string | undefined;
  if (source instanceof Uint8Array) {
    bytes = source;
  } else if (typeof source === 'string') {
    const path = resolve(source);
    let size: number;
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new Error('not a file');
      size = info.size;
    } catch {
      throw invalid(where, 'value-type', `image ${path} is not a readable file`);
    }
    tooLarge(where, size);
    bytes = await readFile(path);
    fileName = basename(path);
  } else {
    throw invalid(
      where,
      'value-type',
      `an image is PNG or JPEG bytes (a Uint8Array), a file path or an image() value, not ${describe(source)}`,
    );
  }
  tooLarge(where, bytes.length);
  const info = readImageInfo(bytes);
  if (info instanceof ImageFormatProblem) throw invalid(where, 'image-format', info.reason);
  if (info.width * info.height > MAX_IMAGE_PIXELS) {
    throw invalid(
      where,
      'too-large',
      `image is ${info.width}×${info.height} pixels; at most ${MAX_IMAGE_PIXELS} are allowed`,
    );
  }
  return { bytes, info, caption: checkedCaption, fileName };
}

function tooLarge(where: string, size: number): void {
  if (size > MAX_IMAGE_BYTES) {
    throw invalid(
      where,
      'too-large',
      `image is ${size} bytes; at most ${MAX_IMAGE_BYTES} (50 MiB) are allowed (log larger files with logArtifact)`,
    );
  }
}

function checkCaption(where: string, caption: unknown): string | undefined {
  if (caption === undefined) return undefined;
  if (typeof caption !== 'string') throw invalid(where, 'value-type', 'caption must be a string');
  if (caption.length > MAX_CAPTION_LENGTH) {
    throw invalid(
      where,
      'value-too-long',
      `caption is ${caption.length} characters; at most ${MAX_CAPTION_LENGTH} are allowed`,
    );
  }
  return caption;
}

/** What `logHistogram` takes: raw values, or bins already counted. */
export type HistogramInput =
  | readonly number[]
  | Float64Array
  | Float32Array
  | { bins: readonly number[]; counts: readonly number[] };

/**
 * A histogram's bin edges and counts. Raw values are binned as numpy's
 * `histogram(values, bins)` bins them (equal widths over [min, max], the last
 * bin closed; one value or equal values get [v − 0.5, v + 0.5]; none get
 * [0, 1]); NaN and ±Infinity are refused, as numpy refuses them.
 */
export function histogramOf(
  key: string,
  input: unknown,
  binsOption: unknown,
): { bins: number[]; counts: number[] } {
  if (isCounted(input)) {
    if (binsOption !== undefined) {
      throw invalid(key, 'bins', 'give either counted bins or the bins option, not both');
    }
    return countedHistogram(key, input.bins, input.counts);
  }
  if (
    !Array.isArray(input) &&
    !(input instanceof Float64Array) &&
    !(input instanceof Float32Array)
  ) {
    throw invalid(
      key,
      'value-type',
      `a histogram is an array of numbers or { bins, counts }, not ${describe(input)}`,
    );
  }
  const n = binCount(key, binsOption);
  const values = input as ArrayLike<unknown>;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number') {
      throw invalid(key, 'value-type', `histogram value ${i} is ${describe(v)}, not a number`);
    }
    if (!Number.isFinite(v)) {
      throw invalid(key, 'value-type', `histogram value ${i} is ${v}; values must be finite`);
    }
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (values.length === 0) {
    min = 0;
    max = 1;
  } else if (min === max) {
    min -= 0.5;
    max += 0.5;
  }
  const bins = linspace(min, max, n + 1);
  const counts = new Array<number>(n).fill(0);
  const norm = n / (max - min);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    let index = Math.trunc((v - min) * norm);
    if (index >= n) index = n - 1;
    if (v < bins[index]!) index -= 1;
    else if (index !== n - 1 && v >= bins[index + 1]!) index += 1;
    counts[index]! += 1;
  }
  return { bins, counts };
}

function isCounted(input: unknown): input is { bins: unknown; counts: unknown } {
  return (
    typeof input === 'object' &&
    input !== null &&
    !ArrayBuffer.isView(input) &&
    !Array.isArray(input)
  );
}

function countedHistogram(
  key: string,
  bins: unknown,
  counts: unknown,
): { bins: number[]; counts: number[] } {
  if (!Array.isArray(bins) || !Array.isArray(counts)) {
    throw invalid(key, 'value-type', 'a counted histogram is { bins: number[], counts: number[] }');
  }
  if (counts.length < 1 || counts.length > MAX_HISTOGRAM_BINS) {
    throw invalid(
      key,
      'bins',
      `a histogram has 1 to ${MAX_HISTOGRAM_BINS} bins, not ${counts.length}`,
    );
  }
  if (bins.length !== counts.length + 1) {
    throw invalid(
      key,
      'bins',
      `bins are the ${counts.length + 1} edges of ${counts.length} counts, not ${bins.length}`,
    );
  }
  for (let i = 0; i < bins.length; i++) {
    const edge = bins[i];
    if (typeof edge !== 'number' || !Number.isFinite(edge)) {
      throw invalid(
        key,
        'bins',
        `bin edge ${i} is ${describe(edge)}; edges must be finite numbers`,
      );
    }
    if (i > 0 && edge <= (bins[i - 1] as number)) {
      throw invalid(key, 'bins', `bin edges must increase (edge ${i} is not above edge ${i - 1})`);
    }
  }
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i];
    if (typeof count !== 'number' || !Number.isFinite(count) || count < 0) {
      throw invalid(
        key,
        'value-type',
        `count ${i} is ${describe(count)}; counts are finite numbers ≥ 0`,
      );
    }
  }
  return { bins: [...(bins as number[])], counts: [...(counts as number[])] };
}

function binCount(key: string, option: unknown): number {
  if (option === undefined) return DEFAULT_HISTOGRAM_BINS;
  if (
    !Number.isInteger(option) ||
    (option as number) < 1 ||
    (option as number) > MAX_HISTOGRAM_BINS
  ) {
    throw invalid(
      key,
      'bins',
      `bins must be an integer from 1 to ${MAX_HISTOGRAM_BINS}, not ${describe(option)}`,
    );
  }
  return option as number;
}

/** numpy's `linspace(start, stop, num)` with its endpoint: the same doubles numpy computes. */
function linspace(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  const step = (stop - start) / div;
  const out = new Array<number>(num);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/** A table checked for shape and cell types; its image cells still to be read and staged. */
export interface CheckedTable {
  columns: string[];
  rows: unknown[][];
  /** The image() values and raw images of the cells, each once; cells refer to them by index. */
  images: { value: unknown; where: string }[];
  /** Per image cell: [row, column, index into images]. */
  imageCells: [number, number, number][];
}

/** Checks a table's columns, rows and cells (strings, numbers, booleans, null, images). */
export function checkTable(key: string, table: unknown): CheckedTable {
  if (typeof table !== 'object' || table === null) {
    throw invalid(key, 'value-type', `a table is { columns, rows }, not ${describe(table)}`);
  }
  const { columns, rows } = table as { columns?: unknown; rows?: unknown };
  if (!Array.isArray(columns) || columns.length === 0 || columns.length > MAX_TABLE_COLUMNS) {
    throw invalid(
      key,
      'table-shape',
      `columns must be an array of 1 to ${MAX_TABLE_COLUMNS} names`,
    );
  }
  const seen = new Set<string>();
  for (const [i, name] of columns.entries()) {
    if (typeof name !== 'string' || name.length === 0) {
      throw invalid(key, 'table-shape', `column ${i} must be a non-empty string`);
    }
    if (seen.has(name))
      throw invalid(key, 'table-shape', `column ${JSON.stringify(name)} appears twice`);
    seen.add(name);
  }
  if (!Array.isArray(rows)) throw invalid(key, 'table-shape', 'rows must be an array of arrays');
  if (rows.length > MAX_TABLE_ROWS) {
    throw invalid(
      key,
      'too-large',
      `table has ${rows.length} rows; at most ${MAX_TABLE_ROWS} are allowed`,
    );
  }
  const images: CheckedTable['images'] = [];
  const imageIndex = new Map<unknown, number>();
  const imageCells: CheckedTable['imageCells'] = [];
  for (const [r, row] of rows.entries()) {
    if (!Array.isArray(row) || row.length !== columns.length) {
      throw invalid(
        key,
        'table-shape',
        `row ${r} has ${Array.isArray(row) ? row.length : describe(row)} cells; every row has one per column (${columns.length})`,
      );
    }
    for (const [c, cell] of row.entries()) {
      if (
        cell === null ||
        typeof cell === 'string' ||
        typeof cell === 'number' ||
        typeof cell === 'boolean'
      ) {
        continue;
      }
      if (isImageValue(cell) || cell instanceof Uint8Array) {
        let index = imageIndex.get(cell);
        if (index === undefined) {
          index = images.length;
          imageIndex.set(cell, index);
          images.push({ value: cell, where: `${key}[${r}][${JSON.stringify(columns[c])}]` });
        }
        imageCells.push([r, c, index]);
        continue;
      }
      throw invalid(
        key,
        'value-type',
        `cell [${r}][${JSON.stringify(columns[c])}] is ${describe(cell)}; cells are strings, numbers, booleans, null or image() values`,
      );
    }
  }
  return { columns: [...columns] as string[], rows: rows as unknown[][], images, imageCells };
}

/**
 * The staged table file: `{"columns":[...],"rows":[[...]]}` where an image
 * cell is `{"$image": i}` (an index into the record's images) and a
 * non-finite number `{"$number": "NaN" | "Infinity" | "-Infinity"}`.
 */
export function encodeTableFile(table: CheckedTable): string {
  const cellAt = new Map<string, number>();
  for (const [r, c, i] of table.imageCells) cellAt.set(`${r},${c}`, i);
  const rows = table.rows.map((row, r) =>
    row.map((cell, c) => {
      const image = cellAt.get(`${r},${c}`);
      if (image !== undefined) return { $image: image };
      if (typeof cell === 'number' && !Number.isFinite(cell)) return { $number: String(cell) };
      return cell;
    }),
  );
  return JSON.stringify({ columns: table.columns, rows });
}

/** Reads a staged table file back, image cells resolved to the record's images. */
export function decodeTableFile(
  text: string,
  images: readonly MediaImage[],
): { columns: string[]; rows: TableCell[][] } {
  const parsed = JSON.parse(text) as { columns: string[]; rows: unknown[][] };
  const rows = parsed.rows.map((row) =>
    row.map((cell): TableCell => {
      if (typeof cell === 'object' && cell !== null) {
        const tagged = cell as { $image?: number; $number?: string };
        if (tagged.$image !== undefined) return images[tagged.$image]!;
        if (tagged.$number !== undefined) return Number(tagged.$number);
      }
      return cell as TableCell;
    }),
  );
  return { columns: parsed.columns, rows };
}

/** A staged image as flavors and readers get it: its copy's absolute path. */
function mediaImageOf(entry: ImageEntry, runDir: string): MediaImage {
  const { file, ...rest } = entry;
  return { localPath: join(runDir, file), ...rest };
}

/**
 * A media value the run logged, as the store lists it: an image or a
 * histogram whole, a table by its staged file and size (read it with
 * `LocalRuns.media`).
 */
export type LocalMedia =
  | ImageMedia
  | HistogramMedia
  | {
      kind: 'table';
      key: string;
      step: number;
      timestamp: number;
      table: { localPath: string; size: number; columns: number; rows: number };
      images: MediaImage[];
    };

/** A journaled media record with its paths resolved; a table not read. */
export function localMediaOf(record: MediaRecord, runDir: string): LocalMedia {
  const { key, step, ts: timestamp } = record;
  switch (record.kind) {
    case 'image':
      return { kind: 'image', key, step, timestamp, image: mediaImageOf(record.image, runDir) };
    case 'histogram':
      return { kind: 'histogram', key, step, timestamp, bins: record.bins, counts: record.counts };
    case 'table': {
      const { file, size, columns, rows } = record.table;
      return {
        kind: 'table',
        key,
        step,
        timestamp,
        table: { localPath: join(runDir, file), size, columns, rows },
        images: record.images.map((entry) => mediaImageOf(entry, runDir)),
      };
    }
  }
}

/** A journaled media record as a flavor gets it (`logMedia`): paths resolved, a table's rows read. */
export async function deliveredMedia(record: MediaRecord, runDir: string): Promise<Media> {
  const media = localMediaOf(record, runDir);
  if (media.kind !== 'table') return media;
  const { table, ...rest } = media;
  const text = await readFile(table.localPath, 'utf8');
  return { ...rest, ...decodeTableFile(text, media.images) };
}

function invalid(
  key: string,
  rule: ConstructorParameters<typeof ValidationError>[2],
  message: string,
): ValidationError {
  return new ValidationError('INVALID_VALUE', key, rule, message);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  if (typeof value === 'string') return `a string (${JSON.stringify(value.slice(0, 40))})`;
  return `${typeof value} ${String(value)}`;
}
