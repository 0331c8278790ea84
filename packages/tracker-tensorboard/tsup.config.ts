import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: ['@trackstack/core', 'zod', '@bufbuild/protobuf', 'crc-32'],
  define: { __PACKAGE_VERSION__: JSON.stringify(version) },
});
