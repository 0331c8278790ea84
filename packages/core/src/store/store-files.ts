/**
 * The store's own files: which flavors were registered from which source, and
 * the configured trackers with which of them are active. Each file is checked
 * against a schema when read; a damaged file is an error that names it, never
 * a silent reset.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { TrackstackError } from '../contract/errors.js';
import { lazySchema } from '../contract/zod.js';
import { writeJsonAtomicSync } from '../engine/run-dir.js';

// Built on first use, with the zod core loads then (see ../zod.ts).
export const flavorsFileSchema = lazySchema((z) =>
  z.object({
    version: z.literal(1),
    flavors: z.record(z.string(), z.object({ source: z.string(), registeredAt: z.number() })),
  }),
);
export type FlavorsFile = z.output<ReturnType<typeof flavorsFileSchema>>;

export const trackersFileSchema = lazySchema((z) =>
  z.object({
    version: z.literal(1),
    trackers: z.record(
      z.string(),
      z.object({
        flavor: z.string(),
        config: z.record(z.string(), z.unknown()),
        labels: z.record(z.string(), z.string()).default({}),
      }),
    ),
    active: z.array(z.string()),
  }),
);
export type TrackersFile = z.output<ReturnType<typeof trackersFileSchema>>;

export const FLAVORS_FILE = 'flavors.json';
export const TRACKERS_FILE = 'trackers.json';

export function readStoreFile<S extends z.ZodType>(
  storeDir: string,
  name: string,
  schema: S,
  empty: z.output<S>,
): z.output<S> {
  const path = join(storeDir, name);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return empty;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text around the error, and the file may hold
    // secrets: keep only the position, and no cause.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new TrackstackError(
      'CORRUPT_FILE',
      `${path} is not valid JSON${position === undefined ? '' : ` (at position ${position})`}`,
      { hint: 'fix or remove the file; trackstack will not overwrite it' },
    );
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new TrackstackError(
      'CORRUPT_FILE',
      `${path} is not a trackstack ${name}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      { hint: 'fix or remove the file; trackstack will not overwrite it' },
    );
  }
  return result.data;
}

export function writeStoreFile(storeDir: string, name: string, value: unknown): void {
  writeJsonAtomicSync(join(storeDir, name), value);
}

export function readTrackersFile(storeDir: string): TrackersFile {
  return readStoreFile(storeDir, TRACKERS_FILE, trackersFileSchema(), {
    version: 1,
    trackers: {},
    active: [],
  });
}

export function readFlavorsFile(storeDir: string): FlavorsFile {
  return readStoreFile(storeDir, FLAVORS_FILE, flavorsFileSchema(), { version: 1, flavors: {} });
}
