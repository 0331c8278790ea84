import { describe, expect, it } from 'vitest';
import { ValidationError } from '../contract/errors.js';
import {
  checkTable,
  decodeTableFile,
  encodeTableFile,
  histogramOf,
  image,
  MAX_HISTOGRAM_BINS,
} from './media.js';

function ruleOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (ValidationError.isInstance(error)) return `${error.key}:${error.rule}`;
    throw error;
  }
  return undefined;
}

describe('histogramOf', () => {
  it("bins raw values as numpy's histogram does: equal widths, the last bin closed", () => {
    // np.histogram([1, 2, 2, 3], bins=3) -> counts [1, 2, 1], edges [1, 5/3, 7/3, 3]
    const { bins, counts } = histogramOf('h', [1, 2, 2, 3], 3);
    expect(counts).toEqual([1, 2, 1]);
    expect(bins).toEqual([1, 1 + 2 / 3, 1 + (2 / 3) * 2, 3]);
    expect(histogramOf('h', new Float64Array([0, 10]), 2).counts).toEqual([1, 1]);
  });

  it('counts every value once, with 64 bins by default', () => {
    const values = Array.from({ length: 10_000 }, (_, i) => Math.sin(i) * 100);
    const { bins, counts } = histogramOf('h', values, undefined);
    expect(counts).toHaveLength(64);
    expect(bins).toHaveLength(65);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10_000);
    for (let i = 1; i < bins.length; i++) expect(bins[i]!).toBeGreaterThan(bins[i - 1]!);
  });

  it('gives equal values [v - 0.5, v + 0.5] and no values [0, 1], as numpy does', () => {
    expect(histogramOf('h', [4, 4], 2)).toEqual({ bins: [3.5, 4, 4.5], counts: [0, 2] });
    expect(histogramOf('h', [], 2)).toEqual({ bins: [0, 0.5, 1], counts: [0, 0] });
  });

  it('takes counted bins as they are, checked', () => {
    expect(histogramOf('h', { bins: [0, 1, 3], counts: [2, 5] }, undefined)).toEqual({
      bins: [0, 1, 3],
      counts: [2, 5],
    });
    expect(ruleOf(() => histogramOf('h', { bins: [0, 1], counts: [2, 5] }, undefined))).toBe(
      'h:bins',
    );
    expect(ruleOf(() => histogramOf('h', { bins: [0, 2, 1], counts: [2, 5] }, undefined))).toBe(
      'h:bins',
    );
    expect(ruleOf(() => histogramOf('h', { bins: [0, 1, 2], counts: [2, -1] }, undefined))).toBe(
      'h:value-type',
    );
    expect(ruleOf(() => histogramOf('h', { bins: [0, 1], counts: [2] }, 4))).toBe('h:bins');
  });

  it('refuses NaN, ±Infinity, non-numbers and bins out of 1..512, naming the key', () => {
    expect(ruleOf(() => histogramOf('w', [1, Number.NaN], undefined))).toBe('w:value-type');
    expect(ruleOf(() => histogramOf('w', [Number.POSITIVE_INFINITY], undefined))).toBe(
      'w:value-type',
    );
    expect(ruleOf(() => histogramOf('w', ['1'], undefined))).toBe('w:value-type');
    expect(ruleOf(() => histogramOf('w', 'abc', undefined))).toBe('w:value-type');
    expect(ruleOf(() => histogramOf('w', [1], 0))).toBe('w:bins');
    expect(ruleOf(() => histogramOf('w', [1], MAX_HISTOGRAM_BINS + 1))).toBe('w:bins');
    expect(ruleOf(() => histogramOf('w', [1], 2.5))).toBe('w:bins');
    const many = Array.from({ length: 513 }, (_, i) => i);
    expect(ruleOf(() => histogramOf('w', { bins: [...many, 513], counts: many }, undefined))).toBe(
      'w:bins',
    );
  });
});

describe('checkTable', () => {
  const png = new Uint8Array([1]);

  it('collects image cells, each distinct image once', () => {
    const shared = image(png);
    const checked = checkTable('t', {
      columns: ['a', 'b'],
      rows: [
        [1, shared],
        [null, shared],
        ['x', image(png)],
      ],
    });
    expect(checked.images).toHaveLength(2);
    expect(checked.imageCells).toEqual([
      [0, 1, 0],
      [1, 1, 0],
      [2, 1, 1],
    ]);
  });

  it('refuses ragged rows, repeated or empty columns and other cell types, naming the key', () => {
    expect(ruleOf(() => checkTable('t', { columns: ['a', 'b'], rows: [[1, 2], [3]] }))).toBe(
      't:table-shape',
    );
    expect(ruleOf(() => checkTable('t', { columns: ['a', 'a'], rows: [] }))).toBe('t:table-shape');
    expect(ruleOf(() => checkTable('t', { columns: [], rows: [] }))).toBe('t:table-shape');
    expect(ruleOf(() => checkTable('t', { columns: [''], rows: [] }))).toBe('t:table-shape');
    expect(ruleOf(() => checkTable('t', { columns: ['a'], rows: [[{ x: 1 }]] }))).toBe(
      't:value-type',
    );
    expect(ruleOf(() => checkTable('t', { columns: ['a'], rows: 'x' }))).toBe('t:table-shape');
    expect(ruleOf(() => checkTable('t', null))).toBe('t:value-type');
  });

  it('writes and reads back the staged file: images by index, non-finite numbers kept', () => {
    const checked = checkTable('t', {
      columns: ['n', 'img', 's'],
      rows: [
        [Number.NaN, image(png), 'é'],
        [Number.NEGATIVE_INFINITY, null, ''],
        [1.5, image(png), 'x'],
      ],
    });
    const images = checked.images.map((_, i) => ({
      localPath: `/img${i}`,
      sha256: `${i}`,
      size: 1,
      format: 'png' as const,
      width: 1,
      height: 1,
    }));
    const back = decodeTableFile(encodeTableFile(checked), images);
    expect(back.columns).toEqual(['n', 'img', 's']);
    expect(back.rows).toEqual([
      [Number.NaN, images[0], 'é'],
      [Number.NEGATIVE_INFINITY, null, ''],
      [1.5, images[1], 'x'],
    ]);
  });
});
