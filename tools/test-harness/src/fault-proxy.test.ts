import { createHash } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy, xorshift32 } from './fault-proxy.js';
import { freePort } from './free-port.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const BIG = Buffer.alloc(10_000, 'abcdefghij');

let target: Server;
let targetUrl: string;
const seen: Seen[] = [];

beforeAll(async () => {
  target = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BIG.length });
        res.end(BIG);
        return;
      }
      if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 500);
        return;
      }
      if (req.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first,');
        setTimeout(() => res.end('second'), 20);
        return;
      }
      const answer = JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        length: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
      });
      res.writeHead(req.method === 'POST' ? 201 : 200, {
        'content-type': 'application/json',
        'x-upstream': 'yes',
        'set-cookie': ['a=1', 'b=2'],
      });
      res.end(answer);
    });
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const address = target.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  targetUrl = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => target.close(() => resolve()));
});

const proxies: FaultProxy[] = [];
async function proxy(): Promise<FaultProxy> {
  const p = await startFaultProxy(targetUrl);
  proxies.push(p);
  return p;
}

afterEach(async () => {
  seen.length = 0;
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A plain one-shot HTTP exchange (no pooling, no retries) so faults are seen as they are. */
function send(
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    chunks?: Buffer[];
    timeoutMs?: number;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: init.method ?? 'GET', headers: init.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) =>
          reject(Object.assign(err, { partial: Buffer.concat(chunks), status: res.statusCode })),
        );
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on('error', reject);
    if (init.timeoutMs) {
      req.setTimeout(init.timeoutMs, () => req.destroy(new Error('client timeout')));
    }
    if (init.chunks) {
      for (const chunk of init.chunks) req.write(chunk);
      req.end();
    } else {
      req.end(init.body);
    }
  });
}

describe('startFaultProxy: forwarding', () => {
  it('forwards method, path, query, headers (authorization too) and body, and the response back', async () => {
    const p = await proxy();
    const body = JSON.stringify({ hello: 'world' });
    const reply = await send(`${p.url}/api/2.0/mlflow/runs/create?x=1&y=%20`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Basic YWRtaW46c2VjcmV0',
        'x-custom': 'kept',
      },
      body,
    });
    expect(reply.status).toBe(201);
    expect(reply.headers['x-upstream']).toBe('yes');
    expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    const echoed = JSON.parse(reply.body.toString()) as {
      method: string;
      url: string;
      headers: Record<string, string>;
      length: number;
      sha256: string;
    };
    expect(echoed.method).toBe('POST');
    expect(echoed.url).toBe('/api/2.0/mlflow/runs/create?x=1&y=%20');
    expect(echoed.headers.authorization).toBe('Basic YWRtaW46c2VjcmV0');
    expect(echoed.headers['x-custom']).toBe('kept');
    expect(echoed.headers['content-type']).toBe('application/json');
    expect(echoed.headers.host).toBe(new URL(targetUrl).host);
    expect(echoed.length).toBe(Buffer.byteLength(body));
    expect(echoed.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(p.requests).toBe(1);
    expect(p.log).toEqual([
      {
        method: 'POST',
        path: '/api/2.0/mlflow/runs/create?x=1&y=%20',
        connection: 1,
        inFlight: 1,
        status: 201,
      },
    ]);
  });

  it('streams a large chunked request body and a chunked response', async () => {
    const p = await proxy();
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * 1024, i));
    const whole = Buffer.concat(chunks);
    const reply = await send(`${p.url}/upload`, {
      method: 'PUT',
      headers: { 'transfer-encoding': 'chunked' },
      chunks,
    });
    const echoed = JSON.parse(reply.body.toString()) as { length: number; sha256: string };
    expect(echoed.length).toBe(whole.length);
    expect(echoed.sha256).toBe(createHash('sha256').update(whole).digest('hex'));
    expect(seen[0]?.body.equals(whole)).toBe(true);

    const streamed = await send(`${p.url}/chunked`);
    expect(streamed.body.toString()).toBe('first,second');
  });

  it('honours a path prefix in the target and answers 502 when the target is down', async () => {
    const prefixed = await startFaultProxy(`${targetUrl}/prefix/`);
    proxies.push(prefixed);
    const reply = await send(`${prefixed.url}/a?b=c`);
    expect(JSON.parse(reply.body.toString()).url).toBe('/prefix/a?b=c');

    const down = await startFaultProxy(`http://127.0.0.1:${await freePort()}`);
    proxies.push(down);
    const bad = await send(`${down.url}/x`);
    expect(bad.status).toBe(502);
    expect(down.log[0]).toMatchObject({ method: 'GET', path: '/x', status: 502 });
    expect(down.log[0]?.error).toBeTruthy();
  });
});

describe('startFaultProxy: faults', () => {
  it('answers an injected status before forwarding, for `times` matching requests', async () => {
    const p = await proxy();
    p.failNext(
      'POST /api/2.0/mlflow/runs/log-batch',
      { status: 503, headers: { 'retry-after': '1' }, body: 'busy' },
      2,
    );
    const other = await send(`${p.url}/api/2.0/mlflow/runs/get`, { method: 'GET' });
    expect(other.status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const r = await send(`${p.url}/api/2.0/mlflow/runs/log-batch`, {
        method: 'POST',
        body: '{"run_id":"r"}',
      });
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.body.toString()).toBe('busy');
    }
    const third = await send(`${p.url}/api/2.0/mlflow/runs/log-batch`, {
      method: 'POST',
      body: '{}',
    });
    expect(third.status).toBe(201);
    expect(seen.map((s) => s.url)).toEqual([
      '/api/2.0/mlflow/runs/get',
      '/api/2.0/mlflow/runs/log-batch',
    ]);
    expect(p.requests).toBe(4);
    expect(p.faults).toEqual({ status: 2, reset: 0, stall: 0, truncate: 0 });
    expect(p.log.map((e) => [e.status, e.fault])).toEqual([
      [200, undefined],
      [503, 'status'],
      [503, 'status'],
      [201, undefined],
    ]);
  });

  it('numbers the client connections requests come on', async () => {
    const p = await proxy();
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const get = (path: string) =>
        new Promise<void>((resolve, reject) => {
          const req = httpRequest(`${p.url}${path}`, { agent: keepAlive }, (res) => {
            res.resume();
            res.on('end', () => resolve());
          });
          req.on('error', reject);
          req.end();
        });
      await get('/a');
      await get('/b');
      await send(`${p.url}/c`);
      await get('/d');
    } finally {
      keepAlive.destroy();
    }
    expect(p.log.map((e) => [e.path, e.connection])).toEqual([
      ['/a', 1],
      ['/b', 1],
      ['/c', 2],
      ['/d', 1],
    ]);
  });

  it('counts the requests open at once as each arrives', async () => {
    const p = await proxy();
    // /slow answers after 500 ms: three sent together overlap, the fourth comes after.
    await Promise.all([send(`${p.url}/slow`), send(`${p.url}/slow`), send(`${p.url}/slow`)]);
    await send(`${p.url}/chunked`);
    expect(p.log.map((e) => e.inFlight)).toEqual([1, 2, 3, 1]);
  });

  it('lets `skip` matching requests through before the fault applies', async () => {
    const p = await proxy();
    p.failNext('/log-batch', { status: 503 }, 1, { skip: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      await send(`${p.url}/other`, { method: 'GET' });
      const r = await send(`${p.url}/log-batch`, { method: 'POST', body: '{}' });
      statuses.push(r.status);
    }
    expect(statuses).toEqual([201, 201, 503, 201]);
    expect(p.faults.status).toBe(1);
  });

  it('matches a RegExp against "METHOD path"', async () => {
    const p = await proxy();
    p.failNext(/^GET \/only-get\b/, { status: 418 });
    expect((await send(`${p.url}/only-get`, { method: 'POST', body: 'x' })).status).toBe(201);
    expect((await send(`${p.url}/only-get?q=1`)).status).toBe(418);
    expect((await send(`${p.url}/only-get`)).status).toBe(200);
  });

  it("'reset' drops the connection without an answer and the target never sees it", async () => {
    const p = await proxy();
    p.failNext('/boom', 'reset');
    await expect(send(`${p.url}/boom`, { method: 'POST', body: 'x' })).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|EPIPE/),
    });
    expect(seen).toHaveLength(0);
    expect(p.faults.reset).toBe(1);
    expect(p.log).toEqual([
      { method: 'POST', path: '/boom', connection: 1, inFlight: 1, fault: 'reset' },
    ]);
    expect((await send(`${p.url}/boom`)).status).toBe(200);
  });

  it("'stall' never answers; close() tears the connection down", async () => {
    const p = await proxy();
    p.failNext('/slow', 'stall');
    const started = Date.now();
    await expect(send(`${p.url}/slow`, { timeoutMs: 300 })).rejects.toThrow('client timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(seen).toHaveLength(0);
    expect(p.faults.stall).toBe(1);

    p.failNext('/slow', 'stall');
    const pending = send(`${p.url}/slow`);
    await new Promise((r) => setTimeout(r, 100));
    await p.close();
    await expect(pending).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it("'truncate' forwards, then sends the full content-length but half the body and cuts", async () => {
    const p = await proxy();
    p.failNext('GET /big', 'truncate');
    const err = (await send(`${p.url}/big`).then(
      () => {
        throw new Error('expected the response to fail');
      },
      (e: unknown) => e,
    )) as Error & { partial?: Buffer; status?: number; code?: string };
    expect(err.status).toBe(200);
    expect(err.partial?.length).toBe(BIG.length / 2);
    expect(err.partial?.equals(BIG.subarray(0, BIG.length / 2))).toBe(true);
    expect(seen.map((s) => s.url)).toEqual(['/big']); // the target did see this one
    expect(p.faults.truncate).toBe(1);
    expect(p.log).toEqual([
      { method: 'GET', path: '/big', connection: 1, inFlight: 1, status: 200, fault: 'truncate' },
    ]);

    // With fetch the declared length is visible and reading the body fails.
    p.failNext('GET /big', 'truncate');
    const res = await fetch(`${p.url}/big`);
    expect(res.headers.get('content-length')).toBe(String(BIG.length));
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it('randomFaults is deterministic for a seed and respects rate and match', async () => {
    const run = async (seed: number) => {
      const p = await proxy();
      p.randomFaults({
        rate: 0.3,
        seed,
        kinds: [{ status: 500 }, { status: 503 }, 'reset'],
        match: '/r/',
      });
      const outcomes: string[] = [];
      for (let i = 0; i < 60; i++) {
        const outcome = await send(`${p.url}/r/${i}`).then(
          (r) => String(r.status),
          () => 'reset',
        );
        outcomes.push(outcome);
      }
      // Not a candidate: never faulted.
      for (let i = 0; i < 5; i++) expect((await send(`${p.url}/other`)).status).toBe(200);
      return { outcomes, faults: { ...p.faults }, log: p.log.map((e) => e.fault ?? '-') };
    };
    const a = await run(42);
    const b = await run(42);
    const c = await run(7);
    expect(a).toEqual(b);
    expect(a.outcomes).not.toEqual(c.outcomes);
    const faulted = a.outcomes.filter((o) => o !== '200').length;
    expect(faulted).toBeGreaterThan(5);
    expect(faulted).toBeLessThan(35);
    expect(a.faults.status + a.faults.reset).toBe(faulted);
    expect(a.outcomes).toContain('reset');
  });

  it('scripted faults take precedence; clearFaults and randomFaults(null) stop them', async () => {
    const p = await proxy();
    p.randomFaults({ rate: 1, seed: 1, kinds: [{ status: 500 }] });
    p.failNext('/x', { status: 429 });
    expect((await send(`${p.url}/x`)).status).toBe(429);
    expect((await send(`${p.url}/x`)).status).toBe(500);
    p.randomFaults(null);
    expect((await send(`${p.url}/x`)).status).toBe(200);
    p.failNext('/x', { status: 429 }, 5);
    p.clearFaults();
    expect((await send(`${p.url}/x`)).status).toBe(200);
  });
});

describe('xorshift32', () => {
  it('is deterministic and in [0, 1)', () => {
    const a = xorshift32(123);
    const b = xorshift32(123);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(xorshift32(0)()).toBeGreaterThan(0); // seed 0 is usable (never stuck at 0)
  });
});
