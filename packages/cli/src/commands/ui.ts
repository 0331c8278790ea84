/**
 * `trackstack ui [--port N] [--host H] [--open]`: the local web viewer of
 * every run in the store (@trackstack/ui). Prints the URL, with its token, as
 * its last line and serves until Ctrl+C.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { printLine, UsageError, warn } from '../output.js';

/** The port tried first; a free one when it is taken (unless `--port` named it). */
export const DEFAULT_UI_PORT = 6789;

/** 127.0.0.0/8, ::1 and localhost: only this machine can reach them. */
function isLoopback(host: string): boolean {
  return (
    host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)
  );
}

export function registerUiCommand(program: Command, context: CliContext): void {
  program
    .command('ui')
    .description(
      "Serve the local web viewer of the store's runs (every flavor's) and print its URL",
    )
    .option('--port <n>', `port to listen on (default ${DEFAULT_UI_PORT}, else a free one)`)
    .option(
      '--host <host>',
      'address to listen on; anything but loopback must be asked for by name',
      '127.0.0.1',
    )
    .option('--open', 'open the URL in the default browser')
    .addHelpText(
      'after',
      `
Every request needs the token in the printed URL (a cookie keeps it after the first page).
Examples:
  $ trackstack ui
  $ trackstack ui --port 8080 --open`,
    )
    .action(async (options: { port?: string; host: string; open?: boolean }) => {
      const port = options.port === undefined ? undefined : Number(options.port);
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
        throw new UsageError(`--port must be a port number, not ${JSON.stringify(options.port)}`);
      }
      const host = options.host;
      if (!isLoopback(host)) {
        warn(
          `listening on ${host}, not loopback: anyone who can reach this address and has the URL's token can read every run in the store`,
        );
      }
      const { startUi } = await import('@trackstack/ui');
      const storeDir = context.storeDir;
      const start = (at: number) => startUi({ storeDir, host, port: at });
      let ui: Awaited<ReturnType<typeof startUi>>;
      try {
        ui = await start(port ?? DEFAULT_UI_PORT);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE') {
          throw Object.assign(
            new Error(
              `cannot listen on ${host}:${port ?? DEFAULT_UI_PORT}: ${code ?? (error as Error).message}`,
            ),
            {
              hint:
                code === 'EADDRNOTAVAIL' ? `${host} is not an address of this machine` : undefined,
            },
          );
        }
        if (port !== undefined) {
          throw new UsageError(
            `port ${port} is in use`,
            'choose another with --port, or --port 0 for a free one',
          );
        }
        ui = await start(0);
      }
      printLine(`trackstack ui: the runs of ${storeDir}`);
      printLine('press Ctrl+C to stop; open:');
      printLine(ui.url);
      if (options.open) {
        const { default: open } = await import('open');
        await open(ui.url).catch((error: Error) =>
          warn(`could not open a browser: ${error.message}`),
        );
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await ui.close();
    });
}
