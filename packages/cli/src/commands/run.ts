/**
 * `trackstack run [--tracker <name>] -- <command...>`: wraps any process in a
 * run. The child (and its own children) attach to that run through
 * TRACKSTACK_RUN_ID; its output is the run's console output (streamed to
 * flavors that take it, e.g. W&B's output.log) and kept as the `output.log`
 * artifact; the run
 * ends FINISHED or FAILED by exit code (KILLED by signal); signals are
 * forwarded; trackstack exits with the child's code.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { FinalRunStatus } from '@trackstack/core';
import { getTracker, RUN_ID_ENV, redactCommand, TRACKER_ENV } from '@trackstack/core';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../output.js';

export function registerRunCommand(program: Command, context: CliContext): void {
  program
    .command('run')
    .description('Run a command inside a new run: trackstack code in it logs to that run')
    .option('-t, --tracker <name>', 'a configured tracker instead of the active one(s)')
    .option('-e, --experiment <name>', 'experiment of the run')
    .option('-n, --name <name>', 'name of the run')
    .option('--no-capture', 'do not keep the output (console lines and output.log)')
    .argument('<command...>', 'the command, after --')
    .addHelpText(
      'after',
      `
Examples:
  $ trackstack run -- node train.js --epochs 10
  $ trackstack run --tracker prod --experiment iris -- python train.py`,
    )
    .action(
      async (
        argv: string[],
        options: { tracker?: string; experiment?: string; name?: string; capture: boolean },
      ) => {
        if (argv.length === 0)
          throw new UsageError('no command to run', 'trackstack run -- <command ...>');
        const tracker = await getTracker({
          storeDir: context.storeDir,
          ...(options.tracker === undefined ? {} : { name: options.tracker }),
        });
        const run = await tracker.startRun({
          ...(options.experiment === undefined ? {} : { experiment: options.experiment }),
          ...(options.name === undefined ? {} : { name: options.name }),
          tags: { command: redactCommand(argv).join(' ').slice(0, 500) },
          // The run's source is the command wrapped, not this CLI.
          captureSource: { command: argv },
        });
        process.stderr.write(`trackstack: run ${run.uid} (${run.url})\n`);
        const logPath = join(run.dir, 'output.log');
        const log = options.capture ? createWriteStream(logPath, { mode: 0o600 }) : undefined;
        const child = spawn(argv[0]!, argv.slice(1), {
          stdio: ['inherit', log ? 'pipe' : 'inherit', log ? 'pipe' : 'inherit'],
          env: {
            ...process.env,
            [RUN_ID_ENV]: run.uid,
            TRACKSTACK_HOME: context.storeDir,
            ...(options.tracker === undefined ? {} : { [TRACKER_ENV]: options.tracker }),
          },
        });
        if (log !== undefined) {
          for (const stream of ['stdout', 'stderr'] as const) {
            const decoder = new StringDecoder('utf8');
            child[stream]?.on('data', (chunk: Buffer) => {
              process[stream].write(chunk);
              log.write(chunk);
              run.logConsole(decoder.write(chunk), { stream });
            });
          }
        }
        const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
        const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((signal) => {
          const handler = forward(signal);
          process.on(signal, handler);
          return [signal, handler] as const;
        });
        const { code, signal } = await new Promise<{
          code: number | null;
          signal: NodeJS.Signals | null;
        }>((resolve, reject) => {
          child.on('error', reject);
          child.on('close', (exitCode, exitSignal) =>
            resolve({ code: exitCode, signal: exitSignal }),
          );
        }).catch(async (error: NodeJS.ErrnoException) => {
          await run.end('FAILED');
          throw new UsageError(`cannot start ${argv[0]}: ${error.code ?? error.message}`);
        });
        for (const [name, handler] of handlers) process.removeListener(name, handler);
        if (log !== undefined) {
          await new Promise<void>((resolve) => log.end(resolve));
          await run.logArtifact(logPath, { artifactPath: 'output.log' });
        }
        const status: FinalRunStatus =
          signal !== null ? 'KILLED' : code === 0 ? 'FINISHED' : 'FAILED';
        const report = await run.end(status);
        process.stderr.write(
          `trackstack: run ${run.uid} ${status}${report.pendingEvents > 0 ? ` (${report.pendingEvents} events left in the journal)` : ''}\n`,
        );
        process.exitCode = code ?? (signal === null ? 1 : 128 + signalNumber(signal));
      },
    );
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGKILL: 9,
    SIGTERM: 15,
  };
  return numbers[signal] ?? 1;
}
