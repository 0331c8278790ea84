/** `trackstack init`: a project store in the working directory. */

import { Store } from '@trackstack/core/store';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { printJson, printLine } from '../output.js';

export function registerInitCommand(program: Command, context: CliContext): void {
  program
    .command('init')
    .description(
      'Make a project store (.trackstack/) here; trackstack finds it from any subdirectory',
    )
    .addHelpText('after', '\nExample:\n  $ cd my-project && trackstack init')
    .action((_options, command: Command) => {
      const { store, created } = Store.init(process.cwd());
      if (context.json(command)) return printJson({ store: store.dir, created });
      printLine(
        created
          ? `Initialized a trackstack store in ${store.dir}`
          : `A trackstack store is already in ${store.dir}`,
      );
    });
}
