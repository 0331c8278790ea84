/**
 * What a trackstack run becomes in W&B's terms: params as W&B config values,
 * key/value tags as W&B's plain tags, and readable W&B run ids for step runs.
 */
import { createHash } from 'node:crypto';
import { type DatasetInput, UID_TAG } from '@trackstack/core';
import { VERSION } from './version.js';

/**
 * trackstack tags are key/value; W&B tags are plain strings: `key:value`.
 * `trackstack.uid` is left out (it is the W&B run id).
 */
export function runTags(tags: Record<string, string>): string[] {
  return Object.entries(tags)
    .filter(([key]) => key !== UID_TAG)
    .map(([key, value]) => `${key}:${value}`);
}

/**
 * Params are logged as text; W&B config keeps JSON values, so numbers,
 * booleans, null and JSON arrays get their type back. Anything else stays text.
 */
export function paramValue(text: string): unknown {
  if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null') return null;
  if (text.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/**
 * W&B's config form: `{"key": {"value": ...}}`, plus `_wandb` with what wrote
 * it (and which trackstack run, to find it from W&B).
 */
export function wandbConfig(
  values: Record<string, unknown>,
  uid?: string,
): Record<string, { value: unknown }> {
  const meta: Record<string, unknown> = { t: {}, m: [], trackstack_version: VERSION };
  if (uid !== undefined) meta.trackstack_uid = uid;
  const out: Record<string, { value: unknown }> = { _wandb: { value: meta } };
  for (const [key, value] of Object.entries(values)) out[key] = { value };
  return out;
}

/**
 * A readable W&B run id for a step run, `<pipeline run>_<step>`: characters W&B
 * or a directory name would refuse become '-', and then a short hash of the
 * original keeps two different steps apart.
 */
export function stepRunWandbId(pipelineRun: string, step: string): string {
  const raw = `${pipelineRun}_${step}`;
  const safe = raw.replace(/[^A-Za-z0-9_-]/g, '-');
  if (safe === raw && raw.length <= 64) return raw;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return `${safe.slice(0, 55)}-${hash}`;
}

/**
 * A dataset input as the run's config holds it, under `datasets.<name>`: its
 * digest, source, source type and context (online runs also use a `dataset`
 * artifact for it: wandb-artifact.ts).
 */
export function datasetConfig(input: DatasetInput): Record<string, string> {
  const out: Record<string, string> = { digest: input.digest ?? '' };
  if (input.source !== undefined) out.source = input.source;
  if (input.sourceType !== undefined) out.source_type = input.sourceType;
  if (input.context !== undefined) out.context = input.context;
  return out;
}
