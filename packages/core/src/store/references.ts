/**
 * Config values may hold `{{env.NAME}}` and `{{secret.name.key}}`. They are
 * resolved only when a tracker is built, so the store never holds the values
 * and listings show the references, not the secrets.
 */
import { join } from 'node:path';
import type { z } from 'zod';
import { TrackstackError } from '../contract/errors.js';
import { lazySchema } from '../contract/zod.js';
import { readStoreFile } from './store-files.js';

const REFERENCE = /\{\{\s*(env|secret)\.([A-Za-z0-9_.-]+)\s*\}\}/g;

export const SECRETS_FILE = 'secrets.json';
export const secretsFileSchema = lazySchema((z) =>
  z.object({
    version: z.literal(1),
    secrets: z.record(z.string(), z.record(z.string(), z.string())),
  }),
);

export interface ReferenceContext {
  env: Record<string, string | undefined>;
  storeDir: string;
}

export function hasReference(value: unknown): boolean {
  return typeof value === 'string' && new RegExp(REFERENCE.source).test(value);
}

/** Resolves every reference in a config's string values (nested objects and arrays included). */
export function resolveReferences(
  config: Record<string, unknown>,
  context: ReferenceContext,
): Record<string, unknown> {
  let secrets: z.output<ReturnType<typeof secretsFileSchema>> | undefined;
  const loadSecrets = () => {
    secrets ??= readStoreFile(context.storeDir, SECRETS_FILE, secretsFileSchema(), {
      version: 1,
      secrets: {},
    });
    return secrets;
  };
  const visit = (value: unknown, field: string): unknown => {
    if (typeof value === 'string') {
      return value.replace(REFERENCE, (_match, kind: string, path: string) => {
        if (kind === 'env') {
          const resolved = context.env[path];
          if (resolved === undefined) {
            throw new TrackstackError(
              'INVALID_CONFIG',
              `config field ${field} refers to environment variable ${path}, which is not set`,
            );
          }
          return resolved;
        }
        const dot = path.indexOf('.');
        const name = dot === -1 ? path : path.slice(0, dot);
        const key = dot === -1 ? 'value' : path.slice(dot + 1);
        const resolved = loadSecrets().secrets[name]?.[key];
        if (resolved === undefined) {
          throw new TrackstackError(
            'INVALID_CONFIG',
            `config field ${field} refers to secret ${name}.${key}, which does not exist in ${join(context.storeDir, SECRETS_FILE)}`,
            { hint: `create it with \`trackstack secret create ${name} --${key}=...\`` },
          );
        }
        return resolved;
      });
    }
    if (Array.isArray(value)) return value.map((item, i) => visit(item, `${field}[${i}]`));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [key, visit(item, `${field}.${key}`)]),
      );
    }
    return value;
  };
  return Object.fromEntries(Object.entries(config).map(([key, value]) => [key, visit(value, key)]));
}
