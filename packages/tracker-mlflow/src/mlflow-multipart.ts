/**
 * Multipart artifact uploads through MLflow's artifact proxy, the protocol of MLflow's
 * own `HttpArtifactRepository`: `mpu/create/<dir>` answers an upload id and one presigned
 * URL per part; each part goes straight to the object store; `mpu/complete/<dir>` joins
 * the parts by number and ETag; `mpu/abort/<dir>` drops them when a part cannot be sent.
 * Only a cloud artifact destination (S3, GCS, Azure) offers it: a server that stores
 * artifacts itself answers 501 NOT_IMPLEMENTED, and the caller sends one PUT instead.
 */
import { createReadStream } from 'node:fs';
import { BackendError, type RetryPolicy, retryDelay } from '@trackstack/core';
import type { MlflowRestClient } from './mlflow-client.js';
import { MlflowError } from './mlflow-error.js';

/** S3's limit on the parts of one upload; a bigger file gets bigger parts. */
export const MAX_PARTS = 10_000;

/** Tries per part before the whole upload is aborted (core then retries the file). */
const PART_ATTEMPTS = 5;

export interface PartRange {
  partNumber: number;
  /** First byte. */
  start: number;
  /** One past the last byte. */
  end: number;
}

/** The parts of a file of `size` bytes: `chunkSize` each (the last shorter), at most 10,000. */
export function planParts(size: number, chunkSize: number): PartRange[] {
  const chunk = Math.max(chunkSize, Math.ceil(size / MAX_PARTS));
  const parts: PartRange[] = [];
  for (let start = 0; start < size; start += chunk) {
    parts.push({ partNumber: parts.length + 1, start, end: Math.min(size, start + chunk) });
  }
  return parts;
}

/**
 * Whether an answer to `mpu/create` means "this server's artifact store cannot do
 * multipart": MLflow's 501 NOT_IMPLEMENTED, or a 404 without MLflow's JSON (a server
 * older than the `mpu` routes).
 */
export function isMultipartUnsupported(error: unknown): boolean {
  if (!MlflowError.isInstance(error)) return false;
  return (
    error.statusCode === 501 ||
    error.errorCode === 'NOT_IMPLEMENTED' ||
    (error.statusCode === 404 && error.errorCode === undefined)
  );
}

export interface MultipartFile {
  /** The file's directory under the artifact proxy, URL-encoded (`<exp>/<run>/artifacts/dir`). */
  dir: string;
  /** The file's name: MLflow's server writes the object at `<dir>/<basename of path>`. */
  fileName: string;
  localPath: string;
  size: number;
  /** The artifact's path in the run, for messages. */
  label: string;
}

export interface MultipartOptions {
  chunkSize: number;
  concurrency: number;
  retry: RetryPolicy;
  attempts?: number;
  /** Told about each part that is tried again. */
  onRetry?: (message: string) => void;
}

interface Credential {
  url: string;
  part_number: number | string;
  headers?: Record<string, string>;
}

interface CreateResponse {
  upload_id?: string;
  credentials?: Credential[];
}

/**
 * Uploads a file in parts. Resolves true when done, false (having sent nothing) when the
 * server's artifact store cannot do multipart; rejects with the error that stopped it,
 * after asking the server to abort the upload.
 */
export async function uploadMultipart(
  client: MlflowRestClient,
  file: MultipartFile,
  options: MultipartOptions,
): Promise<boolean> {
  const parts = planParts(file.size, options.chunkSize);
  let created: CreateResponse;
  try {
    created = await client.postArtifacts<CreateResponse>(`mpu/create/${file.dir}`, {
      path: file.fileName,
      num_parts: parts.length,
    });
  } catch (error) {
    if (isMultipartUnsupported(error)) return false;
    throw error;
  }
  // Azure's repository has no upload id (its block ids ride in the part URLs).
  const uploadId = created.upload_id ?? '';
  try {
    const credentials = new Map(
      (created.credentials ?? []).map((c) => [Number(c.part_number), c] as const),
    );
    const missing = parts.filter((p) => !credentials.has(p.partNumber));
    if (missing.length > 0) {
      throw new MlflowError(
        `multipart upload of ${file.label}: MLflow sent ${credentials.size} part URLs for ${parts.length} parts`,
        { retryable: false },
      );
    }
    const etags = await uploadParts(client, file, parts, credentials, options);
    await client.postArtifacts(`mpu/complete/${file.dir}`, {
      path: file.fileName,
      upload_id: uploadId,
      parts: parts.map((p) => ({
        part_number: p.partNumber,
        etag: etags.get(p.partNumber),
        url: credentials.get(p.partNumber)!.url,
      })),
    });
  } catch (error) {
    // Best effort: the error that stopped the upload is the one worth reporting.
    await client
      .postArtifacts(`mpu/abort/${file.dir}`, { path: file.fileName, upload_id: uploadId })
      .catch(() => undefined);
    throw error;
  }
  return true;
}

/** Every part, `concurrency` at a time; the first part that fails for good stops the rest. */
async function uploadParts(
  client: MlflowRestClient,
  file: MultipartFile,
  parts: PartRange[],
  credentials: Map<number, Credential>,
  options: MultipartOptions,
): Promise<Map<number, string>> {
  const etags = new Map<number, string>();
  const stop = new AbortController();
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < parts.length) {
      const part = parts[next++]!;
      try {
        const credential = credentials.get(part.partNumber)!;
        etags.set(
          part.partNumber,
          await uploadPart(client, file, part, parts.length, credential, options, stop.signal),
        );
      } catch (error) {
        failure ??= { error };
        stop.abort();
      }
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency, parts.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure !== undefined) throw failure.error;
  return etags;
}

async function uploadPart(
  client: MlflowRestClient,
  file: MultipartFile,
  part: PartRange,
  total: number,
  credential: Credential,
  options: MultipartOptions,
  signal: AbortSignal,
): Promise<string> {
  const what = `PUT part ${part.partNumber}/${total} of ${file.label}`;
  const attempts = options.attempts ?? PART_ATTEMPTS;
  for (let attempt = 0; ; attempt++) {
    // A fresh stream per try: a stream read once cannot be sent again. Only this part's
    // bytes are read, 64 KiB at a time.
    const body = createReadStream(file.localPath, { start: part.start, end: part.end - 1 });
    try {
      return await client.putPart(
        credential.url,
        credential.headers ?? {},
        body,
        part.end - part.start,
        what,
        signal,
      );
    } catch (error) {
      body.destroy();
      const retryable = BackendError.isInstance(error) && error.retryable;
      if (signal.aborted || !retryable || attempt + 1 >= attempts) throw error;
      const delay = retryDelay(options.retry, attempt, error);
      options.onRetry?.(`${(error as Error).message}; retry in ${Math.round(delay)} ms`);
      await abortableDelay(delay, signal);
      if (signal.aborted) throw error;
    }
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
