#!/usr/bin/env node
/**
 * `trackstack-template-server`: the reference server from a shell.
 *
 *   trackstack-template-server --port 8080 --file runs.jsonl
 *
 * The token, if any, comes from the environment (TRACKSTACK_TEMPLATE_SERVER_TOKEN),
 * never from the command line, where other users of the machine could read it.
 */
import { parseArgs } from 'node:util';
import { startTemplateServer } from './template-server.js';
import { VERSION } from './version.js';

const USAGE = `Usage: trackstack-template-server [--host 127.0.0.1] [--port 8080] [--file runs.jsonl]

  --host <host>      the interface to listen on (default 127.0.0.1: this machine only)
  --port <port>      the port (default 8080; 0 picks a free one)
  --file <path>      keep runs in this JSON lines file too (replayed at start)
  --max-body-mb <n>  the largest request accepted, in MiB (default 16)

Environment:
  TRACKSTACK_TEMPLATE_SERVER_TOKEN   when set, requests need "Authorization: Bearer <token>"`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8080' },
      file: { type: 'string' },
      'max-body-mb': { type: 'string', default: '16' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (values.version) return void process.stdout.write(`${VERSION}\n`);
  const port = Number(values.port);
  const maxBodyMb = Number(values['max-body-mb']);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('--port: 0 to 65535');
  if (!(maxBodyMb > 0)) throw new Error('--max-body-mb: a positive number');
  const token = process.env.TRACKSTACK_TEMPLATE_SERVER_TOKEN || undefined;
  const server = await startTemplateServer({
    host: values.host,
    port,
    token,
    file: values.file,
    maxBodyBytes: Math.floor(maxBodyMb * 1024 * 1024),
  });
  process.stdout.write(
    `listening on ${server.url} (${values.file === undefined ? 'runs kept in memory' : `runs kept in ${values.file}`}${token === undefined ? '' : ', token required'})\n`,
  );
  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`trackstack-template-server: ${(error as Error).message}\n${USAGE}\n`);
  process.exit(2);
});
