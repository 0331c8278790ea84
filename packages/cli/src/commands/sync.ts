/** `trackstack sync [<run>] [--to <tracker>]`: deliver what journals hold. */

import { getTracker, LocalRuns, type SyncReport, silentLogger, syncRun } from '@trackstack/core';
import { readRunMeta } from '@trackstack/core/store';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { printJson, printLine, UsageError } from '../output.js';
import { resolveRunUid } from './runs.js';

export function registerSyncCommand(program: Command, context: CliContext): void {
  program
    .command('sync [run]')
    .description(
      "Deliver a run's undelivered journal (after an outage, a crash, offline mode) to its trackers, or to another",
    )
    .option('--to <tracker>', "deliver to this tracker instead of the run's own")
    .option('--all', 'every run in the store')
    .option('--force', 'sync even if the process that owns the run still looks alive')
    .option(
      '--timeout <seconds>',
      'stop waiting after this long; the rest stays in the journal',
      '300',
    )
    .option('--json', 'print JSON reports')
    .addHelpText(
      'after',
      `
Examples:
  $ trackstack sync 01a2b3c4-...            # to the trackers the run was logged to
  $ trackstack sync 01a2b3c4-... --to prod  # a local run, to another tracker
  $ trackstack sync --all`,
    )
    .action(
      async (
        run: string | undefined,
        options: { to?: string; all?: boolean; force?: boolean; timeout: string; json?: boolean },
        command: Command,
      ) => {
        if ((run === undefined) === (options.all !== true))
          throw new UsageError('give a run id or --all');
        const timeoutMs = Number(options.timeout) * 1000;
        if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
          throw new UsageError('--timeout must be a positive number of seconds');
        const runs = new LocalRuns(context.storeDir);
        const all = await runs.list();
        const uids =
          run === undefined ? all.map((r) => r.uid) : [resolveRunUid(run, all, context.storeDir)];
        const reports: SyncReport[] = [];
        const json = context.json(command);
        for (const uid of uids) {
          const meta = readRunMeta(context.storeDir, uid);
          const destinations = options.to !== undefined ? [options.to] : meta.destinations;
          if (destinations.length === 0 && run !== undefined) {
            throw new UsageError(
              `run ${uid} was logged locally only`,
              'name a tracker to deliver it to: --to <tracker>',
            );
          }
          for (const name of destinations) {
            const tracker = await getTracker({
              storeDir: context.storeDir,
              name,
              logger: silentLogger,
            });
            const bar =
              process.stderr.isTTY && !json
                ? new SingleBar({
                    format: `${uid.slice(0, 13)} -> ${name} [{bar}] {value}/{total} events`,
                    stream: process.stderr,
                  })
                : undefined;
            let started = false;
            const report = await syncRun({
              uid,
              tracker,
              timeoutMs,
              force: options.force === true,
              logger: silentLogger,
              onProgress: ({ delivered, total }) => {
                if (bar === undefined) return;
                if (!started) {
                  bar.start(total, delivered);
                  started = true;
                } else bar.update(delivered);
              },
            });
            bar?.stop();
            reports.push(report);
            if (!json) {
              const state =
                report.pendingEvents === 0
                  ? report.finished
                    ? 'done'
                    : 'delivered'
                  : `${report.pendingEvents} left in the journal`;
              printLine(
                `${uid} -> ${name}: ${report.delivered}/${report.total} events${report.markedAs ? `, marked ${report.markedAs}` : ''}, ${state}`,
              );
              for (const error of report.status.errors) printLine(`  refused: ${error.message}`);
            }
          }
        }
        if (json)
          printJson(
            reports.map(({ status, ...rest }) => ({
              ...rest,
              errors: status.errors.map((e) => ({ code: e.code, message: e.message })),
            })),
          );
        if (reports.some((r) => r.pendingEvents > 0 || r.status.errors.length > 0))
          process.exitCode = 1;
      },
    );
}
