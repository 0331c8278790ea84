import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { listenOnLoopback } from './loopback.js';

/**
 * A loopback stand-in for the W&B service (the GraphQL API, `file_stream` and the presigned
 * file uploads) that the real `wandb` SDK 0.30 accepts as `WANDB_BASE_URL`. It records every
 * request and keeps per-run state, so tests can check what a client sent.
 */

const NAN = '\u0000wandb:NaN';
const POS_INF = '\u0000wandb:Infinity';
const NEG_INF = '\u0000wandb:-Infinity';

/**
 * Serializes like the W&B SDK: JSON, except that non-finite numbers are written as the bare
 * words `NaN`, `Infinity` and `-Infinity` (where `JSON.stringify` would write `null`).
 */
export function stringifyWandbJson(value: unknown): string {
  let changed = false;
  const text = JSON.stringify(value, (_key, v) => {
    if (typeof v === 'number' && !Number.isFinite(v)) {
      changed = true;
      return Number.isNaN(v) ? NAN : v > 0 ? POS_INF : NEG_INF;
    }
    return v;
  });
  if (!changed || text === undefined) return text;
  return text
    .replaceAll(JSON.stringify(NAN), 'NaN')
    .replaceAll(JSON.stringify(POS_INF), 'Infinity')
    .replaceAll(JSON.stringify(NEG_INF), '-Infinity');
}

/** A 40-character key the SDK's local format check accepts (`[\w-]+`, 40+ characters). */
export const WANDB_FAKE_API_KEY = 'trackstack0fake0wandb0api0key00000000001';

/**
 * What to do to a request instead of answering it normally:
 * - `{ status, headers?, body? }`: answer with this (the server state is not touched);
 * - `{ headers }` (no status): answer normally, with these headers added (e.g. W&B's
 *   `RateLimit-Remaining: 0` + `RateLimit-Reset` on a successful answer);
 * - `'reset'`: destroy the connection without answering (the request is not applied);
 * - `'stall'`: never answer (until the client gives up or `stop()`);
 * - `'drop-response'`: apply the request (state changes), then destroy the connection
 *   without answering, so the client cannot know it arrived: a retry must be idempotent.
 */
export type WandbFault =
  | { status: number; headers?: Record<string, string>; body?: string }
  | { headers: Record<string, string> }
  | 'reset'
  | 'stall'
  | 'drop-response';

export type WandbFaultKind = 'status' | 'headers' | 'reset' | 'stall' | 'drop-response';

export type WandbRequestKind = 'graphql' | 'file_stream' | 'upload' | 'download' | 'other';

export interface WandbRequest {
  /** 0-based arrival index. */
  seq: number;
  /** `Date.now()` at arrival. */
  time: number;
  method: string;
  /** Path and query as received. */
  path: string;
  kind: WandbRequestKind;
  /** GraphQL only: the operation name (from the body, else parsed from the document). */
  operationName?: string;
  /** GraphQL only: the document. */
  query?: string;
  /** GraphQL only. */
  variables?: Record<string, unknown>;
  /** The parsed JSON body (GraphQL, file_stream), after gzip decoding. */
  body?: unknown;
  /** Body size as received (before decoding). */
  bytes: number;
  /** `content-encoding` of the request, if any. */
  contentEncoding?: string;
  /** `user-agent` of the request, if any. */
  userAgent?: string;
  /** `{ entity, project, run }` for file_stream and uploads. */
  run?: { entity: string; project: string; run: string };
  /** The status answered (undefined for reset/stalled requests). */
  status?: number;
  /** Set when a fault was applied. */
  fault?: WandbFaultKind;
}

export interface WandbUnknownOperation {
  kind: 'graphql' | 'http';
  /** GraphQL operation name, or `${method} ${path}` for an unknown route. */
  name: string;
  query?: string;
  variables?: Record<string, unknown>;
}

export interface WandbUpsert {
  /** The mutation's variables as sent. */
  variables: Record<string, unknown>;
  /** `variables.config` parsed (NaN/Infinity tolerated), when sent. */
  config?: unknown;
}

export interface WandbStoredFile {
  /** sha256 of the bytes, hex. */
  sha256: string;
  size: number;
  bytes: Buffer;
  /** How many PUTs stored it (a re-upload replaces the bytes). */
  uploads: number;
  /** The request headers of the last PUT (lower-case names). */
  headers: Record<string, string>;
}

export interface WandbRun {
  /** The run id (`name` in GraphQL, the last path segment in file_stream URLs). */
  id: string;
  entity: string;
  project: string;
  /** The opaque storage id the server handed out (`bucket.id`). */
  storageId: string;
  /** Every UpsertBucket for this run, in order. */
  upserts: WandbUpsert[];
  /** `variables.config` of the last upsert that sent one, as sent (a JSON string). */
  configJson?: string;
  /** The config as last upserted, parsed (W&B's `{"key": {"value": …}}` form, `_wandb` included). */
  config: Record<string, unknown>;
  /** The config's `value`s, unwrapped (`{"key": …}`), `_wandb` left out. */
  configValues: Record<string, unknown>;
  displayName?: string;
  description?: string;
  notes?: string;
  group?: string;
  jobType?: string;
  tags: string[];
  host?: string;
  program?: string;
  commit?: string;
  repo?: string;
  sweep?: string;
  state?: string;
  /** `summaryMetrics` of the last upsert that sent one, parsed. */
  upsertSummary?: unknown;
  /** Raw `wandb-history.jsonl` lines by offset. */
  historyLines: string[];
  /** `historyLines` parsed (NaN/Infinity/-Infinity as numbers). */
  history: Record<string, unknown>[];
  /** The latest `wandb-summary.json` sent through file_stream, parsed. */
  summary: Record<string, unknown>;
  /** That summary line as sent. */
  summaryJson?: string;
  /** Raw `output.log` lines by offset. */
  outputLines: string[];
  /** Raw `wandb-events.jsonl` (system metrics) lines by offset. */
  eventsLines: string[];
  /** Lines of any other file sent through file_stream, by name and offset. */
  streamedFiles: Record<string, string[]>;
  /** Files uploaded to the URLs this server handed out. */
  files: Record<string, WandbStoredFile>;
  /** Every name asked for in CreateRunFiles. */
  requestedFiles: string[];
  /** Names reported as uploaded (file_stream `uploaded`, or MarkRunFilesUploaded). */
  uploaded: string[];
  /** file_stream requests applied for this run (heartbeats included). */
  fileStreamRequests: number;
  /** `exitcode` of the file_stream request that carried one. */
  exitcode?: number;
  /** True once a file_stream request said `complete: true`. */
  complete: boolean;
  /** True once a file_stream request said `preempting: true`. */
  preempting: boolean;
  /** Whether StopRun was called for it. */
  stopRequested: boolean;
}

export interface WandbServerOptions {
  /** The API key accepted in `Authorization: Basic base64("api:" + key)` (default {@link WANDB_FAKE_API_KEY}). */
  apiKey?: string;
  /** The viewer's default entity (default `trackstack`). */
  entity?: string;
  /** The viewer's username (default the entity). */
  username?: string;
  /**
   * Names of server features (`ServerFeature` enum names, e.g. `FILESTREAM_GZIP`,
   * `MARK_RUN_FILES_UPLOADED`, `LARGE_FILENAMES`) reported enabled by `serverInfo.features`.
   * Default: none, i.e. a server predating them (the SDK's fallbacks).
   */
  features?: readonly string[];
  /** `uploadHeaders` returned by CreateRunFiles (`"Name:value"` strings; PUTs must carry them). */
  uploadHeaders?: readonly string[];
  /** Port (default: any free one). */
  port?: number;
  /** Largest accepted request body (default 64 MiB; larger gets 413). */
  maxBodyBytes?: number;
}

export interface WandbServer {
  /** `http://127.0.0.1:<port>`, no trailing slash: the `WANDB_BASE_URL`. */
  readonly url: string;
  readonly port: number;
  readonly apiKey: string;
  /** The viewer's default entity. */
  readonly entity: string;
  /**
   * Environment for a `wandb` SDK process talking to this server: `WANDB_BASE_URL`,
   * `WANDB_API_KEY`, `WANDB_ENTITY`, and switches that keep the SDK off the network
   * elsewhere and quiet (no code/git capture, no system stats, no update check).
   */
  readonly sdkEnv: Record<string, string>;
  /** Every request, in arrival order. */
  readonly requests: WandbRequest[];
  /** Runs by id (a run id reused in another entity/project is keyed `entity/project/id`). */
  readonly runs: Map<string, WandbRun>;
  /** GraphQL operations and routes the server does not implement (each also answered with an error). */
  readonly unknownOperations: WandbUnknownOperation[];
  /**
   * Requests the server refused as malformed (each also answered with an error status):
   * unreadable bodies, file_stream bodies with bad offsets or lines that are not JSON objects,
   * file_stream for a run never upserted, uploads to unknown URLs or without the upload
   * headers, GraphQL naming an unknown storage id.
   */
  readonly protocolErrors: string[];
  /** `run(id)`: the run or a thrown error listing the known ids. */
  run(id: string): WandbRun;
  /**
   * Apply `fault` to the next `times` requests whose key matches (a string as a substring).
   * The key is `${method} ${path}` plus, for GraphQL, ` ${operationName}`:
   * `POST /graphql UpsertBucket`, `POST /files/e/p/r/file_stream`, `PUT /storage/…`.
   */
  failNext(match: string | RegExp, fault: WandbFault, times?: number): void;
  /** Forget scripted faults. */
  clearFaults(): void;
  /** Faults applied so far, by kind. */
  readonly faults: Record<WandbFaultKind, number>;
  /** Forget recorded requests, runs, unknown operations and protocol errors (not faults). */
  reset(): void;
  /** Stop listening and destroy open connections. Idempotent. */
  stop(): Promise<void>;
}

interface Scripted {
  match: string | RegExp;
  fault: WandbFault;
  remaining: number;
}

interface Project {
  id: string;
  name: string;
  entity: string;
  entityId: string;
}

class GraphqlError extends Error {}

/**
 * Parses JSON as the W&B SDK writes it: standard JSON plus the bare words `NaN`, `Infinity`
 * and `-Infinity` (Python's `json.dumps` default), which become the numbers.
 */
export function parseWandbJson(text: string): unknown {
  let out = '';
  let i = 0;
  let changed = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (ch === 'N' && text.startsWith('NaN', i)) {
      out += JSON.stringify(NAN);
      i += 3;
      changed = true;
      continue;
    }
    if (ch === 'I' && text.startsWith('Infinity', i)) {
      out += JSON.stringify(POS_INF);
      i += 8;
      changed = true;
      continue;
    }
    if (ch === '-' && text.startsWith('-Infinity', i)) {
      out += JSON.stringify(NEG_INF);
      i += 9;
      changed = true;
      continue;
    }
    out += ch;
    i += 1;
  }
  if (!changed) return JSON.parse(text);
  return JSON.parse(out, (_key, value) => {
    if (value === NAN) return Number.NaN;
    if (value === POS_INF) return Number.POSITIVE_INFINITY;
    if (value === NEG_INF) return Number.NEGATIVE_INFINITY;
    return value;
  });
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}

function matches(match: string | RegExp, key: string): boolean {
  if (typeof match === 'string') return key.includes(match);
  match.lastIndex = 0;
  return match.test(key);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function operationNameOf(query: string | undefined): string | undefined {
  const m = query?.match(/^\s*(?:query|mutation|subscription)\s+([A-Za-z_][A-Za-z0-9_]*)/m);
  return m?.[1];
}

/** The first field of the operation's top-level selection set, e.g. `upsertBucket`. */
function rootFieldOf(query: string | undefined): string | undefined {
  if (!query) return undefined;
  const open = query.indexOf('{');
  if (open < 0) return undefined;
  return query.slice(open + 1).match(/^\s*(?:[A-Za-z_]\w*\s*:\s*)?([A-Za-z_]\w*)/)?.[1];
}

function randomRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(8);
  let id = '';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

function unwrapConfig(config: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(config)) {
    if (key === '_wandb') continue;
    values[key] = isRecord(entry) && 'value' in entry ? entry.value : entry;
  }
  return values;
}

/** file_stream files whose lines must be JSON objects. */
const JSON_LINE_FILES = new Set([
  'wandb-history.jsonl',
  'wandb-summary.json',
  'wandb-events.jsonl',
]);

function setLines(target: string[], offset: number, content: readonly string[]): void {
  // W&B replaces lines from `offset` on; a gap (offset past the end) is filled with empty lines.
  while (target.length < offset) target.push('');
  for (let i = 0; i < content.length; i++) target[offset + i] = content[i]!;
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) tooLarge = true;
    if (!tooLarge) chunks.push(chunk);
  }
  return tooLarge ? 'too-large' : Buffer.concat(chunks);
}

function decodeBody(raw: Buffer, encoding: string | undefined): Buffer {
  const enc = encoding?.trim().toLowerCase();
  if (!enc || enc === 'identity') return raw;
  if (enc === 'gzip' || enc === 'x-gzip') return gunzipSync(raw);
  if (enc === 'deflate') return inflateSync(raw);
  throw new Error(`unsupported content-encoding ${encoding}`);
}

export async function startWandbServer(options: WandbServerOptions = {}): Promise<WandbServer> {
  const apiKey = options.apiKey ?? WANDB_FAKE_API_KEY;
  const viewerEntity = options.entity ?? 'trackstack';
  const username = options.username ?? viewerEntity;
  const features = new Set(options.features ?? []);
  const uploadHeaders = [...(options.uploadHeaders ?? [])];
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const expectedAuth = `Basic ${b64(`api:${apiKey}`)}`;

  const requests: WandbRequest[] = [];
  const runs = new Map<string, WandbRun>();
  const unknownOperations: WandbUnknownOperation[] = [];
  const protocolErrors: string[] = [];
  const scripted: Scripted[] = [];
  const faults: Record<WandbFaultKind, number> = {
    status: 0,
    headers: 0,
    reset: 0,
    stall: 0,
    'drop-response': 0,
  };
  const sockets = new Set<Socket>();
  const projects = new Map<string, Project>();
  /** Upload tokens → the run key and file name. */
  const uploads = new Map<string, { key: string; name: string }>();
  let entitySeq = 0;
  const entityIds = new Map<string, string>();
  let url = '';

  const entityId = (name: string) => {
    let id = entityIds.get(name);
    if (!id) {
      entitySeq += 1;
      id = b64(`Entity:${entitySeq}`);
      entityIds.set(name, id);
    }
    return id;
  };
  const projectOf = (entity: string, name: string, create: boolean): Project | undefined => {
    const key = `${entity}/${name}`;
    let project = projects.get(key);
    if (!project && create) {
      project = {
        id: b64(`Project:v1:${name}:${entity}`),
        name,
        entity,
        entityId: entityId(entity),
      };
      projects.set(key, project);
    }
    return project;
  };
  /** The key of a run in `runs`: its id, unless that id is taken by a run elsewhere. */
  const runKey = (entity: string, project: string, id: string): string => {
    const existing = runs.get(id);
    if (!existing || (existing.entity === entity && existing.project === project)) return id;
    return `${entity}/${project}/${id}`;
  };
  const findRun = (entity: string, project: string, id: string): WandbRun | undefined =>
    runs.get(runKey(entity, project, id));
  const findRunByStorageId = (storageId: string): WandbRun | undefined => {
    for (const run of runs.values()) if (run.storageId === storageId) return run;
    return undefined;
  };
  const newRun = (entity: string, project: string, id: string): WandbRun => {
    const run: WandbRun = {
      id,
      entity,
      project,
      storageId: b64(`Run:v1:${id}:${project}:${entity}`),
      upserts: [],
      config: {},
      configValues: {},
      tags: [],
      historyLines: [],
      history: [],
      summary: {},
      outputLines: [],
      eventsLines: [],
      streamedFiles: {},
      files: {},
      requestedFiles: [],
      uploaded: [],
      fileStreamRequests: 0,
      complete: false,
      preempting: false,
      stopRequested: false,
    };
    runs.set(runKey(entity, project, id), run);
    projectOf(entity, project, true);
    return run;
  };

  const bucketOf = (run: WandbRun) => {
    const project = projectOf(run.entity, run.project, true)!;
    return {
      id: run.storageId,
      name: run.id,
      displayName: run.displayName ?? run.id,
      description: run.description ?? null,
      notes: run.notes ?? null,
      config: run.configJson ?? '{}',
      sweepName: run.sweep ?? null,
      groupName: run.group ?? null,
      jobType: run.jobType ?? null,
      tags: run.tags,
      state: run.state ?? 'running',
      project: {
        id: project.id,
        name: project.name,
        entity: { id: project.entityId, name: project.entity },
      },
      historyLineCount: run.historyLines.length,
    };
  };

  // ---------------------------------------------------------------- GraphQL operations

  type Resolver = (vars: Record<string, unknown>) => unknown;

  const viewer = () => ({
    id: b64(`User:${username}`),
    entity: viewerEntity,
    username,
    email: `${username}@example.invalid`,
    name: username,
    admin: false,
    flags: '{}',
    photoUrl: null,
    defaultFramework: null,
    userInfo: null,
    teams: { edges: [{ node: { name: viewerEntity } }] },
    apiKeys: { edges: [] },
    organizations: [],
  });

  const upsertBucket: Resolver = (vars) => {
    const storageId = str(vars.id);
    let run: WandbRun | undefined;
    let inserted = false;
    if (storageId) {
      run = findRunByStorageId(storageId);
      if (!run) throw new GraphqlError(`run with id ${storageId} not found`);
    } else {
      const entity = str(vars.entity) || viewerEntity;
      const project = str(vars.project) || 'uncategorized';
      const name = str(vars.name) || randomRunId();
      run = findRun(entity, project, name);
      if (!run) {
        run = newRun(entity, project, name);
        inserted = true;
      }
    }
    const upsert: WandbUpsert = { variables: vars };
    const config = str(vars.config);
    if (config !== undefined) {
      upsert.config = parseWandbJson(config);
      if (isRecord(upsert.config)) {
        run.configJson = config;
        run.config = upsert.config;
        run.configValues = unwrapConfig(upsert.config);
      }
    }
    run.upserts.push(upsert);
    const set = <K extends keyof WandbRun>(field: K, value: unknown) => {
      if (typeof value === 'string') (run as unknown as Record<string, unknown>)[field] = value;
    };
    set('displayName', vars.displayName);
    set('description', vars.description);
    set('notes', vars.notes);
    set('group', vars.groupName);
    set('jobType', vars.jobType);
    set('host', vars.host);
    set('program', vars.program);
    set('commit', vars.commit);
    set('repo', vars.repo);
    set('sweep', vars.sweep);
    set('state', vars.state);
    if (Array.isArray(vars.tags)) run.tags = vars.tags.filter((t) => typeof t === 'string');
    const summaryMetrics = str(vars.summaryMetrics);
    if (summaryMetrics !== undefined) run.upsertSummary = parseWandbJson(summaryMetrics);
    return { upsertBucket: { bucket: bucketOf(run), inserted } };
  };

  const runResumeStatus: Resolver = (vars) => {
    const entity = str(vars.entity) || viewerEntity;
    const projectName = str(vars.project) || 'uncategorized';
    const project = projectOf(entity, projectName, false);
    if (!project) return { model: null };
    const run = findRun(entity, projectName, str(vars.name) ?? '');
    const model = {
      id: project.id,
      name: project.name,
      entity: { id: project.entityId, name: project.entity },
      bucket: null as unknown,
    };
    if (run) {
      const t = isRecord(run.config._wandb) ? run.config._wandb : undefined;
      const tValue = isRecord(t) && isRecord(t.value) ? t.value.t : undefined;
      model.bucket = {
        ...bucketOf(run),
        summaryMetrics: run.summaryJson ?? '{}',
        logLineCount: run.outputLines.length,
        historyLineCount: run.historyLines.length,
        eventsLineCount: run.eventsLines.length,
        // One line, the last: wandb-core reads the tail's first element, the legacy Python
        // client its last one.
        historyTail: JSON.stringify(run.historyLines.slice(-1)),
        eventsTail: JSON.stringify(run.eventsLines.slice(-1)),
        wandbConfig: JSON.stringify(tValue === undefined ? {} : { t: tValue }),
      };
    }
    return { model };
  };

  const runFilesOf = (vars: Record<string, unknown>): WandbRun => {
    const entity = str(vars.entity) || viewerEntity;
    const project = str(vars.project) || 'uncategorized';
    const name = str(vars.run) ?? '';
    const run = findRun(entity, project, name);
    if (!run) throw new GraphqlError(`run ${entity}/${project}/${name} not found`);
    return run;
  };

  const createRunFiles: Resolver = (vars) => {
    const run = runFilesOf(vars);
    const names = Array.isArray(vars.files) ? vars.files.filter((f) => typeof f === 'string') : [];
    const key = runKey(run.entity, run.project, run.id);
    const files = names.map((name) => {
      run.requestedFiles.push(name);
      const token = randomBytes(12).toString('hex');
      uploads.set(token, { key, name });
      return {
        name,
        uploadUrl: `${url}/storage/${token}/${name.split('/').map(encodeURIComponent).join('/')}`,
        directUrl: `${url}/storage/${token}/${name.split('/').map(encodeURIComponent).join('/')}`,
      };
    });
    return {
      createRunFiles: { runID: run.storageId, uploadHeaders, files },
    };
  };

  const markRunFilesUploaded: Resolver = (vars) => {
    const run = runFilesOf(vars);
    for (const f of Array.isArray(vars.files) ? vars.files : []) {
      if (typeof f === 'string' && !run.uploaded.includes(f)) run.uploaded.push(f);
    }
    return { markRunFilesUploaded: { success: true } };
  };

  const resolvers: Record<string, Resolver> = {
    ServerFeaturesQuery: () => ({
      serverInfo: {
        features: [...features].map((name) => ({ name, isEnabled: true })),
      },
    }),
    Viewer: () => ({ viewer: viewer() }),
    UpsertBucket: upsertBucket,
    RunResumeStatus: runResumeStatus,
    CreateRunFiles: createRunFiles,
    MarkRunFilesUploaded: markRunFilesUploaded,
    StopRun: (vars) => {
      const run = findRunByStorageId(str(vars.id) ?? '');
      if (run) run.stopRequested = true;
      return { stopRun: { success: run !== undefined } };
    },
    ClientIDMapping: () => ({ clientIDMapping: null }),
  };

  // ---------------------------------------------------------------- file_stream

  /** Checks a file_stream body; returns the problem, or undefined when it is well formed. */
  const fileStreamProblem = (body: unknown): string | undefined => {
    if (!isRecord(body)) return 'body is not a JSON object';
    if (body.files === undefined) return undefined;
    if (!isRecord(body.files)) return '`files` is not an object';
    for (const [name, data] of Object.entries(body.files)) {
      if (!isRecord(data)) return `files[${name}] is not an object`;
      if (!Number.isInteger(data.offset) || (data.offset as number) < 0) {
        return `files[${name}].offset is not a non-negative integer`;
      }
      if (!Array.isArray(data.content) || data.content.some((l) => typeof l !== 'string')) {
        return `files[${name}].content is not an array of strings`;
      }
      if (!JSON_LINE_FILES.has(name)) continue;
      for (const [i, line] of (data.content as string[]).entries()) {
        let parsed: unknown;
        try {
          parsed = parseWandbJson(line);
        } catch (err) {
          return `files[${name}].content[${i}] is not JSON (${(err as Error).message}): ${line.slice(0, 200)}`;
        }
        if (!isRecord(parsed)) return `files[${name}].content[${i}] is not a JSON object`;
      }
    }
    if (body.uploaded !== undefined) {
      if (!Array.isArray(body.uploaded) || body.uploaded.some((f) => typeof f !== 'string')) {
        return '`uploaded` is not an array of strings';
      }
    }
    return undefined;
  };

  /** Applies a well-formed file_stream body to a run. */
  const fileStream = (run: WandbRun, body: Record<string, unknown>): void => {
    run.fileStreamRequests += 1;
    const files = isRecord(body.files) ? body.files : {};
    for (const [name, data] of Object.entries(files)) {
      if (!isRecord(data)) continue;
      const offset = data.offset as number;
      const content = data.content as string[];
      if (name === 'wandb-history.jsonl') {
        setLines(run.historyLines, offset, content);
        while (run.history.length < offset) run.history.push({});
        content.forEach((line, i) => {
          run.history[offset + i] = parseWandbJson(line) as Record<string, unknown>;
        });
      } else if (name === 'wandb-summary.json') {
        const last = content[content.length - 1];
        if (last !== undefined) {
          run.summary = parseWandbJson(last) as Record<string, unknown>;
          run.summaryJson = last;
        }
      } else if (name === 'output.log') {
        setLines(run.outputLines, offset, content);
      } else if (name === 'wandb-events.jsonl') {
        setLines(run.eventsLines, offset, content);
      } else {
        const lines = run.streamedFiles[name] ?? [];
        run.streamedFiles[name] = lines;
        setLines(lines, offset, content);
      }
    }
    for (const f of (body.uploaded as string[] | undefined) ?? []) {
      if (!run.uploaded.includes(f)) run.uploaded.push(f);
    }
    if (body.complete === true) run.complete = true;
    if (typeof body.exitcode === 'number') run.exitcode = body.exitcode;
    if (body.preempting === true) run.preempting = true;
  };

  // ---------------------------------------------------------------- HTTP

  const pickFault = (key: string): WandbFault | undefined => {
    for (let i = 0; i < scripted.length; i++) {
      const entry = scripted[i]!;
      if (entry.remaining > 0 && matches(entry.match, key)) {
        entry.remaining -= 1;
        if (entry.remaining === 0) scripted.splice(i, 1);
        return entry.fault;
      }
    }
    return undefined;
  };

  const send = (
    res: ServerResponse,
    record: WandbRequest,
    status: number,
    body: unknown,
    extraHeaders: Record<string, string> = {},
  ) => {
    record.status = status;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      'content-length': Buffer.byteLength(text),
      ...extraHeaders,
    });
    res.end(text);
  };

  const destroy = (req: IncomingMessage) => {
    const socket = req.socket;
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    res.on('error', () => {});
    req.on('error', () => {});
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const pathname = path.split('?')[0] ?? '/';
    const record: WandbRequest = {
      seq: requests.length,
      time: Date.now(),
      method,
      path,
      kind: 'other',
      bytes: 0,
    };
    const encoding = req.headers['content-encoding'];
    if (encoding) record.contentEncoding = encoding;
    if (req.headers['user-agent']) record.userAgent = req.headers['user-agent'];
    requests.push(record);

    const raw = await readBody(req, maxBodyBytes);
    if (raw === 'too-large') {
      send(res, record, 413, { error: 'request entity too large' });
      return;
    }
    record.bytes = raw.length;

    const fsMatch = pathname.match(/^\/files\/([^/]+)\/([^/]+)\/([^/]+)\/file_stream\/?$/);
    const storageMatch = pathname.match(/^\/storage\/([0-9a-f]+)\/(.+)$/);
    let decoded: Buffer | undefined;
    let json: unknown;
    let parseError: string | undefined;
    if (method === 'POST' && (pathname === '/graphql' || fsMatch)) {
      try {
        decoded = decodeBody(raw, encoding);
        json = decoded.length === 0 ? undefined : parseWandbJson(decoded.toString('utf8'));
        record.body = json;
      } catch (err) {
        parseError = (err as Error).message;
      }
    }
    let faultKey = `${method} ${path}`;
    if (pathname === '/graphql') {
      record.kind = 'graphql';
      const body = isRecord(json) ? json : {};
      record.query = str(body.query);
      record.operationName = str(body.operationName) || operationNameOf(record.query);
      record.variables = isRecord(body.variables) ? body.variables : {};
      faultKey += ` ${record.operationName ?? ''}`;
    } else if (fsMatch) {
      record.kind = 'file_stream';
      record.run = {
        entity: decodeURIComponent(fsMatch[1]!),
        project: decodeURIComponent(fsMatch[2]!),
        run: decodeURIComponent(fsMatch[3]!),
      };
    } else if (storageMatch) {
      record.kind = method === 'GET' ? 'download' : 'upload';
      const upload = uploads.get(storageMatch[1]!);
      const run = upload ? runs.get(upload.key) : undefined;
      if (run) record.run = { entity: run.entity, project: run.project, run: run.id };
    }

    const fault = pickFault(faultKey);
    if (fault !== undefined) {
      const kind: WandbFaultKind =
        typeof fault === 'string' ? fault : 'status' in fault ? 'status' : 'headers';
      faults[kind] += 1;
      record.fault = kind;
      if (fault === 'reset') return destroy(req);
      if (fault === 'stall') return;
      if (typeof fault === 'object' && 'status' in fault) {
        record.status = fault.status;
        const body = fault.body ?? '';
        res.writeHead(fault.status, {
          'content-length': Buffer.byteLength(body),
          'content-type': 'text/plain; charset=utf-8',
          ...fault.headers,
        });
        res.end(body);
        return;
      }
    }
    const problem = (text: string) => {
      protocolErrors.push(text);
    };
    const answer = (status: number, body: unknown) => {
      if (fault === 'drop-response') {
        record.status = status;
        destroy(req);
      } else if (typeof fault === 'object' && !('status' in fault)) {
        send(res, record, status, body, fault.headers);
      } else send(res, record, status, body);
    };

    // Presigned uploads carry no W&B auth, like the service's storage URLs.
    if (storageMatch) {
      const upload = uploads.get(storageMatch[1]!);
      const run = upload ? runs.get(upload.key) : undefined;
      if (!upload || !run) {
        problem(`${method} ${pathname}: not an upload URL this server handed out`);
        return answer(403, 'SignatureDoesNotMatch');
      }
      if (method === 'PUT') {
        for (const header of uploadHeaders) {
          const colon = header.indexOf(':');
          const name = header.slice(0, colon).trim().toLowerCase();
          const value = header.slice(colon + 1).trim();
          if (req.headers[name] !== value) {
            problem(`PUT ${upload.name}: upload header ${name} missing or not ${value}`);
            return answer(403, `missing or wrong upload header ${name}`);
          }
        }
        const previous = run.files[upload.name];
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) {
          if (typeof v === 'string') headers[k] = v;
        }
        run.files[upload.name] = {
          sha256: createHash('sha256').update(raw).digest('hex'),
          size: raw.length,
          bytes: raw,
          uploads: (previous?.uploads ?? 0) + 1,
          headers,
        };
        return answer(200, '');
      }
      if (method === 'GET') {
        const file = run.files[upload.name];
        if (!file) return answer(404, 'NoSuchKey');
        record.status = 200;
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': file.size,
        });
        res.end(file.bytes);
        return;
      }
      return answer(405, 'method not allowed');
    }

    if (pathname === '/graphql' || fsMatch) {
      if (req.headers.authorization !== expectedAuth) {
        return answer(401, { errors: [{ message: 'Unauthorized' }] });
      }
    }
    if (parseError !== undefined) {
      problem(`${method} ${pathname}: unreadable body: ${parseError}`);
      return answer(400, { error: parseError });
    }

    if (pathname === '/graphql' && method === 'POST') {
      const name = record.operationName;
      const resolver = name !== undefined ? resolvers[name] : undefined;
      if (!resolver) {
        unknownOperations.push({
          kind: 'graphql',
          name: name ?? `<anonymous ${rootFieldOf(record.query) ?? '?'}>`,
          query: record.query,
          variables: record.variables,
        });
        return answer(200, {
          data: null,
          errors: [
            {
              message: `trackstack wandb test server: operation ${name ?? '(anonymous)'} is not implemented`,
            },
          ],
        });
      }
      try {
        return answer(200, { data: resolver(record.variables ?? {}) });
      } catch (err) {
        if (err instanceof GraphqlError) {
          problem(`${name}: ${err.message}`);
          return answer(200, { data: null, errors: [{ message: err.message }] });
        }
        return answer(500, { errors: [{ message: (err as Error).message }] });
      }
    }

    if (fsMatch && method === 'POST') {
      const { entity, project, run: id } = record.run!;
      const run = findRun(entity, project, id);
      if (!run) {
        problem(`file_stream for unknown run ${entity}/${project}/${id}`);
        return answer(404, { error: 'run not found' });
      }
      const bad = fileStreamProblem(json);
      if (bad !== undefined) {
        problem(`file_stream ${entity}/${project}/${id}: ${bad}`);
        return answer(400, { error: bad });
      }
      fileStream(run, json as Record<string, unknown>);
      return answer(200, {});
    }

    unknownOperations.push({ kind: 'http', name: `${method} ${pathname}` });
    return answer(404, { error: 'not found' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(err.message);
      } else res.destroy();
    });
  });
  const port = await listenOnLoopback(server, sockets, options.port, 'wandb server');
  url = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;

  return {
    url,
    port,
    apiKey,
    entity: viewerEntity,
    sdkEnv: {
      WANDB_BASE_URL: url,
      WANDB_API_KEY: apiKey,
      WANDB_SILENT: 'true',
      WANDB_DISABLE_CODE: 'true',
      WANDB_DISABLE_GIT: 'true',
      WANDB_DISABLE_JOB_CREATION: 'true',
      WANDB__DISABLE_STATS: 'true',
      WANDB_ERROR_REPORTING: 'false',
    },
    requests,
    runs,
    unknownOperations,
    protocolErrors,
    run(id) {
      const run = runs.get(id);
      if (!run)
        throw new Error(`wandb server: no run ${id} (runs: ${[...runs.keys()].join(', ')})`);
      return run;
    },
    failNext(match, fault, times = 1) {
      if (times > 0) scripted.push({ match, fault, remaining: times });
    },
    clearFaults() {
      scripted.length = 0;
    },
    faults,
    reset() {
      requests.length = 0;
      runs.clear();
      unknownOperations.length = 0;
      protocolErrors.length = 0;
      projects.clear();
      uploads.clear();
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
}
