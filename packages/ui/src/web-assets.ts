/**
 * The viewer's web pages, as Vite built them into `dist/web`: read once at
 * startup into memory (a few hundred kB), served by their built names only,
 * so no request path reaches the file system.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface WebAsset {
  body: Buffer;
  contentType: string;
  /** Hashed file names (`assets/*`) never change: cached for good. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** The package's built pages: `dist/web` beside `dist/index.js`, or from `src/` in tests. */
export function defaultWebDir(): string {
  const candidates = [
    fileURLToPath(new URL('./web/', import.meta.url)),
    fileURLToPath(new URL('../dist/web/', import.meta.url)),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}

/** Every built file by its URL path (`/` for index.html); empty when the pages were not built. */
export function loadWebAssets(dir: string): Map<string, WebAsset> {
  const assets = new Map<string, WebAsset>();
  if (!existsSync(join(dir, 'index.html'))) return assets;
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) {
        walk(path);
      } else if (entry.isFile()) {
        const name = relative(dir, path).split(sep).join('/');
        assets.set(name === 'index.html' ? '/' : `/${name}`, {
          body: readFileSync(path),
          contentType: TYPES[extname(name)] ?? 'application/octet-stream',
          immutable: name.startsWith('assets/'),
        });
      }
    }
  };
  walk(dir);
  return assets;
}
