/**
 * The client side of the protocol (see README, "The protocol"): one method
 * per endpoint, one HTTP request per call, over undici. Retries are core's
 * business, not this file's: a failure is classified (template-error.ts) and
 * thrown.
 */
import type { Readable } from 'node:stream';
import type { KeyValue, RunStatus } from '@trackstack/core';
import { Agent, type Dispatcher, request } from 'undici';
import type { ResolvedTemplateConfig } from './template-config.js';
import { TemplateError } from './template-error.js';
import { VERSION } from './version.js';

const USER_AGENT = `trackstack-template/${VERSION}`;

/** JSON has no NaN or ±Infinity: the protocol sends them as these strings. */
export type WireNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export interface WireMetric {
  key: string;
  value: WireNumber;
  step: number;
  /** Epoch milliseconds. */
  timestamp: number;
}

export interface TemplateArtifact {
  path: string;
  size: number;
  sha256: string;
  content_type: string;
}

/** What `POST /runs` takes. */
export interface CreateRunBody {
  uid: string;
  experiment: string;
  name: string;
  tags: Record<string, string>;
  start_time: number;
  parent_id?: string | undefined;
}

/** What `POST /runs/{id}/batch` takes. */
export interface BatchBody {
  params: KeyValue[];
  tags: KeyValue[];
  metrics: WireMetric[];
}

/** A run as `GET /runs?...` lists it. */
export interface TemplateRunSummary {
  id: string;
  uid: string;
  experiment: string;
  name: string;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  parent_id: string | null;
}

/** A run as `GET /runs/{id}` gives it: metric points in the order they arrived. */
export interface TemplateRun extends TemplateRunSummary {
  tags: Record<string, string>;
  params: Record<string, string>;
  metrics: WireMetric[];
  artifacts: TemplateArtifact[];
}

export interface TemplateHealth {
  ok: boolean;
  protocol: number;
  server: string;
}

export function encodeNumber(value: number): WireNumber {
  if (Number.isFinite(value)) return value;
  return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
}

export function decodeNumber(value: WireNumber): number {
  return typeof value === 'number' ? value : Number(value);
}

/** An artifact path as URL path segments: each one percent-encoded, the slashes kept. */
function artifactUrlPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export class TemplateClient {
  readonly baseUrl: string;
  private readonly agent: Agent;
  private readonly authorization: string | undefined;

  constructor(config: ResolvedTemplateConfig) {
    this.baseUrl = config.baseUrl;
    const timeout = config.timeout_s * 1000;
    this.agent = new Agent({
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connectTimeout: Math.min(timeout, 30_000),
    });
    this.authorization = config.api_token === undefined ? undefined : `Bearer ${config.api_token}`;
  }

  /** `GET /health`: an authenticated no-op. */
  health(): Promise<TemplateHealth> {
    return this.json<TemplateHealth>('GET', '/health');
  }

  /** `POST /runs`: creates the run, or returns the one that already has this uid. */
  async createRun(body: CreateRunBody): Promise<TemplateRun> {
    return (await this.json<{ run: TemplateRun }>('POST', '/runs', body)).run;
  }

  /** `GET /runs/{id}`. */
  async getRun(id: string): Promise<TemplateRun> {
    return (await this.json<{ run: TemplateRun }>('GET', `/runs/${encodeURIComponent(id)}`)).run;
  }

  /** `GET /runs?uid=...&experiment=...`. */
  async findRuns(query: { uid?: string; experiment?: string }): Promise<TemplateRunSummary[]> {
    const search = new URLSearchParams(
      Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ).toString();
    return (await this.json<{ runs: TemplateRunSummary[] }>('GET', `/runs?${search}`)).runs;
  }

  /** `POST /runs/{id}/reopen`: RUNNING again, end time cleared. */
  async reopenRun(id: string): Promise<void> {
    await this.json('POST', `/runs/${encodeURIComponent(id)}/reopen`, {});
  }

  /** `POST /runs/{id}/batch`. */
  async writeBatch(id: string, batch: BatchBody): Promise<void> {
    await this.json('POST', `/runs/${encodeURIComponent(id)}/batch`, batch);
  }

  /** `PUT /runs/{id}/artifacts/{path}`: streams a file's bytes, with their sha256 to check. */
  async putArtifact(
    id: string,
    path: string,
    body: Readable,
    size: number,
    contentType: string,
    sha256: string,
  ): Promise<void> {
    await this.send('PUT', `/runs/${encodeURIComponent(id)}/artifacts/${artifactUrlPath(path)}`, {
      body,
      headers: {
        'content-type': contentType,
        'content-length': String(size),
        'x-content-sha256': sha256,
      },
    });
  }

  /** `GET /runs/{id}/artifacts/{path}`: the bytes. */
  getArtifact(id: string, path: string): Promise<Buffer> {
    return this.send('GET', `/runs/${encodeURIComponent(id)}/artifacts/${artifactUrlPath(path)}`);
  }

  /** `POST /runs/{id}/finish`. */
  async finishRun(id: string, status: RunStatus, endTime: number): Promise<void> {
    await this.json('POST', `/runs/${encodeURIComponent(id)}/finish`, {
      status,
      end_time: endTime,
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async json<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const bytes = await this.send(
      method,
      path,
      body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } },
    );
    if (bytes.length === 0) return {} as T;
    try {
      return JSON.parse(bytes.toString('utf8')) as T;
    } catch (error) {
      // A 2xx whose body does not parse was cut off on the way: ask again.
      throw TemplateError.fromNetwork(
        `${method} ${path.split('?')[0]} (a truncated answer)`,
        error,
      );
    }
  }

  private async send(
    method: Dispatcher.HttpMethod,
    path: string,
    init: { body?: string | Readable; headers?: Record<string, string> } = {},
  ): Promise<Buffer> {
    // Only the path goes into messages: never the Authorization header, never a query's values.
    const what = `${method} ${path.split('?')[0]}`;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(`${this.baseUrl}${path}`, {
        method,
        body: init.body,
        dispatcher: this.agent,
        headers: {
          'user-agent': USER_AGENT,
          accept: 'application/json',
          ...init.headers,
          ...(this.authorization === undefined ? {} : { authorization: this.authorization }),
        },
      });
    } catch (error) {
      throw TemplateError.fromNetwork(what, error);
    }
    let bytes: Buffer;
    try {
      bytes = Buffer.from(await response.body.arrayBuffer());
    } catch (error) {
      throw TemplateError.fromNetwork(`${what} (reading the answer)`, error);
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw TemplateError.fromResponse(what, {
        status: response.statusCode,
        body: bytes.toString('utf8'),
        headers: response.headers,
      });
    }
    return bytes;
  }
}
