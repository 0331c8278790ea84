/**
 * Multipart artifact uploads against a real MLflow server whose artifact destination is
 * S3 (moto's S3 server, both pinned from PyPI, on 127.0.0.1), read back with MLflow's
 * Python client; and the fallback to one PUT on a server that keeps artifacts itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, type Run, type RunRef, silentLogger } from '@trackstack/core';
import {
  type FaultProxy,
  MlflowOracle,
  type MlflowServer,
  type S3Server,
  startFaultProxy,
  startMlflowServer,
  startS3Server,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MlflowConfig } from './mlflow-config.js';
import { MlflowExperimentTracker } from './mlflow-tracker.js';

const MiB = 1024 * 1024;
/** S3's smallest part (all but the last). */
const PART = 5 * MiB;

let s3: S3Server;
let s3Proxy: FaultProxy;
let server: MlflowServer;
let oracle: MlflowOracle;
let work: string;

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.createBucket('mlflow');
  // Every S3 request (MLflow's boto3 calls and our part PUTs to presigned URLs) goes through
  // this proxy: it counts them and injects faults. Presigned URLs are signed for its host.
  s3Proxy = await startFaultProxy(s3.url, { preserveHost: true });
  server = await startMlflowServer({
    pythonEnv: s3.env,
    artifactsDestination: 's3://mlflow/artifacts',
    env: s3.clientEnv(s3Proxy.url),
  });
  oracle = new MlflowOracle(server.env.python, server.url);
  work = await mkdtemp(join(tmpdir(), 'trackstack-mlflow-mpu-'));
});

afterAll(async () => {
  oracle?.close();
  await server?.stop();
  await s3Proxy?.close();
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** What a user holds: runs of a flavor's tracker, with core's default settings. */
const runs = (flavor: MlflowExperimentTracker) => createTracker(flavor, { logger: silentLogger });

function tracker(url: string, config: Partial<MlflowConfig> = {}): MlflowExperimentTracker {
  return new MlflowExperimentTracker(
    {
      nested: false,
      tags: {},
      request_timeout_s: 60,
      tracking_uri: url,
      multipart_upload_min_size: PART,
      multipart_upload_chunk_size: PART,
      ...config,
    },
    { storeDir: join(work, 'store'), logger: silentLogger },
  );
}

/** A file of random bytes, written 1 MiB at a time; resolves with its sha256. */
async function randomFile(name: string, size: number): Promise<{ path: string; sha256: string }> {
  const path = join(work, name);
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  await new Promise<void>((resolve, reject) => {
    out.on('error', reject);
    for (let left = size; left > 0; left -= MiB) {
      const chunk = randomBytes(Math.min(MiB, left));
      hash.update(chunk);
      out.write(chunk);
    }
    out.end(resolve);
  });
  return { path, sha256: hash.digest('hex') };
}

async function refOf(run: Run): Promise<RunRef> {
  const ref = await run.backendRef('mlflow');
  if (ref === undefined) throw new Error('the run has no MLflow run');
  return ref;
}

/** The S3 requests the proxy saw since `from`, as `METHOD kind part`. */
function s3Calls(from: number): { key: string; status: number | undefined; part?: number }[] {
  return s3Proxy.log.slice(from).map((entry) => {
    const query = new URLSearchParams(entry.path.split('?')[1] ?? '');
    const kind = query.has('partNumber')
      ? 'part'
      : query.has('uploads')
        ? 'create'
        : query.has('uploadId')
          ? entry.method === 'DELETE'
            ? 'abort'
            : 'complete'
          : 'object';
    const part = query.get('partNumber');
    return {
      key: `${entry.method} ${kind}`,
      status: entry.status,
      ...(part === null ? {} : { part: Number(part) }),
    };
  });
}

/** Counts the flavor's single-PUT uploads (the server keeps bytes only). */
function countPuts(t: MlflowExperimentTracker): { puts: number; creates: number } {
  const seen = { puts: 0, creates: 0 };
  const put = t.client.putArtifact.bind(t.client);
  t.client.putArtifact = (...args) => {
    seen.puts += 1;
    return put(...args);
  };
  const post = t.client.postArtifacts.bind(t.client);
  t.client.postArtifacts = (endpoint, body) => {
    if (endpoint.startsWith('mpu/create/')) seen.creates += 1;
    return post(endpoint, body);
  };
  return seen;
}

describe('MLflow multipart uploads (S3 artifact destination)', () => {
  it('uploads a file over the threshold in 5 MiB parts straight to S3, byte for byte', async () => {
    const file = await randomFile('weights.bin', 12 * MiB + 123);
    const t = tracker(server.url);
    const seen = countPuts(t);
    const from = s3Proxy.log.length;
    const run = await runs(t).startRun({ experiment: 'multipart' });
    await run.logArtifact(file.path, { artifactPath: 'model/weights.bin' });
    await run.logArtifact(join(import.meta.dirname, '__fixtures__', 'oracle-view.ts'), {
      artifactPath: 'small/oracle-view.ts',
    });
    const report = await run.end();
    expect(report.destinations[0]!.errors).toEqual([]);

    const calls = s3Calls(from);
    const parts = calls.filter((c) => c.key === 'PUT part');
    expect(parts.map((c) => c.part).sort()).toEqual([1, 2, 3]);
    expect(parts.every((c) => c.status === 200)).toBe(true);
    expect(calls.filter((c) => c.key === 'POST create')).toHaveLength(1);
    expect(calls.filter((c) => c.key === 'POST complete')).toHaveLength(1);
    // The small file went through MLflow in one PUT; the big one never did.
    expect(seen).toEqual({ puts: 1, creates: 1 });

    const back = await oracle.run((await refOf(run)).runId, { artifacts: true });
    expect(back.artifact_uri).toMatch(/^mlflow-artifacts:/);
    expect(back.artifacts['model/weights.bin']).toBe(file.sha256);
    expect(back.artifact_sizes['model/weights.bin']).toBe(12 * MiB + 123);
    expect(Object.keys(back.artifacts).sort()).toEqual([
      'model/weights.bin',
      'small/oracle-view.ts',
    ]);
    await t.client.close();
  });

  it('retries a part the store refused once, and the bytes still match', async () => {
    const file = await randomFile('retried.bin', 11 * MiB);
    const t = tracker(server.url);
    const from = s3Proxy.log.length;
    s3Proxy.failNext(/^PUT .*[?&]partNumber=2(&|$)/, { status: 503, body: 'SlowDown' }, 1);
    const run = await runs(t).startRun({ experiment: 'multipart' });
    await run.logArtifact(file.path, { artifactPath: 'retried.bin' });
    const report = await run.end();
    expect(report.destinations[0]!.errors).toEqual([]);

    const parts = s3Calls(from).filter((c) => c.key === 'PUT part');
    expect(parts.filter((c) => c.part === 2).map((c) => c.status)).toEqual([503, 200]);
    expect(parts).toHaveLength(4);
    // One upload: the part was retried, not the whole file.
    expect(s3Calls(from).filter((c) => c.key === 'POST create')).toHaveLength(1);
    const back = await oracle.run((await refOf(run)).runId, { artifacts: true });
    expect(back.artifacts['retried.bin']).toBe(file.sha256);
    await t.client.close();
  });

  it('aborts the upload when a part keeps failing; the retried file then arrives whole', async () => {
    const file = await randomFile('aborted.bin', 11 * MiB);
    const t = tracker(server.url);
    const from = s3Proxy.log.length;
    // Five refusals: every try of part 1 in the first upload (PART_ATTEMPTS).
    s3Proxy.failNext(/^PUT .*[?&]partNumber=1(&|$)/, { status: 503, body: 'SlowDown' }, 5);
    const run = await runs(t).startRun({ experiment: 'multipart' });
    await run.logArtifact(file.path, { artifactPath: 'aborted.bin' });
    const report = await run.end();
    expect(report.destinations[0]!.errors).toEqual([]);

    const calls = s3Calls(from);
    expect(calls.filter((c) => c.key === 'POST create')).toHaveLength(2);
    expect(calls.filter((c) => c.key === 'DELETE abort')).toHaveLength(1);
    expect(calls.filter((c) => c.key === 'POST complete')).toHaveLength(1);
    expect(calls.filter((c) => c.key === 'PUT part' && c.part === 1).map((c) => c.status)).toEqual([
      503, 503, 503, 503, 503, 200,
    ]);
    const back = await oracle.run((await refOf(run)).runId, { artifacts: true });
    expect(back.artifacts['aborted.bin']).toBe(file.sha256);
    await t.client.close();
  });

  it('streams parts from disk: a 64 MiB upload does not hold the file in memory', async () => {
    const size = 64 * MiB + 7;
    const file = await randomFile('large.bin', size);
    const t = tracker(server.url, { multipart_upload_chunk_size: 8 * MiB });
    const from = s3Proxy.log.length;
    const run = await runs(t).startRun({ experiment: 'multipart' });
    await run.logArtifact(file.path, { artifactPath: 'large.bin' });
    globalThis.gc?.();
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakHeap = before.heapUsed;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peakRss = Math.max(peakRss, now.rss);
      peakHeap = Math.max(peakHeap, now.heapUsed);
    }, 20);
    const started = Date.now();
    const report = await run.end();
    clearInterval(sampler);
    const ms = Date.now() - started;
    expect(report.destinations[0]!.errors).toEqual([]);
    expect(s3Calls(from).filter((c) => c.key === 'PUT part')).toHaveLength(9);
    const rssGrowth = peakRss - before.rss;
    const heapGrowth = peakHeap - before.heapUsed;
    console.log(
      `multipart 64 MiB (9 parts of 8 MiB, 4 in flight): ${ms} ms, peak rss +${(rssGrowth / MiB).toFixed(1)} MiB, peak heap +${(heapGrowth / MiB).toFixed(1)} MiB`,
    );
    // A generous bound, not a benchmark: less than the file's size.
    expect(heapGrowth).toBeLessThan(size / 2);
    expect(rssGrowth).toBeLessThan(size);
    const back = await oracle.run((await refOf(run)).runId, { artifacts: true });
    expect(back.artifacts['large.bin']).toBe(file.sha256);
    await t.client.close();
  });
});

describe('MLflow multipart fallback (server keeps artifacts itself)', () => {
  let local: MlflowServer;
  let localOracle: MlflowOracle;

  beforeAll(async () => {
    local = await startMlflowServer();
    localOracle = new MlflowOracle(local.env.python, local.url);
  });

  afterAll(async () => {
    localOracle?.close();
    await local?.stop();
  });

  it('falls back to one PUT per file, asks once per client, and still uploads', async () => {
    const a = await randomFile('local-a.bin', 6 * MiB);
    const b = await randomFile('local-b.bin', 7 * MiB);
    const t = tracker(local.url);
    const seen = countPuts(t);
    const run = await runs(t).startRun({ experiment: 'multipart-fallback' });
    await run.logArtifact(a.path, { artifactPath: 'a.bin' });
    await run.logArtifact(b.path, { artifactPath: 'b.bin' });
    const report = await run.end();
    expect(report.destinations[0]!.errors).toEqual([]);
    // The first file asked (501 NOT_IMPLEMENTED) and fell back; the second did not ask.
    expect(seen).toEqual({ puts: 2, creates: 1 });
    const back = await localOracle.run((await refOf(run)).runId, { artifacts: true });
    expect(back.artifacts['a.bin']).toBe(a.sha256);
    expect(back.artifacts['b.bin']).toBe(b.sha256);
    await t.client.close();
  });

  it('sends one PUT without asking when multipart is switched off', async () => {
    const a = await randomFile('local-off.bin', 6 * MiB);
    const t = tracker(local.url, { multipart_upload: false });
    const seen = countPuts(t);
    const run = await runs(t).startRun({ experiment: 'multipart-fallback' });
    await run.logArtifact(a.path, { artifactPath: 'off.bin' });
    const report = await run.end();
    expect(report.destinations[0]!.errors).toEqual([]);
    expect(seen).toEqual({ puts: 1, creates: 0 });
    const back = await localOracle.run((await refOf(run)).runId, { artifacts: true });
    expect(back.artifacts['off.bin']).toBe(a.sha256);
    await t.client.close();
  });
});
