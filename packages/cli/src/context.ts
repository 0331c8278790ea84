/** What every command gets: the store, global flags, and a way to build trackers. */

import { resolveStoreDir, Store } from '@trackstack/core/store';
import type { Command } from 'commander';

export interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  store?: string;
}

export class CliContext {
  private readonly program: Command;

  constructor(program: Command) {
    this.program = program;
  }

  get options(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  /** `--json` given on the command or globally. */
  json(command?: Command): boolean {
    return Boolean(command?.opts<{ json?: boolean }>().json ?? this.options.json);
  }

  get storeDir(): string {
    return this.options.store ?? resolveStoreDir();
  }

  get store(): Store {
    return new Store(this.storeDir);
  }
}
