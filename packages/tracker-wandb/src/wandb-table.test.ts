import { describe, expect, it } from 'vitest';
import { pythonJson, pythonNumber } from './wandb-table.js';

describe('pythonJson', () => {
  it("writes as Python's json.dump(sort_keys=True): sorted keys, spaced separators, ASCII escapes", () => {
    expect(pythonJson({ b: [1, 2.5, null, true], a: 'é ✓', c: { z: 1, y: Number.NaN } })).toBe(
      '{"a": "\\u00e9 \\u2713", "b": [1, 2.5, null, true], "c": {"y": NaN, "z": 1}}',
    );
  });

  it("writes numbers as Python's repr does", () => {
    expect(pythonNumber(1)).toBe('1');
    expect(pythonNumber(-1.5)).toBe('-1.5');
    expect(pythonNumber(1e-4)).toBe('0.0001');
    expect(pythonNumber(1e-5)).toBe('1e-05');
    expect(pythonNumber(1.5e-7)).toBe('1.5e-07');
    expect(pythonNumber(123456.789)).toBe('123456.789');
    expect(pythonNumber(1.5e16)).toBe('1.5e+16');
    expect(pythonNumber(Number.POSITIVE_INFINITY)).toBe('Infinity');
  });
});
