/**
 * The MLflow flavor's config, as ZenML's MLflow tracker takes it. Fields the
 * config leaves out fall back to MLflow's own environment variables, as the
 * Python client does.
 */
import { existsSync } from 'node:fs';
import { secret, TrackstackError } from '@trackstack/core';
import { isLoopbackHost, parseEndpoint } from '@trackstack/core/flavor';
import { z } from 'zod';

/**
 * A uvicorn worker that is idle when connections arrive accepts all of them, so a client's
 * kept-alive connections, opened together, can all end up on one worker of a 4-worker
 * `mlflow server`, and two requests in flight wait for each other on it while another worker
 * idles. A new connection is accepted by a worker waiting in `accept`: an idle one. On
 * loopback a connection costs ~0.5 ms against ~75 ms a log-batch (docs/performance.md, the
 * sweep that chose these two).
 */
const REQUESTS_PER_CONNECTION = 1;
/** Two log-batch requests keep a 2-core server busy; more only queue in it (the same sweep). */
export const MAX_REQUESTS_IN_FLIGHT = 2;

export const mlflowConfigSchema = z
  .object({
    tracking_uri: z
      .string()
      .optional()
      .describe(
        'http(s) URL of the MLflow tracking server, or "databricks"; default MLFLOW_TRACKING_URI',
      ),
    tracking_username: z
      .string()
      .optional()
      .describe('basic auth user; default MLFLOW_TRACKING_USERNAME'),
    tracking_password: secret(z.string())
      .optional()
      .describe('basic auth password; default MLFLOW_TRACKING_PASSWORD'),
    tracking_token: secret(z.string())
      .optional()
      .describe('bearer token; default MLFLOW_TRACKING_TOKEN'),
    tracking_insecure_tls: z
      .boolean()
      .optional()
      .describe(
        'skip TLS certificate verification (by name only); default MLFLOW_TRACKING_INSECURE_TLS',
      ),
    tracking_server_cert_path: z
      .string()
      .optional()
      .describe(
        'CA certificate (PEM) to verify the server with; default MLFLOW_TRACKING_SERVER_CERT_PATH',
      ),
    databricks_host: z
      .string()
      .optional()
      .describe('Databricks workspace URL, with tracking_uri "databricks"'),
    experiment_name: z
      .string()
      .optional()
      .describe("experiment for runs that name none; step runs default to the pipeline's name"),
    nested: z
      .boolean()
      .default(false)
      .describe('one child run per pipeline step under the pipeline run'),
    tags: z.record(z.string(), z.string()).default({}).describe('tags added to every run'),
    request_timeout_s: z.number().positive().default(120).describe('timeout of one HTTP request'),
    requests_per_connection: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        'requests one connection to the tracking server carries before it is closed and another opened, so that a multi-worker server (or a load balancer) spreads them over its processes; raise it over TLS or a long round trip; 0: no limit; default 1',
      ),
    max_requests_in_flight: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'log-batch requests in flight at once to the tracking server (raise it for a server with more cores or workers); default 2',
      ),
    multipart_upload: z
      .boolean()
      .optional()
      .describe(
        'upload large files in parts straight to the object store when the server offers it (an S3, GCS or Azure artifact destination), else one PUT; default MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD, else true',
      ),
    multipart_upload_min_size: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'files of at least this many bytes go multipart; default MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE, else 500 MiB',
      ),
    multipart_upload_chunk_size: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'bytes per part (S3 wants 5 MiB or more, except the last; grown when a file would need over 10,000 parts); default MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE, else 10 MiB',
      ),
    multipart_upload_concurrency: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('parts of one file in flight at once; default 4'),
  })
  .strict();

export type MlflowConfig = z.output<typeof mlflowConfigSchema>;

/** The config with MLflow's environment variables applied and the auth rules checked. */
export interface ResolvedMlflowConfig extends MlflowConfig {
  tracking_uri: string;
  tracking_insecure_tls: boolean;
  /** http(s) base URL requests go to (the Databricks host for "databricks"). */
  baseUrl: string;
  multipart_upload: boolean;
  multipart_upload_min_size: number;
  multipart_upload_chunk_size: number;
  multipart_upload_concurrency: number;
  requests_per_connection: number;
  max_requests_in_flight: number;
}

/** MLflow's defaults (`mlflow/environment_variables.py`). */
const MULTIPART_UPLOAD_MIN_SIZE = 500 * 1024 ** 2;
const MULTIPART_UPLOAD_CHUNK_SIZE = 10 * 1024 ** 2;
const MULTIPART_UPLOAD_CONCURRENCY = 4;

export function resolveMlflowConfig(
  config: MlflowConfig,
  env: Record<string, string | undefined> = process.env,
): ResolvedMlflowConfig {
  const trackingUri = config.tracking_uri ?? env.MLFLOW_TRACKING_URI;
  if (trackingUri === undefined || trackingUri === '') {
    throw invalid('tracking_uri is required (or set MLFLOW_TRACKING_URI)');
  }
  const username = config.tracking_username ?? env.MLFLOW_TRACKING_USERNAME;
  const password = config.tracking_password ?? env.MLFLOW_TRACKING_PASSWORD;
  const token = config.tracking_token ?? env.MLFLOW_TRACKING_TOKEN;
  const insecure =
    config.tracking_insecure_tls ??
    ['true', '1'].includes((env.MLFLOW_TRACKING_INSECURE_TLS ?? '').toLowerCase());
  const certPath = config.tracking_server_cert_path ?? env.MLFLOW_TRACKING_SERVER_CERT_PATH;

  let baseUrl: string;
  if (trackingUri === 'databricks' || trackingUri.startsWith('databricks://')) {
    const host = config.databricks_host ?? env.DATABRICKS_HOST;
    if (host === undefined)
      throw invalid('tracking_uri "databricks" needs databricks_host (or DATABRICKS_HOST)');
    baseUrl = host;
  } else {
    if (config.databricks_host !== undefined) {
      throw invalid('databricks_host is only used with tracking_uri "databricks"');
    }
    baseUrl = trackingUri;
  }
  const url = parseEndpoint(baseUrl, {
    field: 'tracking_uri',
    credentialsField: 'tracking_username/tracking_password',
  });
  if (typeof url === 'string') {
    throw invalid(
      url.startsWith('tracking_uri')
        ? 'tracking_uri must be an http(s) URL or "databricks" (file stores are not supported)'
        : url,
    );
  }
  if (username !== undefined && password === undefined)
    throw invalid('tracking_username needs tracking_password');
  if (password !== undefined && username === undefined)
    throw invalid('tracking_password needs tracking_username');
  const methods = (username !== undefined ? 1 : 0) + (token !== undefined ? 1 : 0);
  if (methods > 1)
    throw invalid('give either tracking_username + tracking_password or tracking_token, not both');
  // ZenML requires credentials for any remote server; a server on this machine may run without.
  if (methods === 0 && !isLoopbackHost(url.hostname)) {
    throw invalid(
      'a remote MLflow server needs credentials: tracking_username + tracking_password, or tracking_token',
    );
  }
  if (certPath !== undefined && !existsSync(certPath)) {
    throw invalid(`tracking_server_cert_path: no file at ${certPath}`);
  }
  return {
    ...config,
    // MLflow's own client leaves multipart off by default; ours asks the server and falls
    // back to one PUT when its artifact store cannot, so on is safe.
    multipart_upload:
      config.multipart_upload ?? envBoolean(env, 'MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD') ?? true,
    multipart_upload_min_size:
      config.multipart_upload_min_size ??
      envBytes(env, 'MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE') ??
      MULTIPART_UPLOAD_MIN_SIZE,
    multipart_upload_chunk_size:
      config.multipart_upload_chunk_size ??
      envBytes(env, 'MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE') ??
      MULTIPART_UPLOAD_CHUNK_SIZE,
    multipart_upload_concurrency:
      config.multipart_upload_concurrency ?? MULTIPART_UPLOAD_CONCURRENCY,
    requests_per_connection: config.requests_per_connection ?? REQUESTS_PER_CONNECTION,
    max_requests_in_flight: config.max_requests_in_flight ?? MAX_REQUESTS_IN_FLIGHT,
    tracking_uri: trackingUri,
    tracking_username: username,
    tracking_password: password,
    tracking_token: token,
    tracking_insecure_tls: insecure,
    tracking_server_cert_path: certPath,
    baseUrl: baseUrl.replace(/\/+$/, ''),
  };
}

/** A boolean as MLflow reads one: true/false/1/0, any case; unset or empty is undefined. */
function envBoolean(env: Record<string, string | undefined>, name: string): boolean | undefined {
  const value = (env[name] ?? '').trim().toLowerCase();
  if (value === '') return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw invalid(`${name} must be true, false, 1 or 0 (got ${JSON.stringify(env[name])})`);
}

/** A positive whole number of bytes; unset or empty is undefined. */
function envBytes(env: Record<string, string | undefined>, name: string): number | undefined {
  const value = (env[name] ?? '').trim();
  if (value === '') return undefined;
  const bytes = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(bytes) || bytes <= 0) {
    throw invalid(
      `${name} must be a positive whole number of bytes (got ${JSON.stringify(value)})`,
    );
  }
  return bytes;
}

function invalid(message: string): TrackstackError {
  return new TrackstackError('INVALID_CONFIG', `mlflow: ${message}`, {
    hint: 'see `trackstack experiment-tracker flavor describe mlflow`',
  });
}
