/**
 * Run ids: UUIDv7 for new runs, UUIDv5 for runs derived from a ZenML step.
 * `uuid` loads on the first id, not with the package (synchronously: its CJS build).
 */
import { createRequire } from 'node:module';

const requireCjs = createRequire(import.meta.url);
let uuidModule: typeof import('uuid') | undefined;
const uuid = (): typeof import('uuid') => {
  uuidModule ??= requireCjs('uuid') as typeof import('uuid');
  return uuidModule;
};

/** A new run's id: time-ordered, so run directories sort by creation. */
export function uuidV7(): string {
  return uuid().v7();
}

/** The UUIDv5 of `name` in `namespace`: the same step run always gets the same id. */
export function uuidV5(name: string, namespace: string): string {
  return uuid().v5(name, namespace);
}
