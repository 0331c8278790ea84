import { describe, expect, it } from 'vitest';
import { mlflowConfigSchema, resolveMlflowConfig } from './mlflow-config.js';

const parse = (raw: Record<string, unknown>) => mlflowConfigSchema.parse(raw);
const resolve = (raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) =>
  resolveMlflowConfig(parse(raw), env);

describe('MLflow config', () => {
  it('takes what the config leaves out from MLflow environment variables', () => {
    const resolved = resolve(
      {},
      {
        MLFLOW_TRACKING_URI: 'https://mlflow.example.com/',
        MLFLOW_TRACKING_USERNAME: 'ada',
        MLFLOW_TRACKING_PASSWORD: 'pw',
        MLFLOW_TRACKING_INSECURE_TLS: 'true',
      },
    );
    expect(resolved).toMatchObject({
      tracking_uri: 'https://mlflow.example.com/',
      baseUrl: 'https://mlflow.example.com',
      tracking_username: 'ada',
      tracking_password: 'pw',
      tracking_insecure_tls: true,
    });
  });

  it('lets the config win over the environment', () => {
    const resolved = resolve(
      { tracking_uri: 'http://127.0.0.1:5000', tracking_insecure_tls: false },
      { MLFLOW_TRACKING_URI: 'https://elsewhere', MLFLOW_TRACKING_INSECURE_TLS: 'true' },
    );
    expect(resolved.baseUrl).toBe('http://127.0.0.1:5000');
    expect(resolved.tracking_insecure_tls).toBe(false);
  });

  it.each([
    [{}, /tracking_uri is required/],
    [{ tracking_uri: 'file:///tmp/mlruns' }, /http\(s\) URL/],
    [{ tracking_uri: 'not a url' }, /http\(s\) URL/],
    [{ tracking_uri: 'https://user:pw@mlflow.example.com' }, /never in the URL/],
    [{ tracking_uri: 'https://mlflow.example.com' }, /remote MLflow server needs credentials/],
    [
      { tracking_uri: 'https://mlflow.example.com', tracking_username: 'a' },
      /needs tracking_password/,
    ],
    [
      { tracking_uri: 'https://mlflow.example.com', tracking_password: 'a' },
      /needs tracking_username/,
    ],
    [
      {
        tracking_uri: 'https://mlflow.example.com',
        tracking_username: 'a',
        tracking_password: 'b',
        tracking_token: 't',
      },
      /not both/,
    ],
    [{ tracking_uri: 'databricks' }, /databricks_host/],
    [
      { tracking_uri: 'http://127.0.0.1:5000', databricks_host: 'https://x' },
      /only used with tracking_uri "databricks"/,
    ],
  ])('refuses %j', (raw, message) => {
    expect(() => resolve(raw)).toThrow(message);
    try {
      resolve(raw);
    } catch (error) {
      expect((error as { code?: string }).code).toBe('INVALID_CONFIG');
    }
  });

  it('accepts exactly one auth method for a remote server, none for one on this machine', () => {
    expect(
      resolve({ tracking_uri: 'https://m.example.com', tracking_token: 't' }).tracking_token,
    ).toBe('t');
    expect(
      resolve({
        tracking_uri: 'https://m.example.com',
        tracking_username: 'u',
        tracking_password: 'p',
      }).tracking_username,
    ).toBe('u');
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]']) {
      expect(resolve({ tracking_uri: `http://${host}:5000` }).baseUrl).toBe(`http://${host}:5000`);
    }
    expect(
      resolve({
        tracking_uri: 'databricks',
        databricks_host: 'https://dbc.example.com',
        tracking_token: 't',
      }).baseUrl,
    ).toBe('https://dbc.example.com');
  });

  it('refuses unknown fields, as ZenML configs do', () => {
    expect(() => parse({ tracking_uri: 'http://127.0.0.1', trackinguri: 'typo' })).toThrow();
  });

  it('marks the password and the token secret in its JSON Schema', async () => {
    const { secretFields, isFlavor } = await import('@trackstack/core');
    const { MlflowExperimentTracker } = await import('./mlflow-tracker.js');
    expect(isFlavor(MlflowExperimentTracker.FLAVOR)).toBe(true);
    expect(secretFields(MlflowExperimentTracker.FLAVOR).sort()).toEqual([
      'tracking_password',
      'tracking_token',
    ]);
  });
});

describe('MLflow config: multipart uploads', () => {
  it("uses MLflow's sizes by default, and multipart on (it falls back when the server cannot)", () => {
    expect(resolve({ tracking_uri: 'http://127.0.0.1:5000' })).toMatchObject({
      multipart_upload: true,
      multipart_upload_min_size: 500 * 1024 * 1024,
      multipart_upload_chunk_size: 10 * 1024 * 1024,
      multipart_upload_concurrency: 4,
    });
  });

  it("reads MLflow's environment variables when the config leaves them out", () => {
    const env = {
      MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD: 'False',
      MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE: '1048576',
      MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE: '5242880',
    };
    expect(resolve({ tracking_uri: 'http://127.0.0.1:5000' }, env)).toMatchObject({
      multipart_upload: false,
      multipart_upload_min_size: 1048576,
      multipart_upload_chunk_size: 5242880,
    });
    expect(
      resolve(
        {
          tracking_uri: 'http://127.0.0.1:5000',
          multipart_upload: true,
          multipart_upload_chunk_size: 7,
        },
        env,
      ),
    ).toMatchObject({ multipart_upload: true, multipart_upload_chunk_size: 7 });
  });

  it.each([
    [
      { MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD: 'yes' },
      /MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD must be/,
    ],
    [{ MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE: '10MB' }, /MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE must be/],
    [{ MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE: '0' }, /MINIMUM_FILE_SIZE must be/],
  ])('refuses a malformed %o', (env, message) => {
    expect(() => resolve({ tracking_uri: 'http://127.0.0.1:5000' }, env)).toThrow(message);
  });

  it('refuses sizes that are not positive whole numbers in the config', () => {
    expect(() => parse({ multipart_upload_chunk_size: 0 })).toThrow();
    expect(() => parse({ multipart_upload_min_size: 1.5 })).toThrow();
  });
});

describe('MLflow config: connections', () => {
  it('opens a new connection for every request by default; 0 is no limit', () => {
    expect(resolve({ tracking_uri: 'http://127.0.0.1:5000' }).requests_per_connection).toBe(1);
    expect(
      resolve({ tracking_uri: 'http://127.0.0.1:5000', requests_per_connection: 0 })
        .requests_per_connection,
    ).toBe(0);
  });

  it('refuses a count that is not a whole number of at least 0', () => {
    expect(() => parse({ requests_per_connection: -1 })).toThrow();
    expect(() => parse({ requests_per_connection: 1.5 })).toThrow();
    expect(parse({ requests_per_connection: 1 })).toMatchObject({ requests_per_connection: 1 });
  });
});

describe('MLflow config: requests in flight', () => {
  it('keeps 2 log-batch requests in flight by default, or the configured count', () => {
    expect(resolve({ tracking_uri: 'http://127.0.0.1:5000' }).max_requests_in_flight).toBe(2);
    expect(
      resolve({ tracking_uri: 'http://127.0.0.1:5000', max_requests_in_flight: 6 })
        .max_requests_in_flight,
    ).toBe(6);
  });

  it('refuses a count that is not a whole number of at least 1', () => {
    expect(() => parse({ max_requests_in_flight: 0 })).toThrow();
    expect(() => parse({ max_requests_in_flight: 2.5 })).toThrow();
    expect(() => parse({ max_requests_in_flight: '4' })).toThrow();
  });
});
