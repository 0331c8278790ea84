import { defineConfig } from 'vite';

// The web pages, built into dist/web beside the server (tsup builds dist/index.js first).
export default defineConfig({
  root: 'web',
  base: './',
  logLevel: 'warn',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 600,
  },
});
