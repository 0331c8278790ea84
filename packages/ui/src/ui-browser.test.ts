/**
 * The viewer in a real browser (Debian's chromium through playwright-core):
 * the runs table and its filter, a run page's charts drawn on their canvases,
 * zoom loading exact points, artifact and media previews, a live run's chart
 * growing as it logs, compare, and a request without the token refused.
 * Screenshots of each page go to test-output/screenshots/.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, LocalExperimentTracker, type Run, silentLogger } from '@trackstack/core';
import { InMemoryTracker } from '@trackstack/core/testing';
import {
  type Browser,
  chromiumPath,
  launchBrowser,
  linePixels,
  type Page,
  screenshot as save,
} from '@trackstack/test-harness/browser';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUi, type UiServer } from './ui-server.js';

const screenshot = (page: Page, name: string) => save(page, join(import.meta.dirname, '..'), name);
const haveBrowser = chromiumPath() !== undefined;
if (!haveBrowser && process.env.CI === 'true')
  throw new Error('CI needs chromium (.ci/run installs it)');

let storeDir: string;
let ui: UiServer;
let browser: Browser;
let page: Page;
let baseline: Run;
let other: Run;
let shipped: Run;

const tracker = () =>
  createTracker(new LocalExperimentTracker({}, { storeDir }), { logger: silentLogger });

/** A 96×64 gradient: an image a preview must show, not a blank box. */
function gradientPng(): Buffer {
  const png = new PNG({ width: 96, height: 64 });
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 96; x++) {
      const i = (y * 96 + x) * 4;
      png.data[i] = x * 2;
      png.data[i + 1] = y * 3;
      png.data[i + 2] = 200;
      png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><rect width="120" height="80" fill="#f97316"/><circle cx="60" cy="40" r="30" fill="#2563eb"/></svg>';

beforeAll(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-ui-browser-'));
  baseline = await tracker().startRun({
    experiment: 'iris',
    name: 'baseline',
    systemMetrics: false,
  });
  baseline.logParams({ lr: 0.01, layers: 2 });
  baseline.setTag('team', 'ml');
  for (let step = 0; step < 5000; step++) {
    baseline.logMetrics({ loss: 1 / (step + 1), 'val/acc': 0.5 + (0.45 * step) / 5000 }, { step });
  }
  const files = await mkdtemp(join(tmpdir(), 'trackstack-ui-files-'));
  await writeFile(join(files, 'sample.png'), gradientPng());
  await writeFile(join(files, 'boundary.svg'), SVG);
  await writeFile(join(files, 'metrics.json'), '{"accuracy":0.95,"classes":["a","b"]}');
  await baseline.logArtifact(join(files, 'sample.png'), { artifactPath: 'plots/sample.png' });
  await baseline.logArtifact(join(files, 'boundary.svg'), { artifactPath: 'plots/boundary.svg' });
  await baseline.logArtifact(join(files, 'metrics.json'), { artifactPath: 'metrics.json' });
  await baseline.logImage('samples', gradientPng(), { step: 1, caption: 'a gradient' });
  baseline.logHistogram('weights', [0.1, 0.2, 0.2, 0.3, 0.5, 0.8, 0.9], { step: 1 });
  await baseline.end();
  await rm(files, { recursive: true, force: true });
  other = await tracker().startRun({ experiment: 'iris', name: 'other', systemMetrics: false });
  other.logParams({ lr: 0.1, layers: 2 });
  for (let step = 0; step < 100; step++) other.logMetric('val/acc', 0.4 + step / 400, { step });
  await other.end();
  // A run delivered to a tracker: the table shows its destination, linked to the backend's page.
  shipped = await createTracker(
    new InMemoryTracker({ backend: `ui-${process.pid}`, ordered_writes: false }, { storeDir }),
    {
      logger: silentLogger,
    },
  ).startRun({ experiment: 'mnist', name: 'shipped', systemMetrics: false });
  shipped.logMetric('val/acc', 0.7);
  await shipped.end();
  ui = await startUi({ storeDir });
  if (haveBrowser) {
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  }
});

afterAll(async () => {
  await browser?.close();
  await ui?.close();
  await rm(storeDir, { recursive: true, force: true });
});

const runRows = () =>
  page.$$eval('#runs tbody tr', (rows) =>
    rows.map((r) => r.querySelector('.run-link')?.textContent),
  );

describe.skipIf(!haveBrowser)('the viewer in chromium', () => {
  it("lists the store's runs, and the filter narrows them", async () => {
    await page.goto(ui.url);
    await page.waitForSelector('#runs tbody tr');
    expect(await runRows()).toEqual(['shipped', 'other', 'baseline']);
    // The token left the address bar once the cookie had it.
    expect(page.url()).not.toContain(ui.token);
    const delivery = page.locator(`tr[data-uid="${shipped.uid}"] .delivery`);
    expect(await delivery.textContent()).toBe('memory ✓');
    expect(await delivery.locator('a').getAttribute('href')).toMatch(/^memory:\/\/ui-\d+\/run-/);
    expect(await page.textContent(`tr[data-uid="${baseline.uid}"] td:nth-child(7)`)).toBe('local');
    await screenshot(page, 'runs');
    await page.selectOption('#experiment', 'iris');
    await page.waitForFunction(() => document.querySelectorAll('#runs tbody tr').length === 2);
    expect(await runRows()).toEqual(['other', 'baseline']);
    await page.fill('#filter', "metrics.val/acc > 0.9 and params.lr = '0.01' and tags.team = 'ml'");
    await page.press('#filter', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('#runs tbody tr').length === 1);
    expect(await runRows()).toEqual(['baseline']);
    await page.fill('#filter', "params.lr > '1'");
    await page.press('#filter', 'Enter');
    await page.waitForFunction(() => document.querySelector('#filter-error')?.textContent !== '');
    expect(await page.textContent('#filter-error')).toMatch(/lr/);
    await page.fill('#filter', '');
    await page.press('#filter', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('#runs tbody tr').length === 2);
  });

  it('sorts by a column, and the column picker adds a param', async () => {
    await page.click('th[data-column="name"]');
    expect(await runRows()).toEqual(['baseline', 'other']);
    await page.click('th[data-column="name"]');
    expect(await runRows()).toEqual(['other', 'baseline']);
    await page.click('#columns');
    const layers = page.locator('input[data-column="params.layers"]');
    if (!(await layers.isChecked())) await layers.check();
    await page.waitForSelector('th[data-column="params.layers"]');
  });

  it("draws a run's charts at the chart's width, and zooming in loads exact points", async () => {
    await page.goto(`${new URL(ui.url).origin}/#/run/${baseline.uid}`);
    await page.waitForSelector('figure.chart[data-key="loss"][data-points]');
    await page.waitForSelector('figure.chart[data-key="val/acc"][data-points]');
    const chart = page.locator('figure.chart[data-key="loss"]');
    const width = (await chart.locator('.chart-plot').boundingBox())!.width;
    const points = Number(await chart.getAttribute('data-points'));
    // 5000 points in a chart a few hundred pixels wide: no more points than pixels.
    expect(points).toBeGreaterThan(50);
    expect(points).toBeLessThanOrEqual(width);
    expect(await chart.getAttribute('data-exact')).toBe('false');
    const pixels = await linePixels(page, 'figure.chart[data-key] canvas');
    expect(
      pixels.every((n) => n > 100),
      `line pixels per chart: ${pixels}`,
    ).toBe(true);
    await expect.poll(() => page.locator('#previews img').count()).toBe(2);
    await screenshot(page, 'run');

    // Drag over a twentieth of the x axis: a few hundred steps, every one of them drawn.
    const over = chart.locator('.u-over');
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.55, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => chart.getAttribute('data-exact')).toBe('true');
    const zoomed = Number(await chart.getAttribute('data-points'));
    expect(zoomed).toBeGreaterThan(100);
    expect(zoomed).toBeLessThan(400);
    await chart.locator('.u-over').dblclick();
    await expect.poll(() => chart.getAttribute('data-exact')).toBe('false');
  });

  it('redraws with smoothing, a log y axis, and x as wall or relative time', async () => {
    const chart = page.locator('figure.chart[data-key="loss"]');
    const legend = () => chart.locator('.u-legend .u-series .u-label').allTextContents();
    const xFirst = async () => Number(await chart.getAttribute('data-x-first'));
    await page.selectOption('#x-axis', 'relative');
    await expect.poll(() => chart.getAttribute('data-x')).toBe('relative');
    // Seconds since the run started: the first bucket's mid time, within the run's few seconds.
    expect(await xFirst()).toBeGreaterThanOrEqual(0);
    expect(await xFirst()).toBeLessThan(30);
    await page.selectOption('#x-axis', 'wall');
    await expect.poll(() => chart.getAttribute('data-x')).toBe('wall');
    expect(Math.abs((await xFirst()) - baseline.startTime / 1000)).toBeLessThan(30);
    await page.check('#log-y');
    await page.locator('#smoothing').fill('0.9');
    await expect.poll(legend).toContain('loss (raw)');
    const pixels = await linePixels(page, 'figure.chart[data-key] canvas');
    expect(
      pixels.every((n) => n > 100),
      `line pixels per chart: ${pixels}`,
    ).toBe(true);
    await screenshot(page, 'run-smoothed');
    await page.locator('#smoothing').fill('0');
    await page.uncheck('#log-y');
    await page.selectOption('#x-axis', 'step');
    await expect.poll(legend).not.toContain('loss (raw)');
  });

  it('previews image, SVG and JSON artifacts, and shows media', async () => {
    const loaded = await page.$$eval('#previews img', (images) =>
      (images as HTMLImageElement[]).map((i) => [i.alt, i.complete && i.naturalWidth]),
    );
    expect(Object.fromEntries(loaded)).toEqual({
      'plots/sample.png': 96,
      'plots/boundary.svg': 120,
    });
    await page.click('button:text("metrics.json")');
    const json = page.locator('[data-artifact="metrics.json"] pre');
    await expect.poll(() => json.textContent()).toContain('"accuracy": 0.95');
    const image = page.locator('figure.media-image img');
    await expect.poll(() => image.evaluate((i) => (i as HTMLImageElement).naturalWidth)).toBe(96);
    await expect.poll(() => page.locator('figure.media-histogram canvas').count()).toBe(1);
  });

  it('overlays a metric across runs, and shows which params differ', async () => {
    await page.goto(`${new URL(ui.url).origin}/#/`);
    await page.waitForSelector('#runs tbody tr');
    for (const uid of [baseline.uid, other.uid])
      await page.check(`tr[data-uid="${uid}"] input[type="checkbox"]`);
    await page.click('#compare');
    await page.selectOption('#compare-key', 'val/acc');
    await page.waitForSelector('#overlay figure.chart[data-points]');
    // Two lines: 100 exact points of one run and the buckets of the other.
    const legend = await page.$$eval('#overlay .u-legend .u-series .u-label', (labels) =>
      labels.map((l) => l.textContent),
    );
    expect(legend).toEqual(expect.arrayContaining(['baseline', 'other']));
    expect(await page.getAttribute('tr[data-param="lr"]', 'class')).toBe('differs');
    expect(await page.getAttribute('tr[data-param="layers"]', 'class')).toBeNull();
    await screenshot(page, 'compare');
  });

  it("grows a live run's chart while it logs, with no reload", async () => {
    const live = await tracker().startRun({
      experiment: 'iris',
      name: 'live',
      systemMetrics: false,
      flushIntervalMs: 50,
    });
    for (let step = 0; step < 10; step++) live.logMetric('loss', 1 / (step + 1), { step });
    await live.flush();
    await page.goto(`${new URL(ui.url).origin}/#/run/${live.uid}`);
    const chart = page.locator('figure.chart[data-key="loss"]');
    await expect.poll(() => chart.getAttribute('data-points')).toBe('10');
    await page.evaluate(() => {
      (window as unknown as { marker: boolean }).marker = true;
    });
    for (let step = 10; step < 30; step++) live.logMetric('loss', 1 / (step + 1), { step });
    await live.flush();
    const logged = Date.now();
    await expect.poll(() => chart.getAttribute('data-points'), { timeout: 5000 }).toBe('30');
    // Within a second of the flush, and the same page (no reload).
    expect(Date.now() - logged).toBeLessThan(1500);
    expect(await page.evaluate(() => (window as unknown as { marker?: boolean }).marker)).toBe(
      true,
    );
    await screenshot(page, 'live');
    await live.end();
    await expect.poll(() => page.textContent('#run-status')).toBe('FINISHED');
  });

  it('refuses a page without the token', async () => {
    const context = await browser.newContext();
    const bare = await context.newPage();
    const response = await bare.goto(new URL(ui.url).origin);
    expect(response!.status()).toBe(401);
    expect(await bare.textContent('body')).toMatch(/token/);
    await context.close();
  });
});
