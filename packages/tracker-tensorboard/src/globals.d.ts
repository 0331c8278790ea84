/** Replaced with the package version by tsup (and by vitest's `define`). */
declare const __PACKAGE_VERSION__: string;

/** crc-32's CRC-32C (Castagnoli) module: the same API as its CRC-32, which has types. */
declare module 'crc-32/crc32c.js' {
  const crc32c: { buf(data: Uint8Array, seed?: number): number };
  export default crc32c;
}
