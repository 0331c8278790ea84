/**
 * The batcher: journal records in, requests that fit one request of the
 * flavor out. Pure: no I/O, no timers; the delivery feeds it records as they
 * are read and the sender takes requests when it can send one.
 *
 * What is fed waits in an open window until the sender takes it (so what
 * queues up behind a paced or busy sender goes out together) or the window is
 * full. In logging order a window is one request. Laid out key by key
 * (`metricOrder: 'by-key'`), a window holds up to ten requests' worth and is
 * cut into requests that each hold a few keys' points: params first, then
 * tags, then each key's points in logging order.
 *
 * Every task lists the parts (records) it carries; `retain(part, n)` tells
 * the owner how many more tasks now carry a part, so a record counts as
 * delivered only once every task that holds some of it was acknowledged.
 */
import type { RequestLimits } from '../contract/limits.js';
import type {
  ArtifactUpload,
  ConsoleLine,
  DatasetInput,
  FinalRunStatus,
  KeyValue,
  MediaKind,
} from '../contract/types.js';
import {
  lazyMetricsBatch,
  type MetricColumns,
  type MetricSlice,
  type WriteBatch,
} from '../contract/write-batch.js';
import {
  consoleLineOf,
  type DataRecord,
  decodeMetrics,
  type MediaRecord,
} from './journal-records.js';

export type Task<P> =
  | { kind: 'write'; batch: WriteBatch; entities: number; parts: P[] }
  | { kind: 'artifact'; artifact: ArtifactUpload; parts: P[] }
  | { kind: 'input'; input: DatasetInput; parts: P[] }
  | { kind: 'media'; media: MediaRecord; parts: P[] }
  | { kind: 'finish'; status: FinalRunStatus; endTime: number; parts: P[] };

export interface BatcherOptions<P> {
  limits: RequestLimits;
  /** Pass console lines on (flavors with the `console` capability); else the journal keeps them. */
  console: boolean;
  /** Pass dataset inputs on (flavors with the `inputs` capability); else the journal keeps them. */
  inputs?: boolean;
  /** The media kinds to pass on (flavors with `capabilities.media`); else the journal keeps them. */
  media?: ReadonlySet<MediaKind>;
  /** Pass artifacts on (flavors with the `artifacts` capability). */
  artifacts: boolean;
  metricOrder: 'logged' | 'by-key';
  /** `n` more tasks carry a part of this record (n may be negative when a window holds nothing). */
  retain(part: P, n: number): void;
  /** The absolute path of an artifact's staged copy, from its path relative to the run. */
  stagedPath(file: string): string;
}

/** A key-by-key window holds this many requests' worth before it is cut. */
const BY_KEY_WINDOW_REQUESTS = 10;

/**
 * What a request's JSON adds to an entry beyond its strings (`{"key":"","value":""},`), to a
 * metric beyond its key (`{"key":"","value":-1.2345678901234567e-308,"timestamp":…,"step":…},`
 * with both numbers at 16 digits), to a console line beyond its text, and to the request
 * itself (its run id and field names). Requests are cut so that these estimates stay within
 * `maxBytes`: generous, so a flavor's real encoding does too.
 */
const ENTRY_BYTES = 32;
const METRIC_BYTES = 112;
const LINE_BYTES = 64;
const REQUEST_BYTES = 128;

interface Window<P> {
  params: Map<string, string>;
  tags: Map<string, string>;
  /** Contiguous runs of points, in logging order. */
  metrics: MetricSlice[];
  points: number;
  /** By line number: a line fed again (it was still open) replaces the earlier text. */
  console: Map<number, ConsoleLine>;
  bytes: number;
  parts: P[];
}

export class Batcher<P> {
  private readonly options: BatcherOptions<P>;
  /** What one window may hold: one request, or ten for key-by-key layouts. */
  private readonly window: RequestLimits;
  private readonly queue: Task<P>[] = [];
  private open: Window<P> | undefined;
  /** UTF-8 bytes of each key of a block's columns, computed once per block. */
  private readonly keyBytes = new WeakMap<MetricColumns, Uint32Array>();

  constructor(options: BatcherOptions<P>) {
    this.options = options;
    const { limits } = options;
    const n = options.metricOrder === 'by-key' ? BY_KEY_WINDOW_REQUESTS : 1;
    this.window = {
      maxMetrics: limits.maxMetrics * n,
      maxParams: limits.maxParams * n,
      maxTags: limits.maxTags * n,
      maxEntities: limits.maxEntities * n,
      maxBytes: limits.maxBytes * n,
    };
  }

  /** Tasks ready to be taken (closed windows and artifacts), not counting the open window. */
  get queued(): number {
    return this.queue.length;
  }

  /** Nothing fed is still waiting here. */
  get empty(): boolean {
    return this.queue.length === 0 && this.open === undefined;
  }

  /** Cuts a record's data (a batch or an artifact record) into what the batcher holds. */
  add(part: P, record: DataRecord): void {
    switch (record.t) {
      case 'b': {
        for (const [key, value] of record.p ?? []) this.addParam(part, key, value);
        for (const [key, value] of record.g ?? []) this.addTag(part, key, value);
        if (this.options.console) {
          for (const entry of record.o ?? []) this.addConsole(part, consoleLineOf(entry));
        }
        if (record.m !== undefined) this.addMetrics(part, decodeMetrics(record.m), record.m.n);
        return;
      }
      case 'a': {
        if (!this.options.artifacts) return;
        this.close();
        this.options.retain(part, 1);
        this.queue.push({
          kind: 'artifact',
          artifact: {
            localPath: this.options.stagedPath(record.file),
            path: record.path,
            size: record.size,
            sha256: record.sha256,
            contentType: record.ct,
          },
          parts: [part],
        });
        return;
      }
      case 'i': {
        if (!this.options.inputs) return;
        this.close();
        this.options.retain(part, 1);
        this.queue.push({ kind: 'input', input: record.input, parts: [part] });
        return;
      }
      case 'm': {
        if (this.options.media?.has(record.kind) !== true) return;
        this.close();
        this.options.retain(part, 1);
        this.queue.push({ kind: 'media', media: record, parts: [part] });
        return;
      }
      case 'e':
        // A run's end is the delivery's: it goes last, after everything else was acknowledged.
        return;
    }
  }

  /** The next task: a queued one, else the open window as it stands. */
  take(): Task<P> | undefined {
    if (this.queue.length === 0) this.close();
    return this.queue.shift();
  }

  /** Closes the open window into requests, queued in order. */
  close(): void {
    const window = this.open;
    if (window === undefined) return;
    this.open = undefined;
    const requests =
      this.options.metricOrder === 'by-key' ? this.cutByKey(window) : [this.request(window)];
    for (const part of window.parts) this.options.retain(part, requests.length - 1);
    for (const request of requests) this.queue.push(request);
  }

  private windowFor(part: P): Window<P> {
    let window = this.open;
    if (window === undefined) {
      window = {
        params: new Map(),
        tags: new Map(),
        metrics: [],
        points: 0,
        console: new Map(),
        bytes: REQUEST_BYTES,
        parts: [],
      };
      this.open = window;
    }
    if (window.parts[window.parts.length - 1] !== part) {
      window.parts.push(part);
      this.options.retain(part, 1);
    }
    return window;
  }

  private entities(window: Window<P>): number {
    return window.params.size + window.tags.size + window.points + window.console.size;
  }

  /** Whether one more entity of `bytes` fits the open window (true when there is none). */
  private fits(bytes: number): boolean {
    const window = this.open;
    return (
      window === undefined ||
      (this.entities(window) < this.window.maxEntities &&
        window.bytes + bytes <= this.window.maxBytes)
    );
  }

  private addParam(part: P, key: string, value: string): void {
    const previous = this.open?.params.get(key);
    if (previous === value) return;
    const bytes = jsonBytes(key) + jsonBytes(value) + ENTRY_BYTES;
    // The same key with another value (an earlier process's, refused by the backend) goes alone.
    if (
      previous !== undefined ||
      (this.open?.params.size ?? 0) >= this.window.maxParams ||
      !this.fits(bytes)
    ) {
      this.close();
    }
    const window = this.windowFor(part);
    window.params.set(key, value);
    window.bytes += bytes;
  }

  private addTag(part: P, key: string, value: string): void {
    const bytes = jsonBytes(key) + jsonBytes(value) + ENTRY_BYTES;
    if (
      this.open?.tags.has(key) !== true &&
      ((this.open?.tags.size ?? 0) >= this.window.maxTags || !this.fits(bytes))
    ) {
      this.close();
    }
    const window = this.windowFor(part);
    window.tags.set(key, value);
    window.bytes += bytes;
  }

  private addConsole(part: P, line: ConsoleLine): void {
    const bytes = jsonBytes(line.text) + LINE_BYTES;
    if (this.open?.console.has(line.line) !== true && !this.fits(bytes)) this.close();
    const window = this.windowFor(part);
    window.console.set(line.line, line);
    window.bytes += bytes;
  }

  /**
   * Adds a block's `n` points, in order, as one point at a time would: a point
   * that does not fit closes the window and starts the next one. Runs of
   * points that fit are added as one slice.
   */
  private addMetrics(part: P, columns: MetricColumns, n: number): void {
    const sizes = this.keySizes(columns);
    const { k } = columns;
    const { maxMetrics, maxEntities, maxBytes } = this.window;
    let i = 0;
    while (i < n) {
      const window = this.windowFor(part);
      const others = window.params.size + window.tags.size + window.console.size;
      let count = window.points;
      let bytes = window.bytes;
      const start = i;
      for (; i < n; i++) {
        const size = sizes[k[i]!]!;
        if (count >= maxMetrics || count + others >= maxEntities || bytes + size > maxBytes) break;
        count += 1;
        bytes += size;
      }
      if (i > start) {
        const last = window.metrics[window.metrics.length - 1];
        if (last !== undefined && last.columns === columns && last.end === start) last.end = i;
        else window.metrics.push({ columns, start, end: i });
        window.points = count;
        window.bytes = bytes;
      }
      // Point i does not fit: it starts the next window, whatever its size.
      if (i < n) this.close();
      if (i < n && i === start) {
        const next = this.windowFor(part);
        next.metrics.push({ columns, start: i, end: i + 1 });
        next.points = 1;
        next.bytes += sizes[k[i]!]!;
        i += 1;
      }
    }
  }

  /** Bytes a point of each of the block's keys adds to a request. */
  private keySizes(columns: MetricColumns): Uint32Array {
    let sizes = this.keyBytes.get(columns);
    if (sizes === undefined) {
      sizes = new Uint32Array(columns.keys.length);
      for (let i = 0; i < sizes.length; i++) sizes[i] = jsonBytes(columns.keys[i]!) + METRIC_BYTES;
      this.keyBytes.set(columns, sizes);
    }
    return sizes;
  }

  /** A window that fits one request, as its task. */
  private request(window: Window<P>): Task<P> {
    const batch = lazyMetricsBatch(pairs(window.params), pairs(window.tags), window.metrics);
    if (window.console.size > 0) {
      batch.console = [...window.console.values()].sort((a, b) => a.line - b.line);
    }
    return { kind: 'write', batch, entities: this.entities(window), parts: window.parts };
  }

  /**
   * A key-by-key window as requests within the request limits: params, then
   * tags, then console lines, then each key's points (keys in the order they
   * first appear, each key's points in logging order).
   */
  private cutByKey(window: Window<P>): Task<P>[] {
    const limits = this.options.limits;
    const out: Task<P>[] = [];
    let params: KeyValue[] = [];
    let tags: KeyValue[] = [];
    let lines: ConsoleLine[] = [];
    let slices: MetricSlice[] = [];
    let points = 0;
    let entities = 0;
    let bytes = REQUEST_BYTES;
    const flush = () => {
      if (entities === 0) return;
      const batch = lazyMetricsBatch(params, tags, slices);
      if (lines.length > 0) batch.console = lines;
      out.push({ kind: 'write', batch, entities, parts: window.parts });
      params = [];
      tags = [];
      lines = [];
      slices = [];
      points = 0;
      entities = 0;
      bytes = REQUEST_BYTES;
    };
    /** Makes room for `count` more of a kind of which the request may hold `most`. */
    const room = (count: number, most: number, size: number) => {
      if (count >= most || entities >= limits.maxEntities || bytes + size > limits.maxBytes) {
        flush();
      }
      entities += 1;
      bytes += size;
    };
    for (const [key, value] of window.params) {
      room(params.length, limits.maxParams, jsonBytes(key) + jsonBytes(value) + ENTRY_BYTES);
      params.push({ key, value });
    }
    for (const [key, value] of window.tags) {
      room(tags.length, limits.maxTags, jsonBytes(key) + jsonBytes(value) + ENTRY_BYTES);
      tags.push({ key, value });
    }
    for (const line of [...window.console.values()].sort((a, b) => a.line - b.line)) {
      room(lines.length, limits.maxEntities, jsonBytes(line.text) + LINE_BYTES);
      lines.push(line);
    }
    for (const group of groupByKey(window.metrics)) {
      const size = jsonBytes(group.key) + METRIC_BYTES;
      for (const { columns, indices, start, end } of group.runs) {
        let at = start;
        while (at < end) {
          const free = Math.min(
            limits.maxMetrics - points,
            limits.maxEntities - entities,
            Math.floor((limits.maxBytes - bytes) / size),
          );
          if (free <= 0) {
            flush();
            continue;
          }
          const take = Math.min(free, end - at);
          const last = slices[slices.length - 1];
          if (last !== undefined && last.indices === indices && last.end === at) last.end += take;
          else slices.push({ columns, indices, start: at, end: at + take });
          at += take;
          points += take;
          entities += take;
          bytes += take * size;
        }
      }
    }
    flush();
    return out;
  }
}

interface KeyGroup {
  key: string;
  /** The key's points in each block, in block order: `indices[start..end)`. */
  runs: { columns: MetricColumns; indices: Uint32Array; start: number; end: number }[];
}

/** The points of `slices`, key by key: keys in first-appearance order, points in logging order. */
function groupByKey(slices: readonly MetricSlice[]): KeyGroup[] {
  const groups = new Map<string, KeyGroup>();
  const byColumns = new Map<MetricColumns, { start: number; end: number }[]>();
  for (const slice of slices) {
    let ranges = byColumns.get(slice.columns);
    if (ranges === undefined) {
      ranges = [];
      byColumns.set(slice.columns, ranges);
    }
    ranges.push({ start: slice.start, end: slice.end });
  }
  for (const [columns, ranges] of byColumns) {
    const { keys, k } = columns;
    // Count each key's points, then place each point's index at its key's offset.
    const counts = new Uint32Array(keys.length);
    let total = 0;
    for (const { start, end } of ranges) {
      for (let i = start; i < end; i++) counts[k[i]!]! += 1;
      total += end - start;
    }
    const offsets = new Uint32Array(keys.length);
    const order: number[] = [];
    const seen = new Uint8Array(keys.length);
    for (const { start, end } of ranges) {
      for (let i = start; i < end; i++) {
        const key = k[i]!;
        if (seen[key] === 0) {
          seen[key] = 1;
          order.push(key);
        }
      }
    }
    let offset = 0;
    for (const key of order) {
      offsets[key] = offset;
      offset += counts[key]!;
    }
    const indices = new Uint32Array(total);
    const fill = offsets.slice();
    for (const { start, end } of ranges) {
      for (let i = start; i < end; i++) {
        const key = k[i]!;
        indices[fill[key]!] = i;
        fill[key]! += 1;
      }
    }
    for (const key of order) {
      const name = keys[key]!;
      let group = groups.get(name);
      if (group === undefined) {
        group = { key: name, runs: [] };
        groups.set(name, group);
      }
      group.runs.push({
        columns,
        indices,
        start: offsets[key]!,
        end: offsets[key]! + counts[key]!,
      });
    }
  }
  return [...groups.values()];
}

function pairs(map: Map<string, string>): KeyValue[] {
  return [...map].map(([key, value]) => ({ key, value }));
}

const encoder = new TextEncoder();
/** Printable ASCII that JSON writes as it is (no quote, no backslash): almost every key and value. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
/** The UTF-8 bytes of a string inside JSON quotes, its escapes counted. */
function jsonBytes(text: string): number {
  return PLAIN.test(text) ? text.length : encoder.encode(JSON.stringify(text)).length - 2;
}
