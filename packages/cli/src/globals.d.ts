/** Replaced with the package version by tsup (and by vitest's `define`). */
declare const __PACKAGE_VERSION__: string;
