/**
 * A self-signed HTTPS server on 127.0.0.1 that answers like MLflow where the tests need it
 * (experiments/search, experiments/get-by-name, runs/search, runs/create, log-batch,
 * runs/update), with a key and certificate made by `openssl req -x509` in a temp directory.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsServer {
  url: string;
  certPath: string;
  /** Another self-signed certificate (CN=other.example), not the server's. */
  otherCertPath: string;
  /** Request paths seen (path and query). */
  paths: string[];
  /** Authorization headers seen (to check what a client sent, never printed). */
  authorizations: string[];
  close(): Promise<void>;
}

export async function startSelfSignedMlflow(): Promise<TlsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'trackstack-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  const otherCertPath = join(dir, 'other.pem');
  makeCert(join(dir, 'other-key.pem'), otherCertPath, 'other.example', 'DNS:other.example');
  makeCert(keyPath, certPath, '127.0.0.1', 'IP:127.0.0.1,DNS:localhost');
  const paths: string[] = [];
  const authorizations: string[] = [];
  const server: Server = createServer(
    { key: readFileSync(keyPath), cert: readFileSync(certPath) },
    (req, res) => {
      paths.push(req.url ?? '/');
      if (req.headers.authorization !== undefined) authorizations.push(req.headers.authorization);
      req.resume();
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0];
        let body: unknown = {};
        if (path?.endsWith('/experiments/search')) body = { experiments: [] };
        else if (path?.endsWith('/experiments/get-by-name'))
          body = { experiment: { experiment_id: '1', name: 'tls', lifecycle_stage: 'active' } };
        else if (path?.endsWith('/runs/search')) body = { runs: [] };
        else if (path?.endsWith('/runs/create') || path?.endsWith('/runs/get'))
          body = { run: { info: { run_id: 'r1', experiment_id: '1', status: 'RUNNING' } } };
        const text = JSON.stringify(body);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length });
        res.end(text);
      });
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    certPath,
    otherCertPath,
    paths,
    authorizations,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function makeCert(keyPath: string, certPath: string, cn: string, san: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=${san}`,
    ],
    { stdio: 'pipe' },
  );
}
