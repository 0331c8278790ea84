import { describe, expect, it } from 'vitest';
import { histogramOf, hparamValue } from './tensorboard-tracker.js';

describe('params in HParams', () => {
  it('are numbers when they read back as the same number, booleans for true and false, else text', () => {
    expect(hparamValue('0.01')).toBe(0.01);
    expect(hparamValue('32')).toBe(32);
    expect(hparamValue('-1e-7')).toBe(-1e-7); // String(-1e-7) is "-1e-7": the same number
    expect(hparamValue('007')).toBe('007');
    expect(hparamValue('1.50')).toBe('1.50');
    expect(hparamValue('true')).toBe(true);
    expect(hparamValue('false')).toBe(false);
    expect(hparamValue('')).toBe('');
    expect(hparamValue('NaN')).toBe('NaN');
    expect(hparamValue('[64,32]')).toBe('[64,32]');
  });
});

describe('histograms', () => {
  it("are the bins' right edges and counts, with sums from the bins' centres", () => {
    expect(histogramOf([0, 1, 2], [3, 4])).toEqual({
      min: 0,
      max: 2,
      num: 7,
      sum: 0.5 * 3 + 1.5 * 4,
      sumSquares: 0.25 * 3 + 2.25 * 4,
      bucketLimit: [1, 2],
      bucket: [3, 4],
    });
  });
});
