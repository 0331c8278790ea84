/**
 * A loopback HTTP backend for engine tests, and the flavor that talks to it.
 * The server keeps runs as MLflow's SQL store does where it matters (create by
 * uid is found again, exact duplicate points are stored once, params cannot
 * change) and fails on purpose: 429 with Retry-After, 503, connections reset
 * before or after the request was applied, and stalls past the client timeout.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { BaseExperimentTracker } from '../contract/base-tracker.js';
import { BackendError } from '../contract/errors.js';
import { defineFlavor } from '../contract/flavor.js';
import { DEFAULT_LIMITS, type FlavorLimits } from '../contract/limits.js';
import type {
  ArtifactUpload,
  FinalRunStatus,
  MetricPoint,
  RunInit,
  RunRef,
} from '../contract/types.js';
import type { WriteBatch } from '../contract/write-batch.js';
import { defineBackendError } from '../flavor/backend-error-class.js';

const HttpJsonError = defineBackendError({ name: 'HttpJsonError', peer: 'the test server' });

export type Fault = '429' | '503' | 'reset-before' | 'reset-after' | 'stall';

interface ServerRun {
  id: string;
  uid: string;
  status: string;
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: MetricPoint[];
  identities: Set<string>;
  artifacts: Map<string, string>;
}

export class FaultyServer {
  readonly runs = new Map<string, ServerRun>();
  /** Faults to apply to the next requests, in order (matched by path substring). */
  readonly faults: { match: string; fault: Fault }[] = [];
  /** Chance (0..1) that any request to a path with `match` fails with a random fault. */
  randomFaults: { match: string; rate: number; seed: number } | undefined;
  requests = 0;
  faultsInjected = 0;
  readonly faultCounts: Partial<Record<Fault, number>> = {};
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  byUid(uid: string): ServerRun | undefined {
    for (const run of this.runs.values()) if (run.uid === uid) return run;
    return undefined;
  }

  private nextFault(path: string): Fault | undefined {
    const index = this.faults.findIndex((f) => path.includes(f.match));
    if (index !== -1) return this.faults.splice(index, 1)[0]!.fault;
    const random = this.randomFaults;
    if (random !== undefined && path.includes(random.match)) {
      // xorshift: the same seed gives the same sequence of faults.
      let x = random.seed;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      random.seed = x >>> 0;
      const draw = random.seed / 2 ** 32;
      if (draw < random.rate) {
        const kinds: Fault[] = ['429', '503', 'reset-before', 'reset-after', 'stall'];
        return kinds[Math.floor((draw / random.rate) * kinds.length)]!;
      }
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests += 1;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const path = req.url ?? '/';
    const fault = this.nextFault(path);
    if (fault !== undefined) {
      this.faultsInjected += 1;
      this.faultCounts[fault] = (this.faultCounts[fault] ?? 0) + 1;
    }
    if (fault === 'reset-before') return void req.socket.destroy();
    if (fault === '429')
      return this.send(res, 429, { error: 'slow down' }, { 'retry-after': '0.05' });
    if (fault === '503') return this.send(res, 503, { error: 'unavailable' });
    if (fault === 'stall') return; // never answers: the client's timeout must fire
    let status = 200;
    let answer: unknown = {};
    try {
      answer = this.apply(req.method ?? 'GET', path, body);
    } catch (error) {
      status = (error as { status?: number }).status ?? 500;
      answer = { error: (error as Error).message };
    }
    if (fault === 'reset-after') return void req.socket.destroy();
    this.send(res, status, answer);
  }

  private apply(method: string, path: string, body: Buffer): unknown {
    const json = () => JSON.parse(body.toString('utf8'));
    if (method === 'POST' && path === '/runs') {
      const init = json() as RunInit;
      const existing = this.byUid(init.uid);
      if (existing !== undefined) return { id: existing.id };
      const run: ServerRun = {
        id: `r${this.runs.size + 1}`,
        uid: init.uid,
        status: 'RUNNING',
        params: new Map(),
        tags: new Map(Object.entries(init.tags)),
        metrics: [],
        identities: new Set(),
        artifacts: new Map(),
      };
      this.runs.set(run.id, run);
      return { id: run.id };
    }
    const match = /^\/runs\/([^/]+)(\/.*)?$/.exec(path);
    const run = match ? this.runs.get(match[1]!) : undefined;
    if (run === undefined) throw Object.assign(new Error('no such run'), { status: 404 });
    const rest = match![2] ?? '';
    if (method === 'GET' && rest === '') return { id: run.id };
    if (method === 'POST' && rest === '/batch') {
      const batch = json() as {
        params: [string, string][];
        tags: [string, string][];
        metrics: [string, number | string, number, number][];
      };
      for (const [key, value] of batch.params) {
        const previous = run.params.get(key);
        if (previous !== undefined && previous !== value) {
          throw Object.assign(new Error(`param ${key} cannot change`), { status: 400 });
        }
      }
      for (const [key, value] of batch.params) run.params.set(key, value);
      for (const [key, value] of batch.tags) run.tags.set(key, value);
      for (const [key, raw, step, timestamp] of batch.metrics) {
        const value = typeof raw === 'string' ? Number(raw) : raw;
        const identity = `${key}\u0000${step}\u0000${timestamp}\u0000${raw}`;
        if (run.identities.has(identity)) continue;
        run.identities.add(identity);
        run.metrics.push({ key, value, step, timestamp });
      }
      return {};
    }
    if (method === 'PUT' && rest.startsWith('/artifacts/')) {
      run.artifacts.set(
        decodeURIComponent(rest.slice('/artifacts/'.length)),
        createHash('sha256').update(body).digest('hex'),
      );
      return {};
    }
    if (method === 'POST' && rest === '/finish') {
      run.status = (json() as { status: string }).status;
      return {};
    }
    throw Object.assign(new Error(`no route ${method} ${path}`), { status: 404 });
  }

  private send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }
}

export const httpJsonConfigSchema = z.object({
  url: z.url(),
  timeout_ms: z.number().int().positive().default(2000),
  max_metrics_per_batch: z.number().int().positive().default(1000),
});

/** A flavor that speaks FaultyServer's API with fetch. */
export class HttpJsonTracker extends BaseExperimentTracker<z.output<typeof httpJsonConfigSchema>> {
  static readonly FLAVOR = defineFlavor({ name: 'http-json', configSchema: httpJsonConfigSchema });

  override get limits(): FlavorLimits {
    const maxMetrics = this.config.max_metrics_per_batch;
    return { ...DEFAULT_LIMITS, request: { ...DEFAULT_LIMITS.request, maxMetrics } };
  }

  async createRun(init: RunInit): Promise<RunRef> {
    const { id } = (await this.request('POST', '/runs', JSON.stringify(init))) as { id: string };
    return { runId: id, url: `${this.config.url}/runs/${id}` };
  }

  override async resumeRun(ref: RunRef): Promise<RunRef> {
    await this.request('GET', `/runs/${ref.runId}`);
    return ref;
  }

  async writeBatch(ref: RunRef, batch: WriteBatch): Promise<void> {
    const body = {
      params: batch.params.map((p) => [p.key, p.value]),
      tags: batch.tags.map((t) => [t.key, t.value]),
      // JSON has no NaN or Infinity: send them as strings, as MLflow's protobuf JSON does.
      metrics: batch.metrics.map((m) => [
        m.key,
        Number.isFinite(m.value) ? m.value : String(m.value),
        m.step,
        m.timestamp,
      ]),
    };
    await this.request('POST', `/runs/${ref.runId}/batch`, JSON.stringify(body));
  }

  async uploadArtifact(ref: RunRef, artifact: ArtifactUpload): Promise<void> {
    await this.request(
      'PUT',
      `/runs/${ref.runId}/artifacts/${encodeURIComponent(artifact.path)}`,
      await readFile(artifact.localPath),
    );
  }

  async finishRun(ref: RunRef, status: FinalRunStatus, endTime: number): Promise<void> {
    await this.request('POST', `/runs/${ref.runId}/finish`, JSON.stringify({ status, endTime }));
  }

  async validateConnection(): Promise<void> {
    await this.request('GET', '/health').catch((error) => {
      if (BackendError.isInstance(error) && error.statusCode === 404) return;
      throw error;
    });
  }

  private async request(method: string, path: string, body?: string | Buffer): Promise<unknown> {
    const what = `${method} ${path}`;
    let response: Response;
    try {
      response = await fetch(`${this.config.url}${path}`, {
        method,
        body,
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(this.config.timeout_ms),
      });
    } catch (error) {
      // fetch failed before any answer: refused, reset, timed out. All retryable.
      throw HttpJsonError.fromNetwork(what, (error as { cause?: unknown }).cause ?? error);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw HttpJsonError.fromNetwork(`${what} (response cut off)`, error);
    }
    if (!response.ok) {
      const headers = Object.fromEntries(response.headers);
      throw HttpJsonError.fromResponse(what, { status: response.status, body: text, headers });
    }
    return text === '' ? {} : JSON.parse(text);
  }
}
