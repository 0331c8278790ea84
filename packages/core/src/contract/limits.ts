/**
 * A flavor's limits, in two parts that are used at two different moments:
 *
 * - `logging`: checked when user code logs (a key too long, a value too long
 *   throws at the call). A run logged to several backends is checked against
 *   the strictest of them, so what was accepted fits every destination.
 * - `request`: what one request to the backend holds. The engine's batcher
 *   cuts what the journal holds into requests of this size; a flavor's
 *   `writeBatch` sends each as it comes.
 */

export interface LoggingLimits {
  maxKeyLength: number;
  maxParamValueLength: number;
  maxTagValueLength: number;
}

export interface RequestLimits {
  maxMetrics: number;
  maxParams: number;
  maxTags: number;
  /** Metrics + params + tags + console lines in one request. */
  maxEntities: number;
  /** An estimate of the encoded request body: requests are cut to stay under it. */
  maxBytes: number;
}

export interface FlavorLimits {
  logging: LoggingLimits;
  request: RequestLimits;
}

/** MLflow's limits (PROTOCOLS.md): the strictest of the well-known backends, so a safe default. */
export const DEFAULT_LIMITS: Readonly<FlavorLimits> = Object.freeze({
  logging: Object.freeze({ maxKeyLength: 250, maxParamValueLength: 6000, maxTagValueLength: 8000 }),
  request: Object.freeze({
    maxMetrics: 1000,
    maxParams: 100,
    maxTags: 100,
    maxEntities: 1000,
    maxBytes: 1_000_000,
  }),
});

/** The strictest logging limits of several destinations (`fallback` when there are none). */
export function strictestLoggingLimits(
  all: readonly LoggingLimits[],
  fallback: LoggingLimits = DEFAULT_LIMITS.logging,
): LoggingLimits {
  if (all.length === 0) return fallback;
  return {
    maxKeyLength: Math.min(...all.map((l) => l.maxKeyLength)),
    maxParamValueLength: Math.min(...all.map((l) => l.maxParamValueLength)),
    maxTagValueLength: Math.min(...all.map((l) => l.maxTagValueLength)),
  };
}
