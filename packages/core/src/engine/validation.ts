/**
 * Validation and normalization: the one place that decides what a logging call
 * accepts. Every rule here is documented in the package README ("What you can
 * log"); a rule that changes here changes there.
 *
 * Keys follow MLflow's rules (the strictest of the common backends), so a run
 * that is valid locally is valid when it is synced to any flavor later.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../contract/errors.js';
import type { LoggingLimits } from '../contract/limits.js';
import type { DatasetInput, KeyValue } from '../contract/types.js';

export type KeyKind = 'metric' | 'param' | 'tag' | 'media';

/** Letters and digits of any script, `_`, `/`, `.`, `-`, space and `:` (MLflow's `^[/\w.\- :]*$`). */
const KEY_CHARACTERS = /^[\p{L}\p{N}_/.\- :]+$/u;

/** Tags under this prefix are written by core (e.g. `trackstack.uid`). */
export const RESERVED_TAG_PREFIX = 'trackstack.';

/** Deeper param objects than this are refused rather than flattened into unreadable keys. */
export const MAX_PARAM_DEPTH = 16;

export function validateKey(key: unknown, kind: KeyKind, limits: LoggingLimits): string {
  if (typeof key !== 'string') {
    throw new ValidationError(
      'INVALID_KEY',
      String(key),
      'key-characters',
      `${kind} keys must be strings, got ${typeof key}`,
    );
  }
  if (key.length === 0) {
    throw new ValidationError('INVALID_KEY', key, 'key-empty', `${kind} keys must not be empty`);
  }
  if (key.length > limits.maxKeyLength) {
    throw new ValidationError(
      'INVALID_KEY',
      key,
      'key-too-long',
      `${kind} key is ${key.length} characters; at most ${limits.maxKeyLength} are allowed`,
    );
  }
  if (!KEY_CHARACTERS.test(key)) {
    throw new ValidationError(
      'INVALID_KEY',
      key,
      'key-characters',
      `${kind} keys may hold only letters, digits, '_', '/', '.', '-', ' ' and ':'`,
    );
  }
  if (!isNormalPath(key)) {
    throw new ValidationError(
      'INVALID_KEY',
      key,
      'key-path',
      `${kind} keys are also file paths in some backends and must be normal: no leading or trailing '/', no '//', no '.' or '..' segments`,
    );
  }
  return key;
}

function isNormalPath(key: string): boolean {
  if (key.startsWith('/') || key.endsWith('/') || key.includes('//')) return false;
  for (const segment of key.split('/')) {
    if (segment === '.' || segment === '..') return false;
  }
  return true;
}

/**
 * Normalizes one metric value. Numbers pass as they are (NaN and ±Infinity
 * included: each flavor carries them the way its backend expects); a bigint
 * within the safe range becomes a number. Booleans, strings and the rest are
 * refused, as MLflow refuses them.
 */
export function normalizeMetricValue(key: string, value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
    throw new ValidationError(
      'INVALID_VALUE',
      key,
      'value-type',
      `metric value ${value} is outside the range a float64 holds exactly`,
    );
  }
  throw new ValidationError(
    'INVALID_VALUE',
    key,
    'value-type',
    `metric values must be numbers, got ${describeType(value)}`,
  );
}

/** A step is a whole number from 0 to 2^53-1. */
export function normalizeStep(key: string, step: unknown): number {
  if (typeof step === 'number' && Number.isSafeInteger(step) && step >= 0) return step;
  if (typeof step === 'bigint' && step >= 0n && step <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(step);
  }
  throw new ValidationError(
    'INVALID_VALUE',
    key,
    'step',
    `step must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got ${describeValue(step)}`,
  );
}

/** A timestamp is epoch milliseconds (a Date is accepted); fractions are floored. */
export function normalizeTimestamp(key: string, timestamp: unknown): number {
  const ms = timestamp instanceof Date ? timestamp.getTime() : timestamp;
  if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) return Math.floor(ms);
  throw new ValidationError(
    'INVALID_VALUE',
    key,
    'timestamp',
    `timestamp must be non-negative epoch milliseconds or a Date, got ${describeValue(timestamp)}`,
  );
}

/**
 * Flattens a params object into key/value strings.
 *
 * - strings as they are; numbers, booleans and bigints by `String()`
 *   (NaN -> "NaN", Infinity -> "Infinity"); null -> "null"; Date -> ISO 8601;
 * - nested plain objects are flattened with `.` (`{opt: {lr: 1}}` -> `opt.lr`),
 *   an empty object is logged as "{}";
 * - arrays are logged as JSON (non-finite numbers as "NaN"/"Infinity" strings,
 *   bigints as strings); an object with `toJSON()` is logged as what it returns;
 * - undefined values are skipped, as JSON skips them;
 * - functions, symbols, Maps, Sets, class instances and circular references are refused.
 */
export function flattenParams(params: unknown, limits: LoggingLimits): KeyValue[] {
  if (!isPlainObject(params)) {
    throw new ValidationError(
      'INVALID_VALUE',
      '(params)',
      'value-type',
      `params must be a plain object, got ${describeType(params)}`,
    );
  }
  const out: KeyValue[] = [];
  flattenInto(out, '', params, limits, [], 0);
  return out;
}

function flattenInto(
  out: KeyValue[],
  prefix: string,
  object: Record<string, unknown>,
  limits: LoggingLimits,
  path: object[],
  depth: number,
): void {
  path.push(object);
  for (const name of Object.keys(object)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    let value = object[name];
    if (value === undefined) continue;
    if (hasToJSON(value)) value = value.toJSON();
    if (isPlainObject(value)) {
      if (path.includes(value)) {
        throw new ValidationError(
          'INVALID_VALUE',
          key,
          'value-circular',
          'param value refers back to an object that contains it',
        );
      }
      if (depth + 1 >= MAX_PARAM_DEPTH) {
        throw new ValidationError(
          'INVALID_VALUE',
          key,
          'too-deep',
          `params nest deeper than ${MAX_PARAM_DEPTH} levels; log that part as a JSON string`,
        );
      }
      if (Object.values(value).every((item) => item === undefined)) {
        out.push(paramEntry(key, '{}', limits));
      } else {
        flattenInto(out, key, value, limits, path, depth + 1);
      }
      continue;
    }
    out.push(paramEntry(key, paramValueToString(key, value), limits));
  }
  path.pop();
}

function paramEntry(key: string, value: string, limits: LoggingLimits): KeyValue {
  validateKey(key, 'param', limits);
  if (value.length > limits.maxParamValueLength) {
    throw new ValidationError(
      'INVALID_VALUE',
      key,
      'value-too-long',
      `param value is ${value.length} characters; at most ${limits.maxParamValueLength} are allowed (log long text as an artifact)`,
    );
  }
  return { key, value };
}

/** Converts one param value (already past `toJSON`) to its logged string. */
export function paramValueToString(key: string, value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Object.is(value, -0) ? '0' : String(value);
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return arrayToJson(key, value);
      break;
  }
  throw new ValidationError(
    'INVALID_VALUE',
    key,
    'value-type',
    `param values must be strings, numbers, booleans, null, arrays or plain objects, got ${describeType(value)}`,
  );
}

function arrayToJson(key: string, array: unknown[]): string {
  try {
    return JSON.stringify(array, (_name, value: unknown) => {
      if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
      if (typeof value === 'bigint') return value.toString();
      if (typeof value === 'function' || typeof value === 'symbol') {
        throw new ValidationError(
          'INVALID_VALUE',
          key,
          'value-type',
          `array holds a ${typeof value}, which cannot be logged`,
        );
      }
      // JSON.stringify would write a Map, a Set or a class instance as "{}": refuse instead.
      if (
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        !isPlainObject(value)
      ) {
        throw new ValidationError(
          'INVALID_VALUE',
          key,
          'value-type',
          `array holds ${describeType(value)}, which cannot be logged as JSON`,
        );
      }
      return value;
    });
  } catch (error) {
    if (ValidationError.isInstance(error)) throw error;
    // JSON.stringify's only other failure on these inputs is a circular structure.
    throw new ValidationError(
      'INVALID_VALUE',
      key,
      'value-circular',
      'array refers back to an object that contains it',
    );
  }
}

/**
 * Normalizes tags: strings as they are; numbers, booleans and bigints by
 * `String()`. Tag values are never objects or null. Keys under `trackstack.`
 * are reserved for core.
 */
export function normalizeTags(tags: unknown, limits: LoggingLimits): KeyValue[] {
  if (!isPlainObject(tags)) {
    throw new ValidationError(
      'INVALID_VALUE',
      '(tags)',
      'value-type',
      `tags must be a plain object, got ${describeType(tags)}`,
    );
  }
  const out: KeyValue[] = [];
  for (const key of Object.keys(tags)) {
    out.push(normalizeTag(key, tags[key], limits));
  }
  return out;
}

export function normalizeTag(key: string, value: unknown, limits: LoggingLimits): KeyValue {
  validateKey(key, 'tag', limits);
  if (key.startsWith(RESERVED_TAG_PREFIX)) {
    throw new ValidationError(
      'INVALID_KEY',
      key,
      'key-reserved',
      `tags under '${RESERVED_TAG_PREFIX}' are written by trackstack itself`,
    );
  }
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    text = String(value);
  } else {
    throw new ValidationError(
      'INVALID_VALUE',
      key,
      'value-type',
      `tag values must be strings, numbers or booleans, got ${describeType(value)}`,
    );
  }
  if (text.length > limits.maxTagValueLength) {
    throw new ValidationError(
      'INVALID_VALUE',
      key,
      'value-too-long',
      `tag value is ${text.length} characters; at most ${limits.maxTagValueLength} are allowed`,
    );
  }
  return { key, value: text };
}

/** Params are immutable: the same value again is fine, another value is an error (as in MLflow). */
export function checkParamConflict(logged: Map<string, string>, entry: KeyValue): boolean {
  const previous = logged.get(entry.key);
  if (previous === undefined) return true;
  if (previous === entry.value) return false;
  throw new ValidationError(
    'PARAM_CONFLICT',
    entry.key,
    'param-conflict',
    `param was already logged as ${JSON.stringify(clip(previous))}; params cannot change (got ${JSON.stringify(clip(entry.value))})`,
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** As JSON.stringify: any object with a toJSON() method is logged as what it returns. */
function hasToJSON(value: unknown): value is { toJSON(): unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  );
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)
      ?.constructor?.name;
    return name ? `a ${name}` : 'an object';
  }
  return typeof value;
}

function describeValue(value: unknown): string {
  return typeof value === 'number' || typeof value === 'bigint'
    ? String(value)
    : describeType(value);
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** What `run.logInput` takes: a dataset the run read. */
export interface DatasetInputOptions {
  name: string;
  digest?: string;
  source?: string;
  sourceType?: string;
  /** JSON text, or a value to encode as JSON. */
  schema?: unknown;
  /** JSON text, or a value to encode as JSON. */
  profile?: unknown;
  context?: string;
  /** A file (or directory's file) the dataset is: its digest, source and source type come from it. */
  path?: string;
}

/** MLflow's limits on a dataset input (`mlflow/utils/validation.py`), the strictest we know. */
const DATASET_LIMITS = {
  name: 500,
  digest: 36,
  source: 65_535,
  sourceType: 36,
  schema: 1_048_575,
  profile: 16_777_215,
  context: 500,
} as const;

/**
 * A dataset input checked against MLflow's limits, with what is missing
 * filled in: the source type from the source's scheme (`local` for a path),
 * and the digest from the dataset's own fields when neither `digest` nor a
 * file was given (so the same dataset gets the same digest). `fileDigest` is
 * the first 16 hex digits of the SHA-256 of `path`, computed by the caller.
 */
export function normalizeDatasetInput(
  input: unknown,
  file?: { path: string; digest: string },
): DatasetInput {
  if (typeof input !== 'object' || input === null) {
    throw new ValidationError(
      'INVALID_VALUE',
      '(input)',
      'value-type',
      'a dataset input must be an object',
    );
  }
  const raw = input as Record<string, unknown>;
  const text = (field: keyof typeof DATASET_LIMITS, value: unknown): string | undefined => {
    if (value === undefined) return undefined;
    let out: string;
    if (field === 'schema' || field === 'profile') {
      out = typeof value === 'string' ? value : JSON.stringify(value);
      if (typeof out !== 'string') {
        throw new ValidationError(
          'INVALID_VALUE',
          `input.${field}`,
          'value-type',
          `${field} must be JSON text or a JSON value`,
        );
      }
    } else if (typeof value === 'string') out = value;
    else {
      throw new ValidationError(
        'INVALID_VALUE',
        `input.${field}`,
        'value-type',
        `${field} must be a string`,
      );
    }
    const limit = DATASET_LIMITS[field];
    if (out.length > limit) {
      throw new ValidationError(
        'INVALID_VALUE',
        `input.${field}`,
        'value-too-long',
        `${field} is ${out.length} characters; at most ${limit}`,
      );
    }
    return out;
  };
  const name = text('name', raw.name);
  if (name === undefined || name.trim() === '') {
    throw new ValidationError(
      'INVALID_VALUE',
      'input.name',
      'value-type',
      'a dataset input needs a name',
    );
  }
  const source = text('source', raw.source) ?? file?.path;
  const sourceType =
    text('sourceType', raw.sourceType) ?? (source === undefined ? 'code' : sourceTypeOf(source));
  const schema = text('schema', raw.schema);
  const profile = text('profile', raw.profile);
  const context = text('context', raw.context);
  const digest =
    text('digest', raw.digest) ??
    file?.digest ??
    createHash('sha256')
      .update(JSON.stringify([name, source ?? null, schema ?? null, profile ?? null]))
      .digest('hex')
      .slice(0, 16);
  const out: DatasetInput = { name, digest, sourceType };
  if (source !== undefined) out.source = source;
  if (schema !== undefined) out.schema = schema;
  if (profile !== undefined) out.profile = profile;
  if (context !== undefined) out.context = context;
  return out;
}

/** `s3://…` → `s3`, `https://…` → `http`, `hf://…` → `hugging_face`, a path → `local`. */
function sourceTypeOf(source: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(source)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'file') return 'local';
  if (scheme === 'http' || scheme === 'https') return 'http';
  if (scheme === 'hf') return 'hugging_face';
  if (scheme === 'gs') return 'gcs';
  return scheme.slice(0, DATASET_LIMITS.sourceType);
}
