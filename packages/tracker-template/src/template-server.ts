/**
 * The reference server of the protocol (README, "The protocol"): a node:http
 * server that keeps runs in memory and, given a file, appends every change to
 * it as one JSON line and replays that file when it starts again. It is what
 * the flavor's tests run against, and a small tracking server of its own:
 *
 *   const server = await startTemplateServer({ port: 8080, file: 'runs.jsonl' });
 *
 * or, from a shell, `trackstack-template-server --port 8080 --file runs.jsonl`.
 *
 * Every change is validated before it is written to the file, and written
 * before it is applied and answered: an acknowledged change survives a
 * restart, and a refused one leaves nothing behind.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  CreateRunBody,
  TemplateArtifact,
  TemplateRun,
  TemplateRunSummary,
  WireMetric,
} from './template-client.js';
import { VERSION } from './version.js';

/** The protocol version `GET /health` reports. */
export const TEMPLATE_PROTOCOL_VERSION = 1;

/** At most this many params, tags and metric points together in one batch. */
export const MAX_BATCH_ENTITIES = 10_000;

export interface TemplateServerOptions {
  /** Default 127.0.0.1: only this machine. */
  host?: string;
  /** Default 0: a free port (read it from `url`). */
  port?: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** A JSON lines file: replayed at start, appended to on every change. */
  file?: string;
  /** The largest request body accepted, in bytes (JSON and artifacts). Default 16 MiB. */
  maxBodyBytes?: number;
}

const FINAL_STATUSES = new Set(['FINISHED', 'FAILED', 'KILLED']);
const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);

interface StoredRun {
  summary: TemplateRunSummary;
  tags: Map<string, string>;
  params: Map<string, string>;
  metrics: WireMetric[];
  /** key, step, timestamp and value of every stored point: a replayed batch adds nothing. */
  points: Set<string>;
  artifacts: Map<string, { meta: TemplateArtifact; data: Buffer }>;
}

/** One line of the file: a change, as it was accepted. */
type ServerEvent =
  | { e: 'create'; run: TemplateRunSummary; tags: Record<string, string> }
  | {
      e: 'batch';
      id: string;
      params: [string, string][];
      tags: [string, string][];
      metrics: WireMetric[];
    }
  | { e: 'artifact'; id: string; artifact: TemplateArtifact; data: string }
  | { e: 'finish'; id: string; status: string; end_time: number }
  | { e: 'reopen'; id: string };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class TemplateServer {
  private readonly options: TemplateServerOptions;
  private readonly runs = new Map<string, StoredRun>();
  private readonly byUid = new Map<string, string>();
  private server: Server | undefined;
  private fd: number | undefined;
  private address: string | undefined;

  constructor(options: TemplateServerOptions = {}) {
    this.options = options;
  }

  /** The server's URL, once started (`http://127.0.0.1:<port>`). */
  get url(): string {
    if (this.address === undefined) throw new Error('the server is not started');
    return this.address;
  }

  /** Replays the file (if any), then listens. Resolves with the URL. */
  async start(): Promise<string> {
    const { file } = this.options;
    if (file !== undefined) {
      if (existsSync(file)) this.replay(file);
      this.fd = openSync(file, 'a', 0o600);
    }
    const server = createServer((req, res) => void this.handle(req, res));
    // Longer than clients keep idle sockets (undici: 4 s), so a reused socket is not cut under them.
    server.keepAliveTimeout = 65_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', resolve);
    });
    const { address, port } = server.address() as AddressInfo;
    this.address = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
    return this.address;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Every run, oldest first. */
  listRuns(): TemplateRunSummary[] {
    return [...this.runs.values()].map((run) => ({ ...run.summary }));
  }

  getRun(id: string): TemplateRun | undefined {
    const run = this.runs.get(id);
    return run === undefined ? undefined : document(run);
  }

  findByUid(uid: string): TemplateRun | undefined {
    const id = this.byUid.get(uid);
    return id === undefined ? undefined : this.getRun(id);
  }

  getArtifact(id: string, path: string): Uint8Array | undefined {
    return this.runs.get(id)?.artifacts.get(path)?.data;
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = await readBody(req, this.options.maxBodyBytes ?? 16 * 1024 * 1024);
      if (!this.authorized(req)) {
        res.setHeader('www-authenticate', 'Bearer');
        throw new HttpError(401, 'UNAUTHORIZED', 'a valid bearer token is required');
      }
      const raw = req.url ?? '/';
      const queryAt = raw.indexOf('?');
      const path = queryAt === -1 ? raw : raw.slice(0, queryAt);
      const query = new URLSearchParams(queryAt === -1 ? '' : raw.slice(queryAt + 1));
      const answer = this.route(req.method ?? 'GET', path, query, body, req);
      if (Buffer.isBuffer(answer.body)) {
        res.writeHead(answer.status, {
          'content-type': answer.contentType ?? 'application/octet-stream',
          'content-length': answer.body.length,
        });
        res.end(answer.body);
      } else {
        sendJson(res, answer.status, answer.body);
      }
    } catch (error) {
      if (error instanceof HttpError) {
        sendJson(res, error.status, { error: { code: error.code, message: error.message } });
      } else {
        sendJson(res, 500, { error: { code: 'INTERNAL', message: (error as Error).message } });
      }
    }
  }

  private authorized(req: IncomingMessage): boolean {
    const { token } = this.options;
    if (token === undefined) return true;
    const given = req.headers.authorization ?? '';
    // Compare digests, so the time taken says nothing about the token.
    const digest = (text: string) => createHash('sha256').update(text).digest();
    return timingSafeEqual(digest(given), digest(`Bearer ${token}`));
  }

  private route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Buffer,
    req: IncomingMessage,
  ): { status: number; body: unknown; contentType?: string } {
    if (path === '/health' && method === 'GET') {
      return {
        status: 200,
        body: {
          ok: true,
          protocol: TEMPLATE_PROTOCOL_VERSION,
          server: `trackstack-template-server/${VERSION}`,
        },
      };
    }
    if (path === '/runs' && method === 'POST') return this.createRun(parseJson(body));
    if (path === '/runs' && method === 'GET') {
      const uid = query.get('uid');
      const experiment = query.get('experiment');
      const runs = this.listRuns().filter(
        (run) =>
          (uid === null || run.uid === uid) &&
          (experiment === null || run.experiment === experiment),
      );
      return { status: 200, body: { runs } };
    }
    const match = /^\/runs\/([^/]+)(?:\/(batch|finish|reopen|artifacts\/(.+)))?$/.exec(path);
    if (match === null) throw new HttpError(404, 'NOT_FOUND', `no route ${method} ${path}`);
    const id = decodeSegment(match[1]!);
    const run = this.runs.get(id);
    if (run === undefined) throw new HttpError(404, 'RUN_NOT_FOUND', `no run with id ${id}`);
    const action = match[2];
    if (action === undefined && method === 'GET')
      return { status: 200, body: { run: document(run) } };
    if (action === 'batch' && method === 'POST') return this.writeBatch(run, parseJson(body));
    if (action === 'finish' && method === 'POST') return this.finishRun(run, parseJson(body));
    if (action === 'reopen' && method === 'POST') {
      this.commit({ e: 'reopen', id });
      return { status: 200, body: {} };
    }
    if (match[3] !== undefined) {
      const artifactPath = decodeArtifactPath(match[3]);
      if (method === 'PUT') return this.putArtifact(run, artifactPath, body, req);
      if (method === 'GET') {
        const stored = run.artifacts.get(artifactPath);
        if (stored === undefined) {
          throw new HttpError(
            404,
            'ARTIFACT_NOT_FOUND',
            `run ${id} has no artifact ${artifactPath}`,
          );
        }
        return { status: 200, body: stored.data, contentType: stored.meta.content_type };
      }
    }
    throw new HttpError(404, 'NOT_FOUND', `no route ${method} ${path}`);
  }

  private createRun(input: unknown): { status: number; body: unknown } {
    const body = checkCreateRun(input);
    const existing = this.byUid.get(body.uid);
    // Idempotent by uid: a client that lost the answer asks again and gets the same run.
    if (existing !== undefined) return { status: 200, body: { run: this.getRun(existing) } };
    if (body.parent_id !== undefined && !this.runs.has(body.parent_id)) {
      throw new HttpError(404, 'RUN_NOT_FOUND', `no parent run with id ${body.parent_id}`);
    }
    const id = String(this.runs.size + 1);
    this.commit({
      e: 'create',
      run: {
        id,
        uid: body.uid,
        experiment: body.experiment,
        name: body.name,
        status: 'RUNNING',
        start_time: body.start_time,
        end_time: null,
        parent_id: body.parent_id ?? null,
      },
      tags: body.tags,
    });
    return { status: 201, body: { run: this.getRun(id) } };
  }

  private writeBatch(run: StoredRun, input: unknown): { status: number; body: unknown } {
    const batch = checkBatch(input);
    // Params are write-once: the whole batch is refused if one would change.
    const seen = new Map(run.params);
    for (const [key, value] of batch.params) {
      const previous = seen.get(key);
      if (previous !== undefined && previous !== value) {
        throw new HttpError(
          409,
          'PARAM_CONFLICT',
          `param ${JSON.stringify(key)} is already ${JSON.stringify(previous)}`,
        );
      }
      seen.set(key, value);
    }
    this.commit({ e: 'batch', id: run.summary.id, ...batch });
    return { status: 200, body: {} };
  }

  private finishRun(run: StoredRun, input: unknown): { status: number; body: unknown } {
    const body = asObject(input);
    if (typeof body.status !== 'string' || !FINAL_STATUSES.has(body.status)) {
      throw badRequest('status must be FINISHED, FAILED or KILLED');
    }
    if (!isTime(body.end_time)) throw badRequest('end_time must be epoch milliseconds');
    this.commit({ e: 'finish', id: run.summary.id, status: body.status, end_time: body.end_time });
    return { status: 200, body: {} };
  }

  private putArtifact(
    run: StoredRun,
    path: string,
    data: Buffer,
    req: IncomingMessage,
  ): { status: number; body: unknown } {
    const sha256 = createHash('sha256').update(data).digest('hex');
    const expected = req.headers['x-content-sha256'];
    if (typeof expected === 'string' && expected.toLowerCase() !== sha256) {
      throw new HttpError(
        400,
        'CHECKSUM_MISMATCH',
        `${path}: the bytes do not have sha256 ${expected}`,
      );
    }
    const contentType = req.headers['content-type'] ?? 'application/octet-stream';
    this.commit({
      e: 'artifact',
      id: run.summary.id,
      artifact: { path, size: data.length, sha256, content_type: contentType },
      data: data.toString('base64'),
    });
    return { status: 200, body: {} };
  }

  // ---- State: every change goes through commit, and replay applies the same events ------------

  private commit(event: ServerEvent): void {
    if (this.fd !== undefined) writeSync(this.fd, `${JSON.stringify(event)}\n`);
    this.apply(event);
  }

  private replay(file: string): void {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (line.trim() === '') return;
      let event: ServerEvent;
      try {
        event = JSON.parse(line) as ServerEvent;
      } catch (error) {
        // The last line may be torn (the server died mid-write); anything else is damage.
        if (index === lines.length - 1) return;
        throw new Error(`${file}:${index + 1}: not a JSON line (${(error as Error).message})`);
      }
      this.apply(event);
    });
  }

  private apply(event: ServerEvent): void {
    if (event.e === 'create') {
      this.runs.set(event.run.id, {
        summary: { ...event.run },
        tags: new Map(Object.entries(event.tags)),
        params: new Map(),
        metrics: [],
        points: new Set(),
        artifacts: new Map(),
      });
      this.byUid.set(event.run.uid, event.run.id);
      return;
    }
    const run = this.runs.get(event.id);
    if (run === undefined) return;
    switch (event.e) {
      case 'batch':
        for (const [key, value] of event.params) run.params.set(key, value);
        for (const [key, value] of event.tags) run.tags.set(key, value);
        for (const point of event.metrics) {
          const identity = `${point.key}\u0000${point.step}\u0000${point.timestamp}\u0000${point.value}`;
          if (run.points.has(identity)) continue;
          run.points.add(identity);
          run.metrics.push(point);
        }
        return;
      case 'artifact':
        run.artifacts.set(event.artifact.path, {
          meta: event.artifact,
          data: Buffer.from(event.data, 'base64'),
        });
        return;
      case 'finish':
        run.summary.status = event.status as TemplateRunSummary['status'];
        run.summary.end_time = event.end_time;
        return;
      case 'reopen':
        run.summary.status = 'RUNNING';
        run.summary.end_time = null;
        return;
    }
  }
}

/** Starts a server: `const server = await startTemplateServer({ port: 8080 })`. */
export async function startTemplateServer(
  options: TemplateServerOptions = {},
): Promise<TemplateServer> {
  const server = new TemplateServer(options);
  await server.start();
  return server;
}

function document(run: StoredRun): TemplateRun {
  return {
    ...run.summary,
    tags: Object.fromEntries(run.tags),
    params: Object.fromEntries(run.params),
    metrics: [...run.metrics],
    artifacts: [...run.artifacts.values()]
      .map((a) => a.meta)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
}

/** Reads the whole body; one past the limit is drained (so the client reads the answer) and refused. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  if (size > limit) throw new HttpError(413, 'TOO_LARGE', `the body is over ${limit} bytes`);
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function badRequest(message: string): HttpError {
  return new HttpError(400, 'BAD_REQUEST', message);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('the body is not JSON');
  }
}

function asObject(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

function checkCreateRun(input: unknown): CreateRunBody {
  const body = asObject(input);
  for (const field of ['uid', 'experiment', 'name'] as const) {
    if (typeof body[field] !== 'string' || body[field] === '') {
      throw badRequest(`${field} must be a non-empty string`);
    }
  }
  if (!isStringRecord(body.tags)) throw badRequest('tags must be an object of strings');
  if (!isTime(body.start_time)) throw badRequest('start_time must be epoch milliseconds');
  if (
    body.parent_id !== undefined &&
    body.parent_id !== null &&
    typeof body.parent_id !== 'string'
  ) {
    throw badRequest('parent_id must be a string');
  }
  return {
    uid: body.uid as string,
    experiment: body.experiment as string,
    name: body.name as string,
    tags: body.tags,
    start_time: body.start_time,
    parent_id: typeof body.parent_id === 'string' ? body.parent_id : undefined,
  };
}

function checkBatch(input: unknown): Omit<Extract<ServerEvent, { e: 'batch' }>, 'e' | 'id'> {
  const body = asObject(input);
  const pairs = (field: 'params' | 'tags'): [string, string][] => {
    const list = body[field] ?? [];
    if (!Array.isArray(list)) throw badRequest(`${field} must be an array`);
    return list.map((item: unknown, index) => {
      const entry = item as { key?: unknown; value?: unknown } | null;
      if (typeof entry?.key !== 'string' || entry.key === '' || typeof entry.value !== 'string') {
        throw badRequest(`${field}[${index}] must be {"key": string, "value": string}`);
      }
      return [entry.key, entry.value];
    });
  };
  const params = pairs('params');
  const tags = pairs('tags');
  const list = body.metrics ?? [];
  if (!Array.isArray(list)) throw badRequest('metrics must be an array');
  const metrics = list.map((item: unknown, index): WireMetric => {
    const point = item as Partial<WireMetric> | null;
    const value = point?.value;
    const valueOk =
      (typeof value === 'number' && Number.isFinite(value)) ||
      (typeof value === 'string' && NON_FINITE.has(value));
    if (
      typeof point?.key !== 'string' ||
      point.key === '' ||
      !valueOk ||
      !isTime(point.step) ||
      !isTime(point.timestamp)
    ) {
      throw badRequest(
        `metrics[${index}] must be {"key": string, "value": number | "NaN" | "Infinity" | "-Infinity", "step": integer >= 0, "timestamp": epoch ms}`,
      );
    }
    return {
      key: point.key,
      value: value as WireMetric['value'],
      step: point.step,
      timestamp: point.timestamp,
    };
  });
  if (params.length + tags.length + metrics.length > MAX_BATCH_ENTITIES) {
    throw new HttpError(
      413,
      'TOO_LARGE',
      `a batch holds at most ${MAX_BATCH_ENTITIES} params, tags and points together`,
    );
  }
  return { params, tags, metrics };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`${segment} is not a valid percent-encoded path segment`);
  }
}

/** `a/b%20c.txt` -> `a/b c.txt`; refuses absolute paths and `.`, `..` or empty segments. */
function decodeArtifactPath(raw: string): string {
  const segments = raw.split('/').map(decodeSegment);
  if (
    segments.some(
      (s) => s === '' || s === '.' || s === '..' || s.includes('/') || s.includes('\u0000'),
    )
  ) {
    throw badRequest('an artifact path is relative, with no empty, "." or ".." segment');
  }
  return segments.join('/');
}
