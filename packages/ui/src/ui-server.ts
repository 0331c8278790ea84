/**
 * The viewer's web server: a JSON API over every run of a store, whatever
 * its flavors (each run's journal is on this machine), read through the
 * runs' read indexes so that opening a run of ten million points costs what
 * one of a thousand does.
 *
 *   GET /api/runs?experiment=&filter=      the runs (newest first), each with its latest
 *                                          metrics, params and tags; `filter` in MLflow's
 *                                          search syntax
 *   GET /api/runs/:uid?points=             the run's snapshot (with each destination's
 *                                          delivery), each metric's summary and, with
 *                                          `points`, the series of its charts (not system/*)
 *   GET /api/runs/:uid/series?key=&from=&to=&points=&by=
 *                                          a chart's series (exact points for a zoomed range)
 *   GET /api/runs/:uid/console             the console output, as text
 *   GET /api/runs/:uid/artifacts/<path>    an artifact's staged copy, by its artifact path
 *   GET /api/runs/:uid/media/:n            the run's n-th media value's file: an image's bytes,
 *                                          a table's staged JSON (`/images/:i` its image cells)
 *   GET /api/runs/:uid/events              server-sent events: the run's summaries, each time
 *                                          they change (a live run), then `end`
 *   GET /, /assets/*                       the web pages (built by Vite into dist/web)
 *
 * Security, as Jupyter does it: a random token in the printed URL, required
 * on every request (`?token=`, then a cookie, or `Authorization: Bearer`);
 * the Host header must name this server (no DNS rebinding); files are served
 * only as a run's artifacts, looked up by artifact path, never from a path
 * the request names; it binds 127.0.0.1 unless told otherwise.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import {
  LocalRuns,
  type RunDelivery,
  type RunSnapshot,
  type Series,
  TrackstackError,
} from '@trackstack/core';
import { matchesRunFilter, parseRunFilter } from '@trackstack/core/store';
import { Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { defaultWebDir, loadWebAssets } from './web-assets.js';

export interface UiOptions {
  /** The store whose runs it serves. */
  storeDir: string;
  /** Default 127.0.0.1. Another host is listened on only when given here. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default: 32 random bytes, hex. */
  token?: string;
  /** How often a live run's page is checked for new data, ms. Default 500. */
  liveIntervalMs?: number;
  /** The built web pages. Default: the package's own (`dist/web`). */
  webDir?: string;
}

export interface UiServer {
  /** The URL to open, with the token. */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  close(): Promise<void>;
}

const COOKIE = 'trackstack_ui_token';
/** At most this many series in a run's answer (`?points=`); the page asks for the others. */
const EMBEDDED_SERIES = 24;

/**
 * A number from the query (undefined when absent): finite, or with `positiveInteger` a whole
 * number from 1; anything else a typed 400 naming the parameter.
 */
function queryNumber(
  text: string | undefined,
  name: string,
  rule: 'finite' | 'positiveInteger' = 'finite',
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  const ok = rule === 'finite' ? Number.isFinite(value) : Number.isInteger(value) && value >= 1;
  if (!ok) {
    throw new TrackstackError(
      'INVALID_FILTER',
      `${name} must be ${rule === 'finite' ? 'a number' : 'a positive integer'}, not ${JSON.stringify(text)}`,
    );
  }
  return value;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The API as a Hono app (what `startUi` serves), for a store and a token. */
export function uiApp(options: {
  storeDir: string;
  token: string;
  allowedHosts: () => ReadonlySet<string>;
  liveIntervalMs?: number;
  webDir?: string;
}): Hono {
  const runs = new LocalRuns(options.storeDir);
  const assets = loadWebAssets(options.webDir ?? defaultWebDir());
  const app = new Hono();
  const expected = Buffer.from(options.token);
  const tokenOk = (given: string | undefined) => {
    if (given === undefined) return false;
    const bytes = Buffer.from(given);
    return bytes.length === expected.length && timingSafeEqual(bytes, expected);
  };

  app.use('*', async (c, next) => {
    const host = c.req.header('host') ?? '';
    if (!options.allowedHosts().has(host.toLowerCase())) {
      return c.json({ error: `host ${JSON.stringify(host)} is not this server` }, 403);
    }
    const query = c.req.query('token');
    const bearer = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1];
    if (tokenOk(query) || tokenOk(bearer) || tokenOk(getCookie(c, COOKIE))) {
      if (tokenOk(query)) {
        setCookie(c, COOKIE, options.token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      }
      return next();
    }
    return c.json({ error: 'a token is needed: open the URL trackstack ui printed' }, 401);
  });

  app.onError((error, c) => {
    if (TrackstackError.isInstance(error)) {
      const status =
        error.code === 'RUN_NOT_FOUND' ? 404 : error.code === 'INVALID_FILTER' ? 400 : 500;
      return c.json({ error: error.message, code: error.code }, status);
    }
    return c.json({ error: String(error) }, 500);
  });

  app.get('/api/runs', async (c) => {
    const experiment = c.req.query('experiment');
    const filter = c.req.query('filter');
    const clauses = filter === undefined ? [] : parseRunFilter(filter);
    const out: unknown[] = [];
    for (const summary of await runs.list(experiment === undefined ? {} : { experiment })) {
      const { snapshot, deliveries } = await runs.view(summary.uid);
      if (matchesRunFilter(clauses, snapshot)) out.push(plainSnapshot(snapshot, deliveries));
    }
    return c.json({ runs: out });
  });

  app.get('/api/runs/:uid', async (c) => {
    const view = await runs.view(c.req.param('uid'));
    const { snapshot, summaries, deliveries } = view;
    const points = queryNumber(c.req.query('points'), 'points', 'positiveInteger');
    // The page's first charts in the same answer: every key's series but system metrics'.
    const series: Record<string, Series> = {};
    if (points !== undefined) {
      const keys = Object.keys(summaries).filter((k) => !k.startsWith('system/'));
      for (const key of keys.slice(0, EMBEDDED_SERIES)) {
        series[key] = await view.series(key, { points });
      }
    }
    return c.json({
      run: plainSnapshot(snapshot, deliveries),
      summaries: plain(summaries),
      ...(points === undefined ? {} : { series: plain(series) }),
    });
  });

  app.get('/api/runs/:uid/series', async (c) => {
    const number = (name: string) => queryNumber(c.req.query(name), name);
    const key = c.req.query('key');
    if (key === undefined) return c.json({ error: 'key is needed' }, 400);
    const by = c.req.query('by') === 'order' ? ('order' as const) : ('step' as const);
    const series = await runs.series(c.req.param('uid'), key, {
      from: number('from'),
      to: number('to'),
      points: number('points'),
      by,
    });
    return c.json(plain(series));
  });

  app.get('/api/runs/:uid/console', async (c) =>
    c.text(await runs.consoleText(c.req.param('uid'))),
  );

  app.get('/api/runs/:uid/artifacts/*', async (c) => {
    const uid = c.req.param('uid');
    const prefix = `/api/runs/${encodeURIComponent(uid)}/artifacts/`;
    const path = decodeURIComponent(new URL(c.req.url).pathname.slice(prefix.length));
    // Only a path the run logged: the file served is the run's own staged copy.
    const artifact = (await runs.get(uid)).artifacts.find((a) => a.path === path);
    if (artifact === undefined) return c.json({ error: `run ${uid} has no artifact ${path}` }, 404);
    return fileResponse(artifact.file, artifact.contentType, artifact.size);
  });

  app.get('/api/runs/:uid/media/:n/:part?/:i?', async (c) => {
    const uid = c.req.param('uid');
    const n = Number(c.req.param('n'));
    const media = Number.isInteger(n) ? (await runs.get(uid)).media[n] : undefined;
    if (media === undefined) return c.json({ error: `run ${uid} has no media value ${n}` }, 404);
    const part = c.req.param('part');
    if (part === undefined && media.kind === 'image') {
      const { localPath, format, size } = media.image;
      return fileResponse(localPath, `image/${format}`, size);
    }
    if (part === undefined && media.kind === 'histogram') return c.json(plain(media));
    if (media.kind === 'table' && part === undefined) {
      // The staged file as it is: `{ columns, rows }`, an image cell as `{ $image: i }`,
      // a non-finite number as `{ $number }`.
      const text = await readFile(media.table.localPath, 'utf8');
      return c.body(text, 200, { 'content-type': 'application/json' });
    }
    const image =
      media.kind === 'table' && part === 'images'
        ? media.images[Number(c.req.param('i'))]
        : undefined;
    if (image === undefined) return c.json({ error: 'no such media file' }, 404);
    return fileResponse(image.localPath, `image/${image.format}`, image.size);
  });

  app.get('/api/runs/:uid/events', (c) => {
    const uid = c.req.param('uid');
    return streamSSE(c, async (stream) => {
      let last = '';
      for (;;) {
        const { snapshot, summaries } = await runs.view(uid);
        const text = JSON.stringify(plain(summaries));
        if (text !== last) {
          last = text;
          await stream.writeSSE({ event: 'summaries', data: text });
        }
        if (snapshot.status !== 'RUNNING') {
          await stream.writeSSE({ event: 'end', data: snapshot.status });
          return;
        }
        await stream.sleep(options.liveIntervalMs ?? 500);
        if (stream.aborted) return;
      }
    });
  });

  app.get('*', (c) => {
    const asset = assets.get(new URL(c.req.url).pathname);
    if (asset === undefined) {
      if (assets.size === 0) {
        return c.text('the web pages are not built: run `pnpm build` in packages/ui', 503);
      }
      return c.json({ error: 'not found' }, 404);
    }
    return c.body(new Uint8Array(asset.body), 200, {
      'content-type': asset.contentType,
      'cache-control': asset.immutable ? 'private, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
      'content-security-policy':
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    });
  });

  return app;
}

/** A staged file of the run, shown and never run as this origin's page. */
function fileResponse(file: string, contentType: string, size: number): Response {
  return new Response(Readable.toWeb(createReadStream(file)) as ReadableStream, {
    headers: {
      'content-type': contentType,
      'content-length': String(size),
      'content-security-policy': "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
      'x-content-type-options': 'nosniff',
    },
  });
}

/** Starts the viewer's server; resolves once it listens. */
export async function startUi(options: UiOptions): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? randomBytes(32).toString('hex');
  let allowed: ReadonlySet<string> = new Set();
  const app = uiApp({
    storeDir: options.storeDir,
    token,
    allowedHosts: () => allowed,
    ...(options.liveIntervalMs === undefined ? {} : { liveIntervalMs: options.liveIntervalMs }),
    ...(options.webDir === undefined ? {} : { webDir: options.webDir }),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 0 }, () =>
      resolve(s),
    );
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const names = LOOPBACK.has(host) ? [...LOOPBACK] : [host];
  allowed = new Set(
    names.map(
      (name) => `${name.includes(':') && !name.startsWith('[') ? `[${name}]` : name}:${port}`,
    ),
  );
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/**
 * A value as JSON carries it: NaN and ±Infinity as strings (JSON has no such numbers), and
 * without the fields named in `hidden`.
 */
function plain<T>(value: T, hidden: ReadonlySet<string> = new Set()): T {
  return JSON.parse(
    JSON.stringify(value, (key, v) =>
      hidden.has(key) ? undefined : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
    ),
  ) as T;
}

/** The paths of this machine in a snapshot: the run's directory, staged copies. */
const LOCAL_PATHS: ReadonlySet<string> = new Set(['dir', 'file', 'localPath']);

/** A run as the pages get it: its snapshot and each destination's delivery. */
function plainSnapshot(snapshot: RunSnapshot, deliveries: RunDelivery[]): unknown {
  return plain({ ...snapshot, deliveries }, LOCAL_PATHS);
}
