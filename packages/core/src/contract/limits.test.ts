import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type LoggingLimits, strictestLoggingLimits } from './limits.js';

describe('strictestLoggingLimits', () => {
  const loose: LoggingLimits = {
    maxKeyLength: 1000,
    maxParamValueLength: 100,
    maxTagValueLength: 100_000,
  };

  it('returns the fallback when there are no destinations', () => {
    expect(strictestLoggingLimits([])).toBe(DEFAULT_LIMITS.logging);
    expect(strictestLoggingLimits([], loose)).toBe(loose);
  });

  it('returns a copy of the only destination limits', () => {
    const out = strictestLoggingLimits([loose]);
    expect(out).toEqual(loose);
    expect(out).not.toBe(loose);
  });

  it('takes the minimum of every field', () => {
    expect(strictestLoggingLimits([DEFAULT_LIMITS.logging, loose])).toEqual({
      maxKeyLength: 250,
      maxParamValueLength: 100,
      maxTagValueLength: 8000,
    });
    const third = { ...loose, maxKeyLength: 40 };
    expect(strictestLoggingLimits([loose, DEFAULT_LIMITS.logging, third]).maxKeyLength).toBe(40);
  });

  it('does not change its inputs', () => {
    const a = { ...loose };
    strictestLoggingLimits([a, DEFAULT_LIMITS.logging]);
    expect(a).toEqual(loose);
  });
});

describe('DEFAULT_LIMITS', () => {
  it("are MLflow's, frozen", () => {
    expect(DEFAULT_LIMITS.request).toEqual({
      maxMetrics: 1000,
      maxParams: 100,
      maxTags: 100,
      maxEntities: 1000,
      maxBytes: 1_000_000,
    });
    expect(DEFAULT_LIMITS.logging.maxKeyLength).toBe(250);
    expect(Object.isFrozen(DEFAULT_LIMITS.request)).toBe(true);
    expect(Object.isFrozen(DEFAULT_LIMITS.logging)).toBe(true);
  });
});
