/**
 * The package version, filled in at build time. Read through `typeof` so the
 * sources also load unbuilt (jiti, `flavor register ./src/index.ts`).
 */
export const VERSION: string =
  typeof __PACKAGE_VERSION__ === 'string' ? __PACKAGE_VERSION__ : '0.0.0-dev';
