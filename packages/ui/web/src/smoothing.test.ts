import { describe, expect, it } from 'vitest';
import { smooth } from './smoothing';

describe('smooth', () => {
  it('leaves the values as they are at weight 0', () => {
    expect(smooth([1, 2, null, 4], 0)).toEqual([1, 2, null, 4]);
  });

  it("is TensorBoard's debiased moving average: a constant stays constant", () => {
    expect(smooth([5, 5, 5], 0.9)).toEqual([5, 5, 5].map((v) => expect.closeTo(v, 12)));
  });

  it('weights the recent values, and skips non-finite ones', () => {
    const out = smooth([0, 10, Number.NaN, 10], 0.5);
    // last: 0 -> 5 -> (skip) -> 7.5; debias by 1 - 0.5^n for n = 1, 2, 3
    expect(out[0]).toBeCloseTo(0, 12);
    expect(out[1]).toBeCloseTo(5 / 0.75, 12);
    expect(out[2]).toBeNull();
    expect(out[3]).toBeCloseTo(7.5 / 0.875, 12);
  });
});
