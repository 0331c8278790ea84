/** The CLI's version, filled in at build time (unbuilt, as in vitest: '0.0.0-dev'). */
export const VERSION: string =
  typeof __PACKAGE_VERSION__ === 'string' ? __PACKAGE_VERSION__ : '0.0.0-dev';
