import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

export default defineConfig({
  entry: { cli: 'src/cli.ts' },
  format: ['esm'],
  // A program, not a library: no declarations to publish.
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: ['@trackstack/core', 'zod'],
  define: { __PACKAGE_VERSION__: JSON.stringify(version) },
});
