import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { listenOnLoopback } from './loopback.js';

/**
 * A loopback stand-in for the W&B service (the GraphQL API, `file_stream`, the presigned
 * file uploads and the artifact API) that the real `wandb` SDK 0.30 accepts as
 * `WANDB_BASE_URL`. It records every request and keeps per-run and per-artifact state, so
 * tests can check what a client sent.
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
  /** `{ entity, project, run }` for file_stream and run-file uploads. */
  run?: { entity: string; project: string; run: string };
  /** The artifact's id, for uploads and downloads of artifact files and manifests. */
  artifact?: string;
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

/** An artifact version's state: created (files may still be uploading), or committed. */
export type WandbArtifactState = 'PENDING' | 'COMMITTED';

/** A run, by entity, project and run id. */
export interface WandbRunRef {
  entity: string;
  project: string;
  /** The run id (`runName` in the artifact mutations). */
  run: string;
}

/** A file stored for an artifact (an entry's bytes, or the uploaded `wandb_manifest.json`). */
export interface WandbArtifactFile extends WandbStoredFile {
  /** base64 of the md5 of the bytes: what a manifest entry's `digest` is for a stored file. */
  md5: string;
}

/** One use of an artifact by a run (`UseArtifact`; repeats of the same use are kept once). */
export interface WandbArtifactUse extends WandbRunRef {
  /** `usedAs` as sent (the SDK 0.30 always sends null). */
  usedAs: string | null;
}

/**
 * One artifact version, as `CreateArtifact` made it and the later mutations and uploads
 * filled it in.
 */
export interface WandbArtifact {
  /** The opaque id the server handed out (`artifact.id`, base64 of `Artifact:<n>`). */
  id: string;
  /** The sequence (collection) name, e.g. `run-<runid>-<key>` for a logged table. */
  name: string;
  /** `artifactTypeName`, e.g. `run_table`, `dataset`. */
  type: string;
  entity: string;
  project: string;
  /** The artifact digest sent by CreateArtifact (hex; MANIFEST_MD5 unless `digestAlgorithm` says otherwise). */
  digest: string;
  digestAlgorithm: string | null;
  state: WandbArtifactState;
  /** The version number in its sequence (`v0`, `v1`, …), assigned at commit; null while PENDING. */
  versionIndex: number | null;
  /**
   * The aliases it holds (`latest`, …). Those asked for in CreateArtifact are applied at
   * commit, and an alias names one version of a sequence, so committing a version moves
   * them from the older one.
   */
  aliases: string[];
  /** The aliases CreateArtifact asked for. */
  requestedAliases: string[];
  description: string | null;
  /** `metadata` as sent (a JSON string), and parsed. */
  metadataJson: string | null;
  metadata: unknown;
  historyStep: number | null;
  /** The client's ids (`clientID`, `sequenceClientID`): the `wandb-client-artifact://` references name them. */
  clientId: string | null;
  sequenceClientId: string | null;
  /** The run that logged it (`runName` of CreateArtifact); null for an artifact made without one (e.g. `run.use_artifact(draft)`). */
  createdBy: WandbRunRef | null;
  /** The CreateArtifact input as sent. */
  input: Record<string, unknown>;
  /** `digest` of the CreateArtifactManifest that asked for the manifest upload (base64 md5 of the manifest file). */
  manifestDigest?: string;
  /** The uploaded `wandb_manifest.json`, parsed (`{ version, storagePolicy, storagePolicyConfig, contents: { path: entry } }`). */
  manifest?: Record<string, unknown>;
  /** The uploaded `wandb_manifest.json` itself. */
  manifestFile?: WandbArtifactFile;
  /** The md5 (base64) each CreateArtifactFiles entry announced, by manifest path. */
  requestedFiles: Record<string, string>;
  /** Files uploaded for it, by manifest path. */
  files: Record<string, WandbArtifactFile>;
  /** Runs that used it, in order. */
  usedBy: WandbArtifactUse[];
  /** Creation and commit times (`Date.now()`). */
  createdAt: number;
  committedAt?: number;
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
  /**
   * `uploadHeaders` returned by CreateRunFiles, CreateArtifactFiles and CreateArtifactManifest
   * (`"Name:value"` strings; PUTs must carry them).
   */
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
   * headers, GraphQL naming an unknown storage id; for artifacts, PUTs whose md5 is not the
   * announced one, manifests that are not JSON with `contents`, PUTs after the commit, and
   * refused artifact mutations (unknown artifact or run, a commit without the manifest or an
   * entry's file, a digest that is not the manifest's, a sequence's type changed).
   */
  readonly protocolErrors: string[];
  /** `run(id)`: the run or a thrown error listing the known ids. */
  run(id: string): WandbRun;
  /** Every artifact version created, in creation order (a deduplicated CreateArtifact adds none). */
  readonly artifacts: WandbArtifact[];
  /**
   * `artifact(name, version?)`: one artifact version, or a thrown error listing the known ones.
   * `name` is the sequence name, optionally `project/name` or `entity/project/name`, optionally
   * with `:version`. The version is `v<n>` or an alias (committed versions only); without one,
   * the newest version created, in any state.
   */
  artifact(name: string, version?: string): WandbArtifact;
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
  /** Forget recorded requests, runs, artifacts, unknown operations and protocol errors (not faults). */
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
  internalId: string;
  name: string;
  entity: string;
  entityId: string;
}

type Upload =
  | { kind: 'run'; key: string; name: string }
  | { kind: 'artifact-file'; artifactId: string; name: string; md5: string }
  | { kind: 'manifest'; artifactId: string; name: string; digest: string };

/** An artifact sequence (collection): one name and type in a project, its versions in creation order. */
interface Sequence {
  id: string;
  name: string;
  type: string;
  entity: string;
  project: string;
  clientId: string | null;
  versions: WandbArtifact[];
}

class GraphqlError extends Error {}

/** The prefix W&B hashes before the manifest lines (`digest_algorithm = MANIFEST_MD5`). */
const MANIFEST_DIGEST_PREFIX = 'wandb-artifact-manifest-v1\n';

/**
 * The artifact digest W&B computes from a manifest's entries (MANIFEST_MD5): the hex md5 of
 * `wandb-artifact-manifest-v1\n` followed by `<path>:<entry digest>\n` per entry, sorted by path.
 */
export function wandbArtifactDigest(entries: Record<string, { digest: string }>): string {
  const hash = createHash('md5').update(MANIFEST_DIGEST_PREFIX);
  for (const path of Object.keys(entries).sort()) hash.update(`${path}:${entries[path]!.digest}\n`);
  return hash.digest('hex');
}

/** W&B's timestamp format (UTC, no zone suffix). */
function wandbTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** `name:version` (version defaulting to `latest`), as the SDK's by-name queries send it. */
function splitArtifactName(name: string): { name: string; version: string } {
  const colon = name.lastIndexOf(':');
  if (colon < 0) return { name, version: 'latest' };
  return { name: name.slice(0, colon), version: name.slice(colon + 1) };
}

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
  /** Upload tokens → what the URL stores: a run file, an artifact file or an artifact's manifest. */
  const uploads = new Map<string, Upload>();
  /** Artifact versions by id, and sequences by `entity/project/name`. */
  const artifacts: WandbArtifact[] = [];
  const artifactsById = new Map<string, WandbArtifact>();
  const sequences = new Map<string, Sequence>();
  let objectSeq = 0;
  const nextId = (kind: string) => {
    objectSeq += 1;
    return b64(`${kind}:${objectSeq}`);
  };
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
        internalId: String(projects.size + 1),
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

  /** An upload URL on this server: `/storage/<token>/<name, each segment URL-encoded>`. */
  const storageUrl = (token: string, name: string) =>
    `${url}/storage/${token}/${name.split('/').map(encodeURIComponent).join('/')}`;

  const createRunFiles: Resolver = (vars) => {
    const run = runFilesOf(vars);
    const names = Array.isArray(vars.files) ? vars.files.filter((f) => typeof f === 'string') : [];
    const key = runKey(run.entity, run.project, run.id);
    const files = names.map((name) => {
      run.requestedFiles.push(name);
      const token = randomBytes(12).toString('hex');
      uploads.set(token, { kind: 'run', key, name });
      return { name, uploadUrl: storageUrl(token, name), directUrl: storageUrl(token, name) };
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

  // ---------------------------------------------------------------- artifacts

  const projectInfo = (entity: string, name: string) => {
    const project = projectOf(entity, name, true)!;
    return {
      __typename: 'Project',
      id: project.id,
      internalId: project.internalId,
      name: project.name,
      entity: { id: project.entityId, name: project.entity },
    };
  };

  const sequenceOf = (a: WandbArtifact): Sequence =>
    sequences.get(`${a.entity}/${a.project}/${a.name}`)!;

  const collectionJson = (seq: Sequence) => ({
    __typename: 'ArtifactSequence',
    id: seq.id,
    name: seq.name,
    project: projectInfo(seq.entity, seq.project),
  });

  const aliasJson = (a: WandbArtifact, alias: string) => ({
    __typename: 'ArtifactAlias',
    id: b64(`ArtifactAlias:${a.id}:${alias}`),
    alias,
  });

  /** The manifest's entries (`contents`), when uploaded. */
  const manifestEntries = (a: WandbArtifact): Record<string, Record<string, unknown>> => {
    const contents = a.manifest?.contents;
    if (!isRecord(contents)) return {};
    const entries: Record<string, Record<string, unknown>> = {};
    for (const [path, entry] of Object.entries(contents))
      if (isRecord(entry)) entries[path] = entry;
    return entries;
  };

  /** An `Artifact` object with every field the SDK's `ArtifactFragment` asks for (and a few more). */
  const artifactJson = (a: WandbArtifact) => {
    const seq = sequenceOf(a);
    const collection = collectionJson(seq);
    const entries = Object.values(manifestEntries(a));
    const ttl = typeof a.input.ttlDurationSeconds === 'number' ? a.input.ttlDurationSeconds : null;
    return {
      __typename: 'Artifact',
      id: a.id,
      artifactSequence: collection,
      versionIndex: a.versionIndex,
      artifactType: { __typename: 'ArtifactType', id: b64(`ArtifactType:${a.type}`), name: a.type },
      description: a.description,
      metadata: a.metadataJson,
      ttlDurationSeconds: ttl === null || ttl === -1 ? -2 : ttl,
      ttlIsInherited: ttl === null || ttl === -1,
      tags: [],
      historyStep: a.historyStep,
      state: a.state,
      size: entries.reduce((sum, e) => sum + (typeof e.size === 'number' ? e.size : 0), 0),
      digest: a.digest,
      digestAlgorithm: a.digestAlgorithm ?? 'MANIFEST_MD5',
      commitHash:
        a.state === 'COMMITTED'
          ? createHash('sha256').update(a.id).digest('hex').slice(0, 12)
          : null,
      fileCount: entries.length,
      createdAt: wandbTime(a.createdAt),
      updatedAt: a.committedAt === undefined ? null : wandbTime(a.committedAt),
      aliases: a.aliases.map((alias) => ({
        ...aliasJson(a, alias),
        artifactCollection: collection,
      })),
    };
  };

  const membershipJson = (a: WandbArtifact) => ({
    __typename: 'ArtifactCollectionMembership',
    id: b64(`ArtifactCollectionMembership:${a.id}`),
    versionIndex: a.versionIndex,
    createdAt: wandbTime(a.createdAt),
    aliases: a.aliases.map((alias) => aliasJson(a, alias)),
    artifactCollection: collectionJson(sequenceOf(a)),
    artifact: artifactJson(a),
  });

  /** A committed version of a sequence by `v<n>` or alias. */
  const versionOf = (seq: Sequence | undefined, version: string): WandbArtifact | undefined => {
    const committed = seq?.versions.filter((a) => a.state === 'COMMITTED') ?? [];
    const index = version.match(/^v(\d+)$/)?.[1];
    if (index !== undefined) return committed.find((a) => a.versionIndex === Number(index));
    return committed.find((a) => a.aliases.includes(version));
  };

  /** `entity`, `project` and `name` (`seq:version`) of the SDK's by-name queries. */
  const artifactByName = (vars: Record<string, unknown>) => {
    const entity = str(vars.entity) || str(vars.entityName) || viewerEntity;
    const projectName = str(vars.project) || str(vars.projectName) || 'uncategorized';
    const project = projectOf(entity, projectName, false);
    const { name, version } = splitArtifactName(str(vars.name) ?? '');
    const artifact = project
      ? versionOf(sequences.get(`${entity}/${projectName}/${name}`), version)
      : undefined;
    return { project, artifact };
  };

  const artifactOf = (id: unknown): WandbArtifact => {
    const artifact = artifactsById.get(str(id) ?? '');
    if (!artifact) throw new GraphqlError(`artifact ${String(id)} not found`);
    return artifact;
  };

  /** The `input` object of wandb-core's mutations, or the flat variables of the Python side's. */
  const inputOf = (vars: Record<string, unknown>) => (isRecord(vars.input) ? vars.input : vars);

  const createArtifact: Resolver = (vars) => {
    const input = inputOf(vars);
    const entity = str(input.entityName) || viewerEntity;
    const project = str(input.projectName) || 'uncategorized';
    const name = str(input.artifactCollectionName);
    const type = str(input.artifactTypeName);
    const digest = str(input.digest);
    if (!name || !type || !digest) {
      throw new GraphqlError(
        'CreateArtifact needs artifactCollectionName, artifactTypeName and digest',
      );
    }
    const runName = str(input.runName);
    if (runName && !findRun(entity, project, runName)) {
      throw new GraphqlError(`CreateArtifact: run ${entity}/${project}/${runName} not found`);
    }
    const requestedAliases = (Array.isArray(input.aliases) ? input.aliases : [])
      .map((a) => (isRecord(a) ? str(a.alias) : str(a)))
      .filter((a): a is string => a !== undefined);
    const key = `${entity}/${project}/${name}`;
    let seq = sequences.get(key);
    if (seq && seq.type !== type) {
      throw new GraphqlError(`artifact sequence ${key} has type ${seq.type}, not ${type}`);
    }
    const latestCommitted = () =>
      seq?.versions
        .filter((a) => a.state === 'COMMITTED')
        .sort((x, y) => y.versionIndex! - x.versionIndex!)[0];
    const answer = (a: WandbArtifact) => {
      const latest = latestCommitted();
      return {
        createArtifact: {
          artifact: {
            ...artifactJson(a),
            artifactSequence: {
              ...collectionJson(sequenceOf(a)),
              latestArtifact: latest ? { id: latest.id, versionIndex: latest.versionIndex } : null,
            },
          },
        },
      };
    };
    const clientId = str(input.clientID) ?? null;
    // The same client artifact again (a retry): the same version.
    const same = clientId ? seq?.versions.find((a) => a.clientId === clientId) : undefined;
    if (same) return answer(same);
    // Content already committed in this sequence: W&B answers with that version.
    const committed = seq?.versions.find((a) => a.state === 'COMMITTED' && a.digest === digest);
    if (committed) {
      for (const alias of requestedAliases) moveAlias(committed, alias);
      return answer(committed);
    }
    if (!seq) {
      seq = {
        id: nextId('ArtifactCollection'),
        name,
        type,
        entity,
        project,
        clientId: str(input.sequenceClientID) ?? null,
        versions: [],
      };
      sequences.set(key, seq);
      projectOf(entity, project, true);
    }
    const metadataJson = str(input.metadata) ?? null;
    let metadata: unknown = null;
    if (metadataJson !== null) {
      try {
        metadata = parseWandbJson(metadataJson);
      } catch {
        metadata = metadataJson;
      }
    }
    const artifact: WandbArtifact = {
      id: nextId('Artifact'),
      name,
      type,
      entity,
      project,
      digest,
      digestAlgorithm: str(input.digestAlgorithm) ?? null,
      state: 'PENDING',
      versionIndex: null,
      aliases: [],
      requestedAliases,
      description: str(input.description) ?? null,
      metadataJson,
      metadata,
      historyStep: typeof input.historyStep === 'number' ? input.historyStep : null,
      clientId,
      sequenceClientId: str(input.sequenceClientID) ?? null,
      createdBy: runName ? { entity, project, run: runName } : null,
      input,
      requestedFiles: {},
      files: {},
      usedBy: [],
      createdAt: Date.now(),
    };
    seq.versions.push(artifact);
    artifacts.push(artifact);
    artifactsById.set(artifact.id, artifact);
    return answer(artifact);
  };

  /** Gives `alias` to `artifact`, taking it from the sequence's other versions. */
  const moveAlias = (artifact: WandbArtifact, alias: string) => {
    for (const other of sequenceOf(artifact).versions) {
      if (other !== artifact) other.aliases = other.aliases.filter((a) => a !== alias);
    }
    if (!artifact.aliases.includes(alias)) artifact.aliases.push(alias);
  };

  const pendingArtifact = (id: unknown, op: string): WandbArtifact => {
    const artifact = artifactOf(id);
    if (artifact.state !== 'PENDING') {
      throw new GraphqlError(`${op}: artifact ${artifact.id} is already ${artifact.state}`);
    }
    return artifact;
  };

  /** The manifest file object; with `includeUpload`, an upload URL for `wandb_manifest.json`. */
  const manifestFile = (artifact: WandbArtifact, name: string, digest: string, upload: boolean) => {
    const file: Record<string, unknown> = { __typename: 'File', id: nextId('File'), name };
    if (upload) {
      const token = randomBytes(12).toString('hex');
      uploads.set(token, { kind: 'manifest', artifactId: artifact.id, name, digest });
      if (digest) artifact.manifestDigest = digest;
      file.uploadUrl = storageUrl(token, name);
      file.directUrl = file.uploadUrl;
      file.uploadHeaders = uploadHeaders;
    }
    return file;
  };

  const createArtifactManifest: Resolver = (vars) => {
    const input = inputOf(vars);
    const artifact = pendingArtifact(input.artifactID, 'CreateArtifactManifest');
    const name = str(input.name) ?? 'wandb_manifest.json';
    const digest = str(input.digest) ?? '';
    return {
      createArtifactManifest: {
        artifactManifest: {
          id: b64(`ArtifactManifest:${artifact.id}`),
          file: manifestFile(artifact, name, digest, vars.includeUpload === true || digest !== ''),
        },
      },
    };
  };

  const updateArtifactManifest: Resolver = (vars) => {
    const input = inputOf(vars);
    const manifestId = str(input.artifactManifestID) ?? '';
    const artifactId = Buffer.from(manifestId, 'base64')
      .toString('utf8')
      .replace(/^ArtifactManifest:/, '');
    const artifact = pendingArtifact(artifactId, 'UpdateArtifactManifest');
    const digest = str(input.digest) ?? '';
    return {
      updateArtifactManifest: {
        artifactManifest: {
          id: manifestId,
          file: manifestFile(artifact, 'wandb_manifest.json', digest, vars.includeUpload !== false),
        },
      },
    };
  };

  const createArtifactFiles: Resolver = (vars) => {
    const input = inputOf(vars);
    const files = Array.isArray(input.artifactFiles) ? input.artifactFiles : [];
    const edges = files.map((f, i) => {
      if (!isRecord(f))
        throw new GraphqlError(`CreateArtifactFiles: artifactFiles[${i}] is not an object`);
      const artifact = pendingArtifact(f.artifactID, 'CreateArtifactFiles');
      const name = str(f.name);
      const md5 = str(f.md5);
      if (!name || !md5)
        throw new GraphqlError(`CreateArtifactFiles: artifactFiles[${i}] needs name and md5`);
      if (f.uploadPartsInput !== null && f.uploadPartsInput !== undefined) {
        throw new GraphqlError('CreateArtifactFiles: multipart uploads are not implemented');
      }
      artifact.requestedFiles[name] = md5;
      const token = randomBytes(12).toString('hex');
      uploads.set(token, { kind: 'artifact-file', artifactId: artifact.id, name, md5 });
      const uploadUrl = storageUrl(token, name);
      return {
        node: {
          __typename: 'File',
          id: nextId('File'),
          name,
          displayName: name,
          storagePath: `wandb_artifacts/${artifact.id}/${Buffer.from(md5, 'base64').toString('hex')}`,
          uploadUrl,
          directUrl: uploadUrl,
          uploadHeaders,
          uploadMultipartUrls: null,
          artifact: { id: artifact.id },
        },
      };
    });
    return { createArtifactFiles: { files: { edges } } };
  };

  const commitArtifact: Resolver = (vars) => {
    const artifact = artifactOf(inputOf(vars).artifactID);
    const done = () => ({ commitArtifact: { artifact: artifactJson(artifact) } });
    if (artifact.state === 'COMMITTED') return done(); // a retry
    if (!artifact.manifest) {
      throw new GraphqlError(`CommitArtifact: artifact ${artifact.id} has no uploaded manifest`);
    }
    const entries = manifestEntries(artifact);
    for (const [path, entry] of Object.entries(entries)) {
      if (typeof entry.digest !== 'string') {
        throw new GraphqlError(`CommitArtifact: manifest entry ${path} has no digest`);
      }
      if (entry.ref !== undefined) continue;
      // A stored entry: uploaded for this version, or carried over from the version it was born in.
      const birth = artifactsById.get(str(entry.birthArtifactID) ?? '') ?? artifact;
      const stored = birth.files[path] ?? artifact.files[path];
      if (stored?.md5 !== entry.digest) {
        throw new GraphqlError(
          `CommitArtifact: manifest entry ${path} (md5 ${entry.digest}) was never uploaded`,
        );
      }
    }
    const algorithm = artifact.digestAlgorithm ?? 'MANIFEST_MD5';
    if (algorithm === 'MANIFEST_MD5') {
      const computed = wandbArtifactDigest(entries as Record<string, { digest: string }>);
      if (computed !== artifact.digest) {
        throw new GraphqlError(
          `CommitArtifact: digest ${artifact.digest} is not the manifest's (${computed})`,
        );
      }
    }
    const seq = sequenceOf(artifact);
    artifact.state = 'COMMITTED';
    artifact.versionIndex = seq.versions.filter(
      (a) => a !== artifact && a.state === 'COMMITTED',
    ).length;
    artifact.committedAt = Date.now();
    for (const alias of artifact.requestedAliases) moveAlias(artifact, alias);
    return done();
  };

  const useArtifact: Resolver = (vars) => {
    const input = inputOf(vars);
    const artifact = artifactOf(input.artifactID);
    const entity = str(input.entityName) || viewerEntity;
    const project = str(input.projectName) || 'uncategorized';
    const runName = str(input.runName) ?? '';
    if (!findRun(entity, project, runName)) {
      throw new GraphqlError(`UseArtifact: run ${entity}/${project}/${runName} not found`);
    }
    const use: WandbArtifactUse = {
      entity,
      project,
      run: runName,
      usedAs: str(input.usedAs) ?? null,
    };
    const seen = artifact.usedBy.some(
      (u) =>
        u.entity === entity &&
        u.project === project &&
        u.run === runName &&
        u.usedAs === use.usedAs,
    );
    if (!seen) artifact.usedBy.push(use);
    return { useArtifact: { artifact: artifactJson(artifact) } };
  };

  /** `project { artifact(name) { … } }`: ArtifactType and the older ArtifactByName. */
  const projectArtifact: Resolver = (vars) => {
    const { project, artifact } = artifactByName(vars);
    if (!project) return { project: null };
    return {
      project: {
        ...projectInfo(project.entity, project.name),
        artifact: artifact ? artifactJson(artifact) : null,
      },
    };
  };

  const artifactResolvers: Record<string, Resolver> = {
    ArtifactType: projectArtifact,
    ArtifactByName: projectArtifact,
    ArtifactMembershipByName: (vars) => {
      const { project, artifact } = artifactByName(vars);
      if (!project) return { project: null };
      return {
        project: {
          ...projectInfo(project.entity, project.name),
          artifactCollectionMembership: artifact ? membershipJson(artifact) : null,
        },
      };
    },
    ArtifactByID: (vars) => {
      const artifact = artifactsById.get(str(vars.id) ?? '');
      return { artifact: artifact ? artifactJson(artifact) : null };
    },
    CreateArtifact: createArtifact,
    CreateArtifactManifest: createArtifactManifest,
    UpdateArtifactManifest: updateArtifactManifest,
    CreateArtifactFiles: createArtifactFiles,
    CommitArtifact: commitArtifact,
    UseArtifact: useArtifact,
    ClientIDMapping: (vars) => {
      const clientId = str(vars.clientID);
      const artifact = artifacts.find((a) => clientId && a.clientId === clientId);
      const seq = [...sequences.values()].find((s) => clientId && s.clientId === clientId);
      const serverID = artifact?.id ?? seq?.id;
      return { clientIDMapping: serverID ? { serverID } : null };
    },
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
    ...artifactResolvers,
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
      if (upload?.kind === 'run') {
        const run = runs.get(upload.key);
        if (run) record.run = { entity: run.entity, project: run.project, run: run.id };
      } else if (upload) record.artifact = upload.artifactId;
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
      const run = upload?.kind === 'run' ? runs.get(upload.key) : undefined;
      const artifact =
        upload && upload.kind !== 'run' ? artifactsById.get(upload.artifactId) : undefined;
      if (!upload || (!run && !artifact)) {
        problem(`${method} ${pathname}: not an upload URL this server handed out`);
        return answer(403, 'SignatureDoesNotMatch');
      }
      /** Where the URL's file lives. */
      const stored = (): WandbStoredFile | undefined => {
        if (run) return run.files[upload.name];
        if (upload.kind === 'manifest') return artifact!.manifestFile;
        return artifact!.files[upload.name];
      };
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
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) {
          if (typeof v === 'string') headers[k] = v;
        }
        const file: WandbStoredFile = {
          sha256: createHash('sha256').update(raw).digest('hex'),
          size: raw.length,
          bytes: raw,
          uploads: (stored()?.uploads ?? 0) + 1,
          headers,
        };
        if (run) {
          run.files[upload.name] = file;
          return answer(200, '');
        }
        const a = artifact!;
        const what = `PUT ${upload.name} of artifact ${a.name} (${a.id})`;
        if (a.state !== 'PENDING') {
          problem(`${what}: the artifact is already ${a.state}`);
          return answer(403, 'artifact already committed');
        }
        // Like storage checking Content-MD5: the bytes must be the ones announced.
        const md5 = createHash('md5').update(raw).digest('base64');
        const expected =
          upload.kind === 'manifest'
            ? upload.digest
            : upload.kind === 'artifact-file'
              ? upload.md5
              : '';
        if (expected && md5 !== expected) {
          problem(`${what}: md5 ${md5}, announced ${expected}`);
          return answer(400, 'BadDigest');
        }
        if (upload.kind === 'artifact-file') {
          a.files[upload.name] = { ...file, md5 };
          return answer(200, '');
        }
        let manifest: unknown;
        try {
          manifest = JSON.parse(raw.toString('utf8'));
        } catch (err) {
          problem(`${what}: not JSON (${(err as Error).message})`);
          return answer(400, 'manifest is not JSON');
        }
        if (!isRecord(manifest) || !isRecord(manifest.contents)) {
          problem(`${what}: not a manifest (no \`contents\` object)`);
          return answer(400, 'not a manifest');
        }
        a.manifest = manifest;
        a.manifestFile = { ...file, md5 };
        return answer(200, '');
      }
      if (method === 'GET') {
        const file = stored();
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
    artifacts,
    unknownOperations,
    protocolErrors,
    run(id) {
      const run = runs.get(id);
      if (!run)
        throw new Error(`wandb server: no run ${id} (runs: ${[...runs.keys()].join(', ')})`);
      return run;
    },
    artifact(name, version) {
      const colon = name.lastIndexOf(':');
      const wanted = version ?? (colon >= 0 ? name.slice(colon + 1) : undefined);
      const path = (colon >= 0 ? name.slice(0, colon) : name).split('/');
      const [seqName, project, entity] = [path.pop(), path.pop(), path.pop()];
      const candidates = [...sequences.values()].filter(
        (s) =>
          s.name === seqName &&
          (project === undefined || s.project === project) &&
          (entity === undefined || s.entity === entity),
      );
      const found =
        candidates.length !== 1
          ? undefined
          : wanted === undefined
            ? candidates[0]!.versions.at(-1)
            : versionOf(candidates[0], wanted);
      if (!found) {
        const known = artifacts.map(
          (a) =>
            `${a.entity}/${a.project}/${a.name}:${a.versionIndex === null ? '(pending)' : `v${a.versionIndex}`} ${a.state}` +
            (a.aliases.length ? ` [${a.aliases.join(', ')}]` : ''),
        );
        const why = candidates.length > 1 ? 'ambiguous' : 'not found';
        throw new Error(
          `wandb server: artifact ${name}${version ? ` version ${version}` : ''} ${why} (artifacts: ${known.join('; ') || 'none'})`,
        );
      }
      return found;
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
      artifacts.length = 0;
      artifactsById.clear();
      sequences.clear();
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
