/**
 * The protocol, spoken to the reference server with plain fetch: what a
 * client of another language (or another flavor's backend) must expect.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TemplateServer } from './template-server.js';

let dir: string;
const servers: TemplateServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trackstack-template-server-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(options: ConstructorParameters<typeof TemplateServer>[0] = {}) {
  const server = new TemplateServer(options);
  await server.start();
  servers.push(server);
  return server;
}

async function call(
  server: TemplateServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    json: text === '' ? {} : JSON.parse(text),
    headers: response.headers,
  };
}

function rawPut(server: TemplateServer, path: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(server.url);
    const req = request({ hostname, port, path, method: 'PUT' }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end('x');
  });
}

const runBody = (uid: string) => ({
  uid,
  experiment: 'iris',
  name: 'baseline',
  tags: { 'trackstack.uid': uid },
  start_time: 1_760_000_000_000,
});

describe('the reference server', () => {
  it('answers /health, and with a token, nothing without it', async () => {
    const server = await start({ token: 's3cret' });
    const denied = await call(server, 'GET', '/health');
    expect(denied.status).toBe(401);
    expect(denied.json.error.code).toBe('UNAUTHORIZED');
    expect(denied.headers.get('www-authenticate')).toBe('Bearer');
    expect(
      (await call(server, 'GET', '/health', undefined, { authorization: 'Bearer nope' })).status,
    ).toBe(401);
    const ok = await call(server, 'GET', '/health', undefined, { authorization: 'Bearer s3cret' });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ ok: true, protocol: 1 });
  });

  it('creates a run once per uid', async () => {
    const server = await start();
    const first = await call(server, 'POST', '/runs', runBody('u-1'));
    expect(first.status).toBe(201);
    expect(first.json.run).toMatchObject({
      id: '1',
      uid: 'u-1',
      status: 'RUNNING',
      end_time: null,
    });
    const again = await call(server, 'POST', '/runs', runBody('u-1'));
    expect(again.status).toBe(200);
    expect(again.json.run.id).toBe('1');
    expect((await call(server, 'GET', '/runs?uid=u-1')).json.runs).toHaveLength(1);
    expect((await call(server, 'GET', '/runs?experiment=other')).json.runs).toEqual([]);
    const child = await call(server, 'POST', '/runs', { ...runBody('u-2'), parent_id: '1' });
    expect(child.json.run.parent_id).toBe('1');
    expect(
      (await call(server, 'POST', '/runs', { ...runBody('u-3'), parent_id: '9' })).status,
    ).toBe(404);
  });

  it('stores a replayed batch once, and refuses a batch that would change a param, whole', async () => {
    const server = await start();
    await call(server, 'POST', '/runs', runBody('u-1'));
    const batch = {
      params: [{ key: 'lr', value: '0.1' }],
      tags: [{ key: 'stage', value: 'dev' }],
      metrics: [
        { key: 'loss', value: 0.5, step: 0, timestamp: 1 },
        { key: 'loss', value: 'NaN', step: 1, timestamp: 2 },
        { key: 'loss', value: '-Infinity', step: 2, timestamp: 3 },
      ],
    };
    expect((await call(server, 'POST', '/runs/1/batch', batch)).status).toBe(200);
    expect((await call(server, 'POST', '/runs/1/batch', batch)).status).toBe(200);
    const conflict = await call(server, 'POST', '/runs/1/batch', {
      params: [{ key: 'lr', value: '0.2' }],
      tags: [{ key: 'stage', value: 'prod' }],
      metrics: [{ key: 'loss', value: 9, step: 9, timestamp: 9 }],
    });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe('PARAM_CONFLICT');
    const { run } = (await call(server, 'GET', '/runs/1')).json;
    expect(run.params).toEqual({ lr: '0.1' });
    expect(run.tags).toMatchObject({ stage: 'dev', 'trackstack.uid': 'u-1' });
    expect(run.metrics).toEqual(batch.metrics);
  });

  it.each([
    [{ params: 'x' }, 400],
    [{ metrics: [{ key: 'm', value: 1, step: -1, timestamp: 0 }] }, 400],
    [{ metrics: [{ key: 'm', value: 'nan', step: 0, timestamp: 0 }] }, 400],
    [
      {
        metrics: Array.from({ length: 10_001 }, (_, i) => ({
          key: 'm',
          value: i,
          step: i,
          timestamp: 0,
        })),
      },
      413,
    ],
  ])('refuses the batch %#', async (body, status) => {
    const server = await start();
    await call(server, 'POST', '/runs', runBody('u-1'));
    expect((await call(server, 'POST', '/runs/1/batch', body)).status).toBe(status);
    expect((await call(server, 'GET', '/runs/1')).json.run.metrics).toEqual([]);
  });

  it('finishes and reopens a run, and answers 404 for a run it does not have', async () => {
    const server = await start();
    await call(server, 'POST', '/runs', runBody('u-1'));
    expect(
      (await call(server, 'POST', '/runs/1/finish', { status: 'DONE', end_time: 5 })).status,
    ).toBe(400);
    await call(server, 'POST', '/runs/1/finish', { status: 'FAILED', end_time: 5 });
    expect((await call(server, 'GET', '/runs/1')).json.run).toMatchObject({
      status: 'FAILED',
      end_time: 5,
    });
    await call(server, 'POST', '/runs/1/reopen', {});
    expect((await call(server, 'GET', '/runs/1')).json.run).toMatchObject({
      status: 'RUNNING',
      end_time: null,
    });
    const missing = await call(server, 'GET', '/runs/7');
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('RUN_NOT_FOUND');
    expect((await call(server, 'GET', '/nowhere')).status).toBe(404);
    expect((await call(server, 'POST', '/runs', 'not an object')).status).toBe(400);
  });

  it('keeps artifacts byte for byte, checks their sha256, and refuses paths that climb out', async () => {
    const server = await start({ maxBodyBytes: 1024 });
    await call(server, 'POST', '/runs', runBody('u-1'));
    const bytes = Buffer.from('x,y\n1,2\n');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const put = (path: string, body: Buffer, sha = sha256) =>
      fetch(`${server.url}/runs/1/artifacts/${path}`, {
        method: 'PUT',
        headers: { 'content-type': 'text/csv', 'x-content-sha256': sha },
        body,
      });
    expect((await put('eval/my%20plots/b.csv', bytes)).status).toBe(200);
    const got = await fetch(`${server.url}/runs/1/artifacts/eval/my%20plots/b.csv`);
    expect(got.headers.get('content-type')).toBe('text/csv');
    expect(Buffer.from(await got.arrayBuffer())).toEqual(bytes);
    expect((await call(server, 'GET', '/runs/1')).json.run.artifacts).toEqual([
      { path: 'eval/my plots/b.csv', size: bytes.length, sha256, content_type: 'text/csv' },
    ]);
    expect((await put('c.csv', bytes, '0'.repeat(64))).status).toBe(400);
    // fetch would resolve the dots itself: send the path as it is.
    expect(await rawPut(server, '/runs/1/artifacts/a/%2E%2E/b')).toBe(400);
    expect(await rawPut(server, '/runs/1/artifacts/a/../../b')).toBe(400);
    expect((await put('a//b', bytes)).status).toBe(400);
    expect((await put('big.bin', Buffer.alloc(2048))).status).toBe(413);
  });

  it('replays its file when it starts again, past a torn last line', async () => {
    const file = join(dir, 'runs.jsonl');
    const first = await start({ file });
    await call(first, 'POST', '/runs', runBody('u-1'));
    await call(first, 'POST', '/runs/1/batch', {
      params: [{ key: 'lr', value: '0.1' }],
      tags: [],
      metrics: [{ key: 'loss', value: 'Infinity', step: 0, timestamp: 1 }],
    });
    await fetch(`${first.url}/runs/1/artifacts/model.json`, { method: 'PUT', body: '{}' });
    await call(first, 'POST', '/runs/1/finish', { status: 'FINISHED', end_time: 9 });
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    await appendFile(file, '{"e":"batch","id":"1","par');

    const second = await start({ file });
    const run = second.findByUid('u-1');
    expect(run).toMatchObject({ status: 'FINISHED', params: { lr: '0.1' }, end_time: 9 });
    expect(run?.metrics).toEqual([{ key: 'loss', value: 'Infinity', step: 0, timestamp: 1 }]);
    expect(Buffer.from(second.getArtifact('1', 'model.json')!).toString()).toBe('{}');
    // Ids go on from the replayed runs.
    expect((await call(second, 'POST', '/runs', runBody('u-2'))).json.run.id).toBe('2');
  });

  it('refuses to start on a file damaged before its last line', async () => {
    const file = join(dir, 'damaged.jsonl');
    await writeFile(file, 'not json\n{"e":"reopen","id":"1"}\n');
    await expect(new TemplateServer({ file }).start()).rejects.toThrow(/damaged\.jsonl:1/);
    expect(await readFile(file, 'utf8')).toContain('not json');
  });
});
