/**
 * A real browser for the viewer's tests: Debian's chromium (installed by
 * .ci/run with apt), driven by playwright-core; no browser download.
 * TRACKSTACK_CHROMIUM names another executable.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function chromiumPath(): string | undefined {
  const named = process.env.TRACKSTACK_CHROMIUM;
  if (named) return named;
  return CANDIDATES.find((path) => existsSync(path));
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (executablePath === undefined) throw new Error('no chromium: apt-get install chromium');
  return chromium.launch({
    executablePath,
    // Root in a container has no user namespace for chromium's sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/**
 * Saves a full-page screenshot as `<packageDir>/test-output/screenshots/<name>.png`, for a
 * reader to look at (test-output/ is not committed).
 */
export async function screenshot(page: Page, packageDir: string, name: string): Promise<string> {
  const dir = join(packageDir, 'test-output', 'screenshots');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Pixels of a chart's canvas in the line's colour (blue: #2563eb, within a margin). */
export function linePixels(page: Page, selector: string): Promise<number[]> {
  return page.$$eval(selector, (canvases) =>
    (canvases as HTMLCanvasElement[]).map((canvas) => {
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
        if (a > 128 && b > 180 && r < 120 && g < 160) count++;
      }
      return count;
    }),
  );
}
export type { Browser, Page } from 'playwright-core';
