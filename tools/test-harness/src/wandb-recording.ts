import { parseWandbJson, type WandbRequest } from './wandb-server.js';

/**
 * Normalized recordings of W&B sessions: what a client sent to the loopback W&B server, with
 * run-specific values (times, ids, hosts, paths, client metadata) replaced by placeholders,
 * so that two sessions of the same logical run (the real SDK's and a flavor's) compare
 * structurally.
 */

export type WandbJson =
  | null
  | boolean
  | number
  | string
  | WandbJson[]
  | { [key: string]: WandbJson };

export type WandbRecordedRequest =
  | { kind: 'graphql'; operation: string; variables: WandbJson }
  | { kind: 'file_stream'; body: WandbJson }
  | { kind: 'upload'; file: string }
  | { kind: 'other'; method: string; path: string };

export interface WandbRecording {
  format: 'trackstack-wandb-recording/1';
  /** Every request in arrival order (faulted and failed ones left out), normalized. */
  requests: WandbRecordedRequest[];
}

export interface NormalizeWandbOptions {
  /** Keep requests that got a fault or an error status (default false). */
  keepFailed?: boolean;
}

/** Placeholders used by the normalization. */
export const WANDB_PLACEHOLDERS = {
  run: '<run-id>',
  storageId: '<storage-id>',
  timestamp: '<timestamp>',
  runtime: '<runtime>',
  consoleTime: '<ts>',
  nan: '<NaN>',
  infinity: '<Infinity>',
  negInfinity: '<-Infinity>',
} as const;

const VOLATILE_UPSERT_VARIABLES = new Set(['host', 'program', 'commit', 'repo']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A placeholder naming the JSON type of a value: `<string>`, `<number>`, `<object>`, … */
function typeTag(value: unknown): string {
  if (value === null) return '<null>';
  if (Array.isArray(value)) return '<array>';
  return `<${typeof value}>`;
}

/** Sorted keys, non-finite numbers as placeholders, run ids replaced; `_timestamp`/`_runtime` too. */
function canonical(value: unknown, ctx: Ctx, key?: string): WandbJson {
  if (key === '_timestamp' && typeof value === 'number') return WANDB_PLACEHOLDERS.timestamp;
  if (key === '_runtime' && typeof value === 'number') return WANDB_PLACEHOLDERS.runtime;
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return WANDB_PLACEHOLDERS.nan;
    if (value === Number.POSITIVE_INFINITY) return WANDB_PLACEHOLDERS.infinity;
    if (value === Number.NEGATIVE_INFINITY) return WANDB_PLACEHOLDERS.negInfinity;
    return value;
  }
  if (typeof value === 'string') return ctx.replaceIds(value);
  if (value === null || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((v) => canonical(v, ctx));
  if (isRecord(value)) {
    const out: Record<string, WandbJson> = {};
    for (const k of Object.keys(value).sort()) {
      if (value[k] === undefined) continue;
      if (k === '_wandb' && isRecord(value[k])) {
        out[k] = wandbMetadataShape(value[k]);
        continue;
      }
      out[k] = canonical(value[k], ctx, k);
    }
    return out;
  }
  return typeTag(value);
}

/**
 * `_wandb` holds client metadata (config: versions, telemetry, per-writer environment;
 * summary: runtime). Keep its keys (two levels) and replace the values by their type.
 */
function wandbMetadataShape(value: Record<string, unknown>): WandbJson {
  const out: Record<string, WandbJson> = {};
  for (const k of Object.keys(value).sort()) {
    const v = value[k];
    if (k === 'value' && isRecord(v)) {
      const inner: Record<string, WandbJson> = {};
      for (const ik of Object.keys(v).sort()) inner[ik] = typeTag(v[ik]);
      out[k] = inner;
    } else out[k] = typeTag(v);
  }
  return out;
}

interface Ctx {
  replaceIds(text: string): string;
}

const CONSOLE_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?/;

function normalizeLine(file: string, line: string, ctx: Ctx): WandbJson {
  if (file === 'output.log') {
    if (line.startsWith('{')) {
      try {
        const parsed = parseWandbJson(line);
        if (isRecord(parsed)) {
          const out = canonical(parsed, ctx) as Record<string, WandbJson>;
          if (typeof out.ts === 'string') out.ts = WANDB_PLACEHOLDERS.consoleTime;
          return out;
        }
      } catch {
        // plain text after all
      }
    }
    return ctx.replaceIds(line.replace(CONSOLE_TIME, WANDB_PLACEHOLDERS.consoleTime));
  }
  if (file.endsWith('.jsonl') || file.endsWith('.json')) {
    try {
      return canonical(parseWandbJson(line), ctx);
    } catch {
      return ctx.replaceIds(line);
    }
  }
  return ctx.replaceIds(line);
}

function normalizeFileStreamBody(body: unknown, ctx: Ctx): WandbJson {
  if (!isRecord(body)) return canonical(body, ctx);
  const out: Record<string, WandbJson> = {};
  for (const key of Object.keys(body).sort()) {
    const value = body[key];
    if (key === 'files' && isRecord(value)) {
      const files: Record<string, WandbJson> = {};
      for (const name of Object.keys(value).sort()) {
        const data = value[name];
        if (!isRecord(data)) {
          files[name] = canonical(data, ctx);
          continue;
        }
        const entry: Record<string, WandbJson> = {};
        for (const k of Object.keys(data).sort()) {
          if (k === 'content' && Array.isArray(data.content)) {
            entry.content = data.content.map((line) =>
              typeof line === 'string' ? normalizeLine(name, line, ctx) : canonical(line, ctx),
            );
          } else entry[k] = canonical(data[k], ctx);
        }
        files[name] = entry;
      }
      out.files = files;
    } else if (key === 'uploaded' && Array.isArray(value)) {
      out.uploaded = value.map((v) => canonical(v, ctx)).sort() as WandbJson[];
    } else out[key] = canonical(value, ctx);
  }
  return out;
}

function normalizeVariables(
  operation: string,
  variables: Record<string, unknown>,
  ctx: Ctx,
  storageIds: Set<string>,
): WandbJson {
  const out: Record<string, WandbJson> = {};
  for (const key of Object.keys(variables).sort()) {
    const value = variables[key];
    if (operation === 'UpsertBucket' && key === 'config' && typeof value === 'string') {
      try {
        out[key] = canonical(parseWandbJson(value), ctx);
      } catch {
        out[key] = typeTag(value);
      }
    } else if (
      operation === 'UpsertBucket' &&
      key === 'summaryMetrics' &&
      typeof value === 'string'
    ) {
      try {
        out[key] = canonical(parseWandbJson(value), ctx);
      } catch {
        out[key] = typeTag(value);
      }
    } else if (
      operation === 'UpsertBucket' &&
      VOLATILE_UPSERT_VARIABLES.has(key) &&
      value != null
    ) {
      out[key] = typeTag(value);
    } else if (
      (key === 'id' || key === 'storageId') &&
      typeof value === 'string' &&
      storageIds.has(value)
    ) {
      out[key] = WANDB_PLACEHOLDERS.storageId;
    } else if (operation === 'CreateRunFiles' && key === 'files' && Array.isArray(value)) {
      out[key] = value.map((v) => canonical(v, ctx)).sort() as WandbJson[];
    } else out[key] = canonical(value, ctx);
  }
  return out;
}

/**
 * Normalizes a W&B session recorded by the loopback server (`server.requests`):
 * - GraphQL: operation name and variables, keys sorted; UpsertBucket's `config` and
 *   `summaryMetrics` parsed; `host`/`program`/`commit`/`repo` reduced to their type; storage
 *   ids and run ids replaced by `<storage-id>`/`<run-id>`; CreateRunFiles `files` sorted;
 * - file_stream: bodies with every line parsed (history, summary, events as JSON; console
 *   lines with their timestamp replaced by `<ts>`), `_timestamp`/`_runtime` → placeholders,
 *   `uploaded` sorted;
 * - everywhere: `_wandb` client metadata reduced to its keys and their types; NaN/±Infinity
 *   as `<NaN>`, `<Infinity>`, `<-Infinity>` (JSON has no spelling for them);
 * - uploads: the file name only (their order among themselves is the client's scheduling, so
 *   runs of consecutive uploads are sorted by name).
 */
export function normalizeWandbRecording(
  requests: readonly WandbRequest[],
  options: NormalizeWandbOptions = {},
): WandbRecording {
  const kept = requests.filter(
    (r) => options.keepFailed || (r.fault === undefined && (r.status ?? 0) < 400),
  );
  const runIds = new Set<string>();
  const storageIds = new Set<string>();
  for (const r of kept) {
    if (r.run) runIds.add(r.run.run);
    if (r.operationName === 'UpsertBucket' && typeof r.variables?.name === 'string') {
      runIds.add(r.variables.name);
    }
    if (typeof r.variables?.id === 'string' && r.operationName === 'UpsertBucket') {
      storageIds.add(r.variables.id);
    }
    if (r.operationName === 'StopRun' && typeof r.variables?.id === 'string') {
      storageIds.add(r.variables.id);
    }
  }
  const ids = [...runIds].filter((id) => id.length > 0).sort((a, b) => b.length - a.length);
  const ctx: Ctx = {
    replaceIds(text) {
      let out = text;
      for (const id of ids) out = out.split(id).join(WANDB_PLACEHOLDERS.run);
      return out;
    },
  };

  const out: WandbRecordedRequest[] = [];
  let uploadRun: { file: string }[] = [];
  const flushUploads = () => {
    uploadRun.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    for (const u of uploadRun) out.push({ kind: 'upload', file: u.file });
    uploadRun = [];
  };
  for (const r of kept) {
    if (r.kind === 'upload') {
      const file = decodeURIComponent(r.path.split('?')[0]!.split('/').slice(3).join('/'));
      uploadRun.push({ file });
      continue;
    }
    flushUploads();
    if (r.kind === 'graphql') {
      const operation = r.operationName ?? '<anonymous>';
      out.push({
        kind: 'graphql',
        operation,
        variables: normalizeVariables(operation, r.variables ?? {}, ctx, storageIds),
      });
    } else if (r.kind === 'file_stream') {
      out.push({ kind: 'file_stream', body: normalizeFileStreamBody(r.body, ctx) });
    } else {
      out.push({ kind: 'other', method: r.method, path: ctx.replaceIds(r.path.split('?')[0]!) });
    }
  }
  flushUploads();
  return { format: 'trackstack-wandb-recording/1', requests: out };
}

/** What a session amounts to, independent of request pacing and upload scheduling. */
export interface WandbSessionSummary {
  /** GraphQL operations in order, CreateRunFiles merged into one entry (union of `files`). */
  graphql: { operation: string; variables: WandbJson }[];
  /** Every file sent through file_stream: its lines by offset (later sends replace earlier). */
  streamed: Record<string, WandbJson[]>;
  /** The last `wandb-summary.json` line sent. */
  summary: WandbJson;
  /** Union of file_stream `uploaded` lists, sorted. */
  uploaded: string[];
  /** Names of files PUT to upload URLs, sorted, each once. */
  uploads: string[];
  /** `complete` and `exitcode` of the last file_stream request that carried them. */
  complete: WandbJson;
  exitcode: WandbJson;
  /** Number of file_stream requests (pacing: informational). */
  fileStreamRequests: number;
}

/** Folds a normalized recording into a {@link WandbSessionSummary}. */
export function summarizeWandbRecording(recording: WandbRecording): WandbSessionSummary {
  const graphql: { operation: string; variables: WandbJson }[] = [];
  let createRunFiles: { operation: string; variables: Record<string, WandbJson> } | undefined;
  const streamed: Record<string, WandbJson[]> = {};
  let summary: WandbJson = null;
  const uploaded = new Set<string>();
  const uploads = new Set<string>();
  let complete: WandbJson = null;
  let exitcode: WandbJson = null;
  let fileStreamRequests = 0;
  for (const r of recording.requests) {
    if (r.kind === 'graphql') {
      if (r.operation === 'CreateRunFiles' && isRecord(r.variables)) {
        const files = Array.isArray(r.variables.files) ? r.variables.files : [];
        if (createRunFiles) {
          const merged = createRunFiles.variables.files as WandbJson[];
          for (const f of files) if (!merged.includes(f)) merged.push(f);
          merged.sort();
        } else {
          createRunFiles = {
            operation: r.operation,
            variables: { ...r.variables, files: [...files].sort() },
          };
          graphql.push(createRunFiles);
        }
      } else graphql.push({ operation: r.operation, variables: r.variables });
    } else if (r.kind === 'file_stream') {
      fileStreamRequests += 1;
      const body = isRecord(r.body) ? r.body : {};
      const files = isRecord(body.files) ? body.files : {};
      for (const [name, data] of Object.entries(files)) {
        if (!isRecord(data) || !Array.isArray(data.content)) continue;
        if (name === 'wandb-summary.json') {
          summary = data.content[data.content.length - 1] ?? summary;
          continue;
        }
        const offset = typeof data.offset === 'number' ? data.offset : 0;
        const lines = streamed[name] ?? [];
        streamed[name] = lines;
        while (lines.length < offset) lines.push(null);
        data.content.forEach((line, i) => {
          lines[offset + i] = line;
        });
      }
      if (Array.isArray(body.uploaded)) {
        for (const f of body.uploaded) if (typeof f === 'string') uploaded.add(f);
      }
      if (body.complete !== undefined) complete = body.complete;
      if (body.exitcode !== undefined) exitcode = body.exitcode;
    } else if (r.kind === 'upload') uploads.add(r.file);
  }
  return {
    graphql,
    streamed,
    summary,
    uploaded: [...uploaded].sort(),
    uploads: [...uploads].sort(),
    complete,
    exitcode,
    fileStreamRequests,
  };
}

export interface DiffWandbOptions {
  /**
   * Paths (as printed in differences, e.g. `UpsertBucket#1.variables.config._wandb`) or
   * RegExps to ignore; a string also ignores everything under it.
   */
  ignore?: readonly (string | RegExp)[];
}

function describe(value: WandbJson | undefined): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function diffJson(
  path: string,
  expected: WandbJson | undefined,
  actual: WandbJson | undefined,
  out: string[],
) {
  if (isRecord(expected) && isRecord(actual)) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const key of [...keys].sort()) {
      diffJson(`${path}.${key}`, expected[key], actual[key], out);
    }
    return;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) {
      out.push(
        `${path}: expected ${expected.length} items, got ${actual.length} (expected ${describe(expected)}, got ${describe(actual)})`,
      );
      return;
    }
    expected.forEach((e, i) => {
      diffJson(`${path}[${i}]`, e, actual[i], out);
    });
    return;
  }
  if (JSON.stringify(expected) !== JSON.stringify(actual)) {
    if (expected === undefined) out.push(`${path}: unexpected ${describe(actual)}`);
    else if (actual === undefined) out.push(`${path}: missing (expected ${describe(expected)})`);
    else out.push(`${path}: expected ${describe(expected)}, got ${describe(actual)}`);
  }
}

/**
 * Compares two sessions structurally and names every difference, e.g.
 * `UpsertBucket#1.variables.config.lr.value: expected 0.01, got "0.01"` or
 * `file_stream wandb-history.jsonl[2]._step: expected 2, got 3`. Compared: the GraphQL
 * operations in order (CreateRunFiles merged) with their normalized variables; the lines
 * streamed per file (merged by offset, so request pacing does not matter); the final summary;
 * the `uploaded` names; the uploaded files; `complete` and `exitcode`. Returns `[]` when equal.
 */
export function diffWandbRecordings(
  expected: WandbRecording,
  actual: WandbRecording,
  options: DiffWandbOptions = {},
): string[] {
  const e = summarizeWandbRecording(expected);
  const a = summarizeWandbRecording(actual);
  const out: string[] = [];

  const eOps = e.graphql.map((g) => g.operation);
  const aOps = a.graphql.map((g) => g.operation);
  if (eOps.join(',') !== aOps.join(',')) {
    out.push(`graphql operations: expected [${eOps.join(', ')}], got [${aOps.join(', ')}]`);
  }
  // Pair operations by name and occurrence (the n-th UpsertBucket with the n-th).
  const seen = new Map<string, number>();
  const actualByKey = new Map<string, WandbJson>();
  const counts = new Map<string, number>();
  for (const g of a.graphql) {
    const n = (counts.get(g.operation) ?? 0) + 1;
    counts.set(g.operation, n);
    actualByKey.set(`${g.operation}#${n}`, g.variables);
  }
  for (const g of e.graphql) {
    const n = (seen.get(g.operation) ?? 0) + 1;
    seen.set(g.operation, n);
    const key = `${g.operation}#${n}`;
    if (actualByKey.has(key)) diffJson(`${key}.variables`, g.variables, actualByKey.get(key), out);
  }

  const files = new Set([...Object.keys(e.streamed), ...Object.keys(a.streamed)]);
  for (const file of [...files].sort()) {
    const el = e.streamed[file];
    const al = a.streamed[file];
    if (!el) out.push(`file_stream ${file}: unexpected (${al?.length ?? 0} lines)`);
    else if (!al) out.push(`file_stream ${file}: missing (expected ${el.length} lines)`);
    else {
      if (el.length !== al.length) {
        out.push(`file_stream ${file}: expected ${el.length} lines, got ${al.length}`);
      }
      for (let i = 0; i < Math.min(el.length, al.length); i++) {
        diffJson(`file_stream ${file}[${i}]`, el[i], al[i], out);
      }
    }
  }
  diffJson('file_stream wandb-summary.json', e.summary, a.summary, out);
  diffJson('file_stream uploaded', e.uploaded, a.uploaded, out);
  diffJson('uploads', e.uploads, a.uploads, out);
  diffJson('file_stream complete', e.complete, a.complete, out);
  diffJson('file_stream exitcode', e.exitcode, a.exitcode, out);

  const ignore = options.ignore ?? [];
  return out.filter(
    (d) =>
      !ignore.some((pattern) => {
        if (typeof pattern !== 'string') {
          pattern.lastIndex = 0;
          return pattern.test(d);
        }
        return (
          d.startsWith(`${pattern}:`) || d.startsWith(`${pattern}.`) || d.startsWith(`${pattern}[`)
        );
      }),
  );
}
