/**
 * The `trackstack` CLI: ZenML's command tree for experiment trackers, plus
 * runs, secrets, sync and run. Errors print in one line with a hint; exit
 * codes are 0 (ok), 1 (failed) and 2 (usage); `--debug` adds stack traces.
 */
import { Command, CommanderError } from 'commander';
import { registerFlavorCommands } from './commands/flavor.js';
import { registerInitCommand } from './commands/init.js';
import { registerRunCommand } from './commands/run.js';
import { registerRunsCommands } from './commands/runs.js';
import { registerSecretCommands } from './commands/secret.js';
import { registerSyncCommand } from './commands/sync.js';
import { registerTrackerCommands } from './commands/tracker.js';
import { registerUiCommand } from './commands/ui.js';
import { CliContext } from './context.js';
import { EXIT_OK, EXIT_USAGE, reportError } from './output.js';
import { VERSION } from './version.js';

export function buildProgram(): { program: Command; context: CliContext } {
  const program = new Command('trackstack');
  const context = new CliContext(program);
  program
    .description('Experiment tracking for TypeScript: trackers, flavors, runs')
    .version(VERSION, '-v, --version')
    .option(
      '--store <dir>',
      'the store to use (default: TRACKSTACK_HOME, the nearest .trackstack/, or the per-user store)',
    )
    .option('--json', 'print JSON wherever a listing is printed')
    .option('--debug', 'print stack traces with errors')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: () => {} });

  registerInitCommand(program, context);
  const tracker = program
    .command('experiment-tracker')
    .description('Experiment trackers (stack components) and their flavors');
  registerFlavorCommands(tracker, context);
  registerTrackerCommands(tracker, context);
  registerSecretCommands(program, context);
  registerRunsCommands(program, context);
  registerSyncCommand(program, context);
  registerRunCommand(program, context);
  registerUiCommand(program, context);

  for (const command of allCommands(program))
    command.exitOverride().configureOutput({ outputError: () => {} });
  return { program, context };
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const { program } = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return EXIT_OK;
      reportError(error, false);
      return EXIT_USAGE;
    }
    return reportError(
      error,
      program.opts<{ debug?: boolean }>().debug === true || argv.includes('--debug'),
    );
  }
}
