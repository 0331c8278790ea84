/**
 * MLflow's tracking REST API (`/api/2.0/mlflow/...`) and its artifact proxy
 * (`/api/2.0/mlflow-artifacts/...`) over undici, plus the PUT of one multipart
 * part to the presigned URL MLflow handed out. One HTTP request per call;
 * retries are core's business (and mlflow-multipart.ts's, for parts).
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher, request } from 'undici';
import type { ResolvedMlflowConfig } from './mlflow-config.js';
import { MlflowError } from './mlflow-error.js';
import { VERSION } from './version.js';

const USER_AGENT = `trackstack-mlflow/${VERSION}`;

/** Who answers a presigned part URL: the object store, not MLflow. */
const OBJECT_STORE = { peer: 'the artifact store' };

interface MlflowRunInfo {
  run_id: string;
  experiment_id: string;
  run_name?: string;
  status: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage?: string;
}

export interface MlflowRun {
  info: MlflowRunInfo;
  data?: {
    params?: { key: string; value: string }[];
    tags?: { key: string; value: string }[];
    metrics?: { key: string; value: number | string; timestamp: number; step: number }[];
  };
}

export class MlflowRestClient {
  readonly baseUrl: string;
  private readonly agent: Agent;
  private readonly authorization: string | undefined;
  private readonly config: ResolvedMlflowConfig;
  private objectStoreAgent: Agent | undefined;

  constructor(config: ResolvedMlflowConfig) {
    this.baseUrl = config.baseUrl;
    this.config = config;
    this.agent = newAgent(config, 'tracking server');
    if (config.tracking_token !== undefined) {
      this.authorization = `Bearer ${config.tracking_token}`;
    } else if (config.tracking_username !== undefined && config.tracking_password !== undefined) {
      const basic = Buffer.from(`${config.tracking_username}:${config.tracking_password}`).toString(
        'base64',
      );
      this.authorization = `Basic ${basic}`;
    }
  }

  get<T>(endpoint: string, query: Record<string, string>): Promise<T> {
    const search = new URLSearchParams(query).toString();
    return this.json<T>('GET', `/api/2.0/mlflow/${endpoint}?${search}`);
  }

  post<T>(endpoint: string, body: unknown): Promise<T> {
    return this.json<T>('POST', `/api/2.0/mlflow/${endpoint}`, JSON.stringify(body));
  }

  /** A JSON POST to the artifact service: `mpu/create/<path>`, `mpu/complete/...`, `mpu/abort/...`. */
  postArtifacts<T>(endpoint: string, body: unknown): Promise<T> {
    return this.json<T>('POST', `/api/2.0/mlflow-artifacts/${endpoint}`, JSON.stringify(body));
  }

  /** Streams a file's bytes to the artifact proxy. */
  async putArtifact(
    path: string,
    body: Readable,
    size: number,
    contentType: string,
  ): Promise<void> {
    await this.send('PUT', `/api/2.0/mlflow-artifacts/artifacts/${path}`, body, {
      'content-type': contentType,
      'content-length': String(size),
    });
  }

  /**
   * Streams one part of a multipart upload to the presigned URL MLflow handed out and
   * returns the part's ETag. The URL goes to the object store, not to MLflow: no MLflow
   * credentials travel with it, and its query (the signature) never appears in a message.
   */
  async putPart(
    url: string,
    headers: Record<string, string>,
    body: Readable,
    size: number,
    what: string,
    signal?: AbortSignal,
  ): Promise<string> {
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method: 'PUT',
        body,
        signal,
        dispatcher: this.objectStore(),
        headers: { 'user-agent': USER_AGENT, ...headers, 'content-length': String(size) },
      });
    } catch (error) {
      throw MlflowError.fromNetwork(what, error, OBJECT_STORE);
    }
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw MlflowError.fromNetwork(`${what} (reading the answer)`, error, OBJECT_STORE);
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw MlflowError.fromResponse(
        what,
        { status: response.statusCode, body: objectStoreError(text), headers: response.headers },
        OBJECT_STORE,
      );
    }
    const etag = response.headers.etag;
    const value = Array.isArray(etag) ? etag[0] : etag;
    if (value === undefined || value === '') {
      throw MlflowError.fromResponse(
        `${what} (no ETag in the answer)`,
        { status: response.statusCode, body: text },
        OBJECT_STORE,
      );
    }
    return value;
  }

  async close(): Promise<void> {
    await Promise.all([this.agent.close(), this.objectStoreAgent?.close()]);
  }

  /**
   * The object store behind presigned URLs is another host: the same timeouts and TLS
   * switch, and a tracking-server CA is trusted in addition to the system's, not instead.
   */
  private objectStore(): Agent {
    this.objectStoreAgent ??= newAgent(this.config, 'object store');
    return this.objectStoreAgent;
  }

  private async json<T>(method: 'GET' | 'POST', path: string, body?: string): Promise<T> {
    const text = await this.send(
      method,
      path,
      body,
      body === undefined ? {} : { 'content-type': 'application/json' },
    );
    if (text === '') return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      // A 2xx whose body does not parse was cut off on the way: ask again.
      throw MlflowError.fromNetwork(`${method} ${path.split('?')[0]} (a truncated answer)`, error);
    }
  }

  private async send(
    method: Dispatcher.HttpMethod,
    path: string,
    body: string | Readable | undefined,
    headers: Record<string, string>,
  ): Promise<string> {
    // Only the path goes into messages: never the Authorization header, never a query's values.
    const what = `${method} ${path.split('?')[0]}`;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(`${this.baseUrl}${path}`, {
        method,
        body,
        dispatcher: this.agent,
        // One request per connection: undici's maxRequestsPerClient cannot say that (see newAgent).
        ...(this.config.requests_per_connection === 1 ? { reset: true } : {}),
        headers: {
          'user-agent': USER_AGENT,
          accept: 'application/json',
          ...headers,
          ...(this.authorization === undefined ? {} : { authorization: this.authorization }),
        },
      });
    } catch (error) {
      throw MlflowError.fromNetwork(what, error);
    }
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw MlflowError.fromNetwork(`${what} (reading the answer)`, error);
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw MlflowError.fromResponse(what, {
        status: response.statusCode,
        body: text,
        headers: response.headers,
      });
    }
    return text;
  }
}

/**
 * Only the code and message of an object store's error: S3's XML errors can echo the
 * signed request (SignatureDoesNotMatch), and a presigned URL is a credential.
 */
function objectStoreError(body: string): string {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
  if (code !== undefined) return message === undefined ? code : `${code}: ${message}`;
  return body.trimStart().startsWith('<') ? '' : body.slice(0, 200);
}

/**
 * An undici pool with the config's timeouts and TLS switch. For the tracking server a
 * configured CA replaces the system's (as `requests` does with MLflow's cert path); for the
 * object store behind presigned URLs, another host, it is trusted in addition to them.
 */
function newAgent(config: ResolvedMlflowConfig, peer: 'tracking server' | 'object store'): Agent {
  const timeout = config.request_timeout_s * 1000;
  const certPath = config.tracking_server_cert_path;
  const ca =
    certPath === undefined
      ? undefined
      : peer === 'tracking server'
        ? readFileSync(certPath)
        : [...rootCertificates, readFileSync(certPath, 'utf8')];
  return new Agent({
    headersTimeout: timeout,
    bodyTimeout: timeout,
    connectTimeout: Math.min(timeout, 30_000),
    // MLflow's server (uvicorn) drops idle connections after 5 s: let ours go first, so a
    // request never lands on a socket the server is closing.
    keepAliveTimeout: 2_000,
    keepAliveMaxTimeout: 2_000,
    // undici closes a connection after the request that finds maxRequestsPerClient already
    // served on it, i.e. after max + 1 requests (and 0 means no limit).
    ...(peer === 'tracking server' && config.requests_per_connection > 1
      ? { maxRequestsPerClient: config.requests_per_connection - 1 }
      : {}),
    connect: {
      rejectUnauthorized: !config.tracking_insecure_tls,
      ...(ca === undefined ? {} : { ca }),
    },
  });
}
