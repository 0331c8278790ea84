import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { listenOnLoopback } from './loopback.js';

/**
 * What to do to a request instead of (or, for `truncate`, while) forwarding it:
 * - `{ status, headers?, body? }`: answer with this response; the target never sees the request;
 * - `'reset'`: destroy the client's connection without answering (RST where possible);
 * - `'stall'`: never answer (the connection stays open until the client gives up or `close()`);
 * - `'truncate'`: forward, then send the upstream status and headers with the upstream
 *   content-length but only the first half of the body, and destroy the connection.
 */
export type Fault =
  | { status: number; headers?: Record<string, string>; body?: string }
  | 'reset'
  | 'stall'
  | 'truncate';

export type FaultKind = 'status' | 'reset' | 'stall' | 'truncate';

export interface FaultLogEntry {
  method: string;
  /** The request target as received (path and query). */
  path: string;
  /** The client connection it came on: 1, 2, … in the order of their first requests. */
  connection: number;
  /** Requests the proxy had open (arrived, not yet answered or dropped) as it arrived, itself included. */
  inFlight: number;
  /** The status the client got: the upstream one, an injected one, or 502 when the target failed. */
  status?: number;
  /** Set when a fault was applied. */
  fault?: FaultKind;
  /** Set when forwarding failed (the client got a 502). */
  error?: string;
}

export interface RandomFaultOptions {
  /** Probability in [0, 1] that a request gets a fault. */
  rate: number;
  /** PRNG seed; the same seed and request sequence give the same faults. */
  seed: number;
  /** Faults to choose from, uniformly (default: `[{ status: 503 }, 'reset']`). */
  kinds?: Fault[];
  /** Only requests whose `${method} ${path}` matches are candidates (default: all). */
  match?: string | RegExp;
}

export interface FaultProxyOptions {
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Forward the client's Host header instead of the target's (default false). */
  preserveHost?: boolean;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Requests received so far. */
  readonly requests: number;
  /** Faults applied so far, by kind. */
  readonly faults: Record<FaultKind, number>;
  /** Every request, in arrival order (entries of unfinished requests fill in later). */
  readonly log: FaultLogEntry[];
  /**
   * Apply `fault` to the next `times` requests whose `${method} ${path}` matches (a string
   * matches as a substring), after letting `skip` matching requests through (default 0).
   * Scripted faults are checked in the order they were added and take precedence over
   * random ones.
   */
  failNext(match: string | RegExp, fault: Fault, times?: number, options?: { skip?: number }): void;
  /** Start (or, with `null`, stop) random faults. */
  randomFaults(options: RandomFaultOptions | null): void;
  /** Forget scripted and random faults. */
  clearFaults(): void;
  /** Stop listening and destroy every open connection (stalled ones included). */
  close(): Promise<void>;
}

interface Scripted {
  match: string | RegExp;
  fault: Fault;
  remaining: number;
  /** Matching requests still to let through before the fault applies. */
  skip: number;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
]);

function matches(match: string | RegExp, key: string): boolean {
  if (typeof match === 'string') return key.includes(match);
  match.lastIndex = 0;
  return match.test(key);
}

function kindOf(fault: Fault): FaultKind {
  return typeof fault === 'string' ? fault : 'status';
}

/** xorshift32: small, fast, deterministic; returns floats in [0, 1). */
export function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

function forwardHeaders(
  headers: IncomingHttpHeaders,
  host: string | undefined,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = value;
  }
  if (host !== undefined) out.host = host;
  return out;
}

/**
 * A loopback HTTP proxy in front of `target` (e.g. an MLflow server) that forwards every
 * request (method, path, headers including authorization, streamed body) and the response
 * back, and injects faults on demand.
 */
export async function startFaultProxy(
  target: string,
  options: FaultProxyOptions = {},
): Promise<FaultProxy> {
  const base = new URL(target);
  if (base.protocol !== 'http:') throw new Error(`startFaultProxy: only http targets (${target})`);
  const basePath = base.pathname.replace(/\/+$/, '');
  const agent = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  const scripted: Scripted[] = [];
  let random: { options: RandomFaultOptions; next: () => number } | null = null;
  let requests = 0;
  const faults: Record<FaultKind, number> = { status: 0, reset: 0, stall: 0, truncate: 0 };
  const log: FaultLogEntry[] = [];
  const connectionIds = new WeakMap<Socket, number>();
  let connections = 0;
  const connectionOf = (socket: Socket): number => {
    let id = connectionIds.get(socket);
    if (id === undefined) {
      id = ++connections;
      connectionIds.set(socket, id);
    }
    return id;
  };

  const pickFault = (key: string): Fault | undefined => {
    for (let i = 0; i < scripted.length; i++) {
      const entry = scripted[i]!;
      if (entry.remaining > 0 && matches(entry.match, key)) {
        if (entry.skip > 0) {
          entry.skip -= 1;
          continue;
        }
        entry.remaining -= 1;
        if (entry.remaining === 0) scripted.splice(i, 1);
        return entry.fault;
      }
    }
    if (random && (random.options.match === undefined || matches(random.options.match, key))) {
      const kinds = random.options.kinds ?? [{ status: 503 }, 'reset'];
      const roll = random.next();
      if (roll < random.options.rate && kinds.length > 0) {
        return kinds[Math.floor(random.next() * kinds.length)];
      }
    }
    return undefined;
  };

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    onResponse: (upstream: IncomingMessage) => void,
    onError: (err: Error) => void,
  ) => {
    const upstream = httpRequest(
      {
        protocol: 'http:',
        hostname: base.hostname,
        port: base.port || 80,
        method: req.method,
        path: basePath + (req.url ?? '/'),
        headers: forwardHeaders(req.headers, options.preserveHost ? undefined : base.host),
        agent,
      },
      onResponse,
    );
    upstream.on('error', onError);
    let upstreamDone = false;
    upstream.once('response', (r) => r.once('end', () => (upstreamDone = true)));
    // The client went away before its answer was complete: stop the upstream exchange too.
    res.on('close', () => {
      if (!res.writableFinished && !upstreamDone) upstream.destroy();
    });
    req.pipe(upstream);
  };

  let open = 0;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    requests += 1;
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    open += 1;
    res.once('close', () => {
      open -= 1;
    });
    const entry: FaultLogEntry = {
      method,
      path,
      connection: connectionOf(req.socket),
      inFlight: open,
    };
    log.push(entry);
    const fault = pickFault(`${method} ${path}`);
    if (fault !== undefined) {
      const kind = kindOf(fault);
      faults[kind] += 1;
      entry.fault = kind;
    }
    res.on('error', () => {});
    req.on('error', () => {});

    if (fault === 'reset') {
      const socket = req.socket;
      if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
      else socket.destroy();
      return;
    }
    if (fault === 'stall') {
      req.resume(); // read the body so the client is not blocked writing it, then say nothing
      return;
    }
    if (fault !== undefined && typeof fault === 'object') {
      entry.status = fault.status;
      req.resume();
      req.on('end', () => {
        const body = fault.body ?? '';
        res.writeHead(fault.status, {
          'content-length': Buffer.byteLength(body),
          ...(fault.body !== undefined && !hasHeader(fault.headers, 'content-type')
            ? { 'content-type': 'text/plain; charset=utf-8' }
            : {}),
          ...fault.headers,
        });
        res.end(body);
      });
      return;
    }

    const badGateway = (err: Error) => {
      entry.status = 502;
      entry.error = err.message;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const body = `fault proxy: target ${target} failed: ${err.message}`;
      res.writeHead(502, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };

    if (fault === 'truncate') {
      forward(
        req,
        res,
        (upstream) => {
          const chunks: Buffer[] = [];
          upstream.on('data', (chunk: Buffer) => chunks.push(chunk));
          upstream.on('error', badGateway);
          upstream.on('end', () => {
            const body = Buffer.concat(chunks);
            const headers = forwardHeaders(upstream.headers, undefined);
            delete headers['transfer-encoding'];
            headers['content-length'] = upstream.headers['content-length'] ?? String(body.length);
            entry.status = upstream.statusCode ?? 502;
            res.writeHead(upstream.statusCode ?? 502, headers);
            res.flushHeaders();
            const half = body.subarray(0, Math.floor(body.length / 2));
            const cut = () => {
              const socket = res.socket ?? req.socket;
              // Give the kernel a moment to send what was written before tearing down.
              setTimeout(() => socket.destroy(), 10);
            };
            if (half.length > 0) res.write(half, cut);
            else cut();
          });
        },
        badGateway,
      );
      return;
    }

    forward(
      req,
      res,
      (upstream) => {
        entry.status = upstream.statusCode ?? 502;
        res.writeHead(upstream.statusCode ?? 502, forwardHeaders(upstream.headers, undefined));
        upstream.on('error', () => res.destroy());
        upstream.pipe(res);
      },
      badGateway,
    );
  };

  const server = createServer(handle);
  const port = await listenOnLoopback(server, sockets, options.port, 'fault proxy');

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get requests() {
      return requests;
    },
    faults,
    log,
    failNext(match, fault, times = 1, options = {}) {
      if (times > 0) scripted.push({ match, fault, remaining: times, skip: options.skip ?? 0 });
    },
    randomFaults(opts) {
      random = opts ? { options: opts, next: xorshift32(opts.seed) } : null;
    },
    clearFaults() {
      scripted.length = 0;
      random = null;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        agent.destroy();
      });
    },
  };
}

function hasHeader(headers: Record<string, string> | undefined, name: string): boolean {
  return headers !== undefined && Object.keys(headers).some((h) => h.toLowerCase() === name);
}
