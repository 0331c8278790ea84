/**
 * The store's files, read and written safely: every update takes the store's
 * lock (proper-lockfile), reads the file afresh, applies the change and
 * replaces the file atomically, so concurrent CLI processes never lose an
 * update. Files are created 0600 in a 0700 directory.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { TrackstackError } from '../contract/errors.js';
import { SECRETS_FILE, secretsFileSchema } from './references.js';
import { resolveStoreDir, STORE_DIR_NAME } from './store-dir.js';
import {
  FLAVORS_FILE,
  flavorsFileSchema,
  readStoreFile,
  TRACKERS_FILE,
  trackersFileSchema,
  writeStoreFile,
} from './store-files.js';

const FILES = {
  trackers: {
    name: TRACKERS_FILE,
    schema: trackersFileSchema,
    empty: () => ({ version: 1 as const, trackers: {}, active: [] }),
  },
  flavors: {
    name: FLAVORS_FILE,
    schema: flavorsFileSchema,
    empty: () => ({ version: 1 as const, flavors: {} }),
  },
  secrets: {
    name: SECRETS_FILE,
    schema: secretsFileSchema,
    empty: () => ({ version: 1 as const, secrets: {} }),
  },
};

type Files = typeof FILES;
export type StoreFileName = keyof Files;
export type StoreFileContent<F extends StoreFileName> = z.output<ReturnType<Files[F]['schema']>>;

export class Store {
  readonly dir: string;

  constructor(dir: string = resolveStoreDir()) {
    this.dir = dir;
  }

  /** Makes a project store (`.trackstack/`) in `directory`. Returns false when it already exists. */
  static init(directory: string): { store: Store; created: boolean } {
    const dir = join(directory, STORE_DIR_NAME);
    let created = true;
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      created = false;
    }
    // Runs and secrets belong to this machine, not to the repository.
    writeFileSync(
      join(dir, '.gitignore'),
      '# trackstack store: keep secrets and runs out of git\nsecrets.json\nruns/\n*.lock\n',
    );
    return { store: new Store(dir), created };
  }

  read<F extends StoreFileName>(file: F): StoreFileContent<F> {
    const spec = FILES[file];
    return readStoreFile(this.dir, spec.name, spec.schema(), spec.empty()) as StoreFileContent<F>;
  }

  /**
   * Applies `change` to the current content of `file` under the store's lock.
   * `change` may mutate the content it is given; what it returns is returned.
   */
  async update<F extends StoreFileName, T>(
    file: F,
    change: (content: StoreFileContent<F>) => T | Promise<T>,
  ): Promise<T> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let release: () => Promise<void>;
    try {
      // Loaded on the first update, not with the package (graceful-fs and signal-exit come with it).
      const { default: lockfile } = await import('proper-lockfile');
      release = await lockfile.lock(join(this.dir, 'store'), {
        realpath: false,
        stale: 10_000,
        retries: { retries: 200, minTimeout: 5, maxTimeout: 100, randomize: true },
      });
    } catch (error) {
      const locked = (error as NodeJS.ErrnoException).code === 'ELOCKED';
      throw new TrackstackError(
        locked ? 'STORE_LOCKED' : 'STORE_NOT_WRITABLE',
        `cannot lock the store ${this.dir}: ${(error as Error).message}`,
        {
          cause: error,
          hint: locked
            ? 'another trackstack process holds it; if none runs, remove the store.lock directory'
            : 'check that the store directory can be written (TRACKSTACK_HOME picks another)',
        },
      );
    }
    try {
      const content = this.read(file);
      const result = await change(content);
      writeStoreFile(this.dir, FILES[file].name, content);
      return result;
    } finally {
      await release();
    }
  }
}
