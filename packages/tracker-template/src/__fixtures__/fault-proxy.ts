/**
 * A loopback proxy in front of the server that fails chosen requests on
 * purpose: an answer of its own (429 with Retry-After, 503) without passing
 * the request on, a connection reset before the request reaches the server,
 * or a reset after the server applied it (the answer is lost, so the client
 * must send it again and the server must not apply it twice).
 */
import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { status: number; headers?: Record<string, string>; body?: string }
  | 'reset-before'
  | 'reset-after';

export interface FaultProxy {
  url: string;
  /** Fails the next `times` requests whose `METHOD /path` matches. */
  failNext(match: RegExp, fault: Fault, times?: number): void;
  /** How many faults were injected, by kind ('429', '503', 'reset-before', 'reset-after'). */
  injected: Record<string, number>;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const pending: { match: RegExp; fault: Fault; left: number }[] = [];
  const injected: Record<string, number> = {};
  const upstream = new URL(target);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const line = `${req.method} ${req.url}`;
    const entry = pending.find((p) => p.left > 0 && p.match.test(line));
    const fault = entry?.fault;
    if (entry !== undefined) {
      entry.left -= 1;
      const kind = typeof fault === 'string' ? fault : String(fault?.status);
      injected[kind] = (injected[kind] ?? 0) + 1;
    }
    if (fault === 'reset-before') return void req.socket.destroy();
    if (typeof fault === 'object') {
      res.writeHead(fault.status, { 'content-type': 'text/plain', ...fault.headers });
      return void res.end(fault.body ?? '');
    }
    const forwarded = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host, 'content-length': String(body.length) },
      },
      (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (part: Buffer) => parts.push(part));
        answer.on('end', () => {
          if (fault === 'reset-after') return void req.socket.destroy();
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          res.end(Buffer.concat(parts));
        });
      },
    );
    forwarded.on('error', () => req.socket.destroy());
    forwarded.end(body);
  };

  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    injected,
    failNext(match, fault, times = 1) {
      pending.push({ match, fault, left: times });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
