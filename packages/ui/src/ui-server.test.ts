/**
 * The viewer's server over a real store, asked over HTTP as a browser would: the token and
 * the Host check on every request, the runs list with MLflow's filter syntax, a run with its
 * summaries, chart series, artifacts served only by artifact path, and a live run's events.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, LocalExperimentTracker, type Run, silentLogger } from '@trackstack/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUi, type UiServer } from './ui-server.js';

let storeDir: string;
let ui: UiServer;
let baseline: Run;
let other: Run;

const tracker = () =>
  createTracker(new LocalExperimentTracker({}, { storeDir }), { logger: silentLogger });

beforeAll(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-ui-'));
  baseline = await tracker().startRun({
    experiment: 'iris',
    name: 'baseline',
    systemMetrics: false,
  });
  baseline.logParams({ lr: 0.01 });
  baseline.setTag('team', 'ml');
  for (let step = 0; step < 5000; step++) {
    baseline.logMetrics({ loss: 1 / (step + 1), 'val/acc': step / 5000 }, { step });
  }
  const model = join(storeDir, 'model.json');
  await writeFile(model, '{"w":[1,2,3]}');
  await baseline.logArtifact(model, { artifactPath: 'models/model.json' });
  await baseline.end();
  other = await tracker().startRun({ experiment: 'iris', name: 'other', systemMetrics: false });
  other.logParams({ lr: 0.1 });
  other.logMetric('val/acc', 0.5);
  await other.end();
  ui = await startUi({ storeDir, liveIntervalMs: 100 });
});

afterAll(async () => {
  await ui?.close();
  await rm(storeDir, { recursive: true, force: true });
});

const api = (path: string, init: RequestInit = {}) => {
  const url = new URL(path, ui.url);
  return fetch(url, {
    ...init,
    headers: { authorization: `Bearer ${ui.token}`, ...(init.headers ?? {}) },
  });
};

describe('the viewer server', () => {
  it('prints a loopback URL with its token, and refuses a request without the token', async () => {
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
    const bare = await fetch(new URL('/api/runs', ui.url));
    expect(bare.status).toBe(401);
    const wrong = await fetch(new URL('/api/runs?token=nope', ui.url));
    expect(wrong.status).toBe(401);
    // The URL's token is taken once, then a cookie carries it (a browser's later requests).
    const first = await fetch(new URL(`/api/runs?token=${ui.token}`, ui.url));
    expect(first.status).toBe(200);
    const cookie = first.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/i);
    const later = await fetch(new URL('/api/runs', ui.url), {
      headers: { cookie: cookie.split(';')[0]! },
    });
    expect(later.status).toBe(200);
  });

  it('refuses a Host it is not (DNS rebinding), token or not', async () => {
    // fetch cannot set Host: a plain node:http request can, as a rebinding page's would arrive.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const request = httpRequest(
        new URL('/api/runs', ui.url),
        { headers: { host: 'evil.example:80', authorization: `Bearer ${ui.token}` } },
        (response) => {
          response.resume();
          resolve(response.statusCode);
        },
      );
      request.on('error', reject);
      request.end();
    });
    expect(status).toBe(403);
  });

  it("lists the store's runs, filtered with MLflow's search syntax", async () => {
    const all = (await (await api('/api/runs')).json()) as { runs: { name: string }[] };
    expect(all.runs.map((r) => r.name)).toEqual(['other', 'baseline']);
    const filtered = (await (
      await api(
        `/api/runs?filter=${encodeURIComponent("metrics.val/acc > 0.9 and params.lr = '0.01' and tags.team = 'ml'")}`,
      )
    ).json()) as { runs: { name: string; metrics: Record<string, number> }[] };
    expect(filtered.runs.map((r) => r.name)).toEqual(['baseline']);
    const bad = await api(`/api/runs?filter=${encodeURIComponent("params.lr > '1'")}`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('INVALID_FILTER');
  });

  it("gives a run's snapshot and summaries, without this machine's paths", async () => {
    const response = await api(`/api/runs/${baseline.uid}`);
    const text = await response.text();
    const body = JSON.parse(text) as {
      run: { params: Record<string, string>; artifacts: { path: string }[] };
      summaries: Record<string, { count: number; min: number; max: number }>;
    };
    expect(body.run.params).toEqual({ lr: '0.01' });
    expect(body.summaries.loss).toMatchObject({ count: 5000, min: 1 / 5000, max: 1 });
    expect(body.run.artifacts.map((a) => a.path)).toEqual(['models/model.json']);
    expect(text).not.toContain(storeDir);
    expect((await api('/api/runs/no-such-run')).status).toBe(404);
  });

  it("gives a run's first charts with it, at the width asked for", async () => {
    const body = (await (await api(`/api/runs/${baseline.uid}?points=100`)).json()) as {
      series: Record<string, { exact: boolean; points: { count: number }[] }>;
    };
    expect(Object.keys(body.series).sort()).toEqual(['loss', 'val/acc']);
    expect(body.series.loss!.points.length).toBeLessThanOrEqual(100);
    expect(body.series.loss!.points.reduce((n, p) => n + p.count, 0)).toBe(5000);
    const bad = await api(`/api/runs/${baseline.uid}?points=-3`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(
      /points must be a positive integer/,
    );
  });

  it("serves a chart's series at the resolution asked for, exact when zoomed in", async () => {
    const wide = (await (
      await api(`/api/runs/${baseline.uid}/series?key=loss&points=200`)
    ).json()) as {
      exact: boolean;
      points: { count: number }[];
    };
    expect(wide.exact).toBe(false);
    expect(wide.points.length).toBeLessThanOrEqual(200);
    expect(wide.points.reduce((n, p) => n + p.count, 0)).toBe(5000);
    const zoom = (await (
      await api(`/api/runs/${baseline.uid}/series?key=loss&from=10&to=19&points=200`)
    ).json()) as { exact: boolean; points: { step: number; value: number }[] };
    expect(zoom.exact).toBe(true);
    expect(zoom.points.map((p) => p.step)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(zoom.points[0]!.value).toBe(1 / 11);
  });

  it('serves an artifact by its artifact path only, as the staged bytes', async () => {
    const response = await api(`/api/runs/${baseline.uid}/artifacts/models/model.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response.text()).toBe('{"w":[1,2,3]}');
    for (const path of ['../run.json', '..%2Frun.json', 'models/../../run.json', 'nope.txt']) {
      expect((await api(`/api/runs/${baseline.uid}/artifacts/${path}`)).status, path).toBe(404);
    }
  });

  it("streams a live run's summaries as it logs, then its end", async () => {
    const live = await tracker().startRun({
      experiment: 'iris',
      name: 'live',
      systemMetrics: false,
      flushIntervalMs: 50,
    });
    live.logMetric('m', 1, { step: 0 });
    await live.flush();
    const response = await api(`/api/runs/${live.uid}/events`);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    const until = async (pattern: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!pattern.test(seen)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in ${seen}`);
        const { value, done } = await reader.read();
        if (done) break;
        seen += decoder.decode(value);
      }
    };
    await until(/event: summaries\ndata: .*"count":1/);
    const t0 = Date.now();
    live.logMetric('m', 2, { step: 1 });
    await live.flush();
    await until(/"count":2/);
    // A new point reaches the open page within a second.
    expect(Date.now() - t0).toBeLessThan(1000);
    await live.end();
    await until(/event: end\ndata: FINISHED/);
    await reader.cancel();
  });
});
