/**
 * The in-memory buffer behind `logMetric`: typed-array columns, no object per
 * point. A key is validated once, when first seen, and gets an index; after
 * that a point costs a map lookup and four array stores.
 */
import type { MetricColumns } from '../contract/write-batch.js';
import { encodeColumn, type MetricsBlock } from './journal-records.js';

export class MetricBuffer {
  readonly capacity: number;
  /** Points in the buffer now. */
  length = 0;
  private readonly keyIndex = new Map<string, number>();
  private readonly keyNames: string[] = [];
  private readonly k: Uint32Array;
  private readonly v: Float64Array;
  private readonly s: Float64Array;
  private readonly ts: Float64Array;
  private localIndex = new Int32Array(16);

  constructor(capacity: number) {
    this.capacity = capacity;
    this.k = new Uint32Array(capacity);
    this.v = new Float64Array(capacity);
    this.s = new Float64Array(capacity);
    this.ts = new Float64Array(capacity);
  }

  /** The key's index, or -1 when it was never seen (the caller validates, then calls `addKey`). */
  indexOf(key: string): number {
    const index = this.keyIndex.get(key);
    return index === undefined ? -1 : index;
  }

  addKey(key: string): number {
    const index = this.keyNames.length;
    this.keyNames.push(key);
    this.keyIndex.set(key, index);
    return index;
  }

  /** Appends a point; returns true when the buffer is now full. */
  push(keyIndex: number, value: number, step: number, timestamp: number): boolean {
    const i = this.length;
    this.k[i] = keyIndex;
    this.v[i] = value;
    this.s[i] = step;
    this.ts[i] = timestamp;
    this.length = i + 1;
    return this.length === this.capacity;
  }

  /**
   * Encodes the buffered points as a journal block and empties the buffer.
   * With `keepColumns`, also returns copies of the block's columns (for the
   * journal's in-memory tail); `view` is the block's columns in the buffer's
   * own arrays, good until the next `push` (for the read index, which reads
   * them at once).
   */
  drain(
    keepColumns = false,
  ): { block: MetricsBlock; columns?: MetricColumns; view: MetricColumns } | undefined {
    const n = this.length;
    if (n === 0) return undefined;
    // Re-number keys so the block names only the keys it uses, in first-use order.
    if (this.localIndex.length < this.keyNames.length) {
      this.localIndex = new Int32Array(Math.max(this.keyNames.length, this.localIndex.length * 2));
    }
    const local = this.localIndex;
    local.fill(-1, 0, this.keyNames.length);
    const keys: string[] = [];
    const k = this.k;
    for (let i = 0; i < n; i++) {
      const global = k[i]!;
      let mapped = local[global]!;
      if (mapped === -1) {
        mapped = keys.length;
        local[global] = mapped;
        keys.push(this.keyNames[global]!);
      }
      k[i] = mapped;
    }
    const block: MetricsBlock = {
      n,
      keys,
      k: encodeColumn(k, n),
      v: encodeColumn(this.v, n),
      s: encodeColumn(this.s, n),
      ts: encodeColumn(this.ts, n),
    };
    this.length = 0;
    const view: MetricColumns = {
      keys,
      k: k.subarray(0, n),
      v: this.v.subarray(0, n),
      s: this.s.subarray(0, n),
      ts: this.ts.subarray(0, n),
    };
    if (!keepColumns) return { block, view };
    const columns: MetricColumns = {
      keys,
      k: k.slice(0, n),
      v: this.v.slice(0, n),
      s: this.s.slice(0, n),
      ts: this.ts.slice(0, n),
    };
    return { block, columns, view };
  }
}
