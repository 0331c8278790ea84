/**
 * The quickstart's run in the viewer, as a new user sees it: `trackstack ui` (the built CLI)
 * over the store the run went to, opened in chromium: the runs table lists the run, its page
 * draws every curve and previews the decision-boundary SVG.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type Browser,
  chromiumPath,
  launchBrowser,
  linePixels,
  screenshot,
} from '@trackstack/test-harness/browser';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ARTIFACT_PATHS, METRIC_KEYS, type TrainResult, train } from './train.js';

const haveBrowser = chromiumPath() !== undefined;
if (!haveBrowser && process.env.CI === 'true')
  throw new Error('CI needs chromium (.ci/run installs it)');
const packageDir = resolve(import.meta.dirname, '..');

let home: string;
let outputDir: string;
let result: TrainResult;
let viewer: ChildProcess | undefined;
let url: string;
let browser: Browser | undefined;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'trackstack-quickstart-ui-'));
  outputDir = await mkdtemp(join(tmpdir(), 'trackstack-quickstart-ui-out-'));
  vi.stubEnv('TRACKSTACK_HOME', home);
  result = await train({ outputDir, log: () => {} });
  viewer = spawn(join(packageDir, 'node_modules/.bin/trackstack'), ['ui', '--port', '0'], {
    env: { ...process.env, TRACKSTACK_HOME: home },
  });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    viewer!.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const last = out.trimEnd().split('\n').at(-1) ?? '';
      if (out.endsWith('\n') && last.startsWith('http://')) resolve(last);
    });
    viewer!.once('exit', (code) => reject(new Error(`trackstack ui exited ${code}`)));
  });
  if (haveBrowser) browser = await launchBrowser();
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await browser?.close();
  viewer?.kill('SIGINT');
  await rm(home, { recursive: true, force: true });
  await rm(outputDir, { recursive: true, force: true });
});

describe.skipIf(!haveBrowser)('the quickstart in trackstack ui', () => {
  it('shows the run with its curves and its decision boundary', async () => {
    const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    await page.waitForSelector(`tr[data-uid="${result.uid}"]`);
    await screenshot(page, packageDir, 'quickstart-runs');
    await page.click(`tr[data-uid="${result.uid}"] .run-link`);
    for (const key of METRIC_KEYS) {
      await page.waitForSelector(`figure.chart[data-key="${key}"][data-points]`);
    }
    const pixels = await linePixels(page, '#charts figure.chart canvas');
    expect(pixels).toHaveLength(METRIC_KEYS.length);
    expect(
      pixels.every((n) => n > 100),
      `line pixels per chart: ${pixels}`,
    ).toBe(true);
    const svg = page.locator(`#previews img[alt="${ARTIFACT_PATHS.decisionBoundary}"]`);
    await expect
      .poll(() => svg.evaluate((i) => (i as HTMLImageElement).naturalWidth))
      .toBeGreaterThan(100);
    await screenshot(page, packageDir, 'quickstart-run');
    await page.close();
  });
});
