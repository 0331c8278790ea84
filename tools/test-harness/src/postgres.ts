/**
 * A throwaway PostgreSQL server for the load and scale tests: Debian's server binaries
 * (`/usr/lib/postgresql/<version>/bin`, or PG_BIN, or `pg_config --bindir`, or PATH), a
 * cluster made by initdb in a temp directory, listening on a free port on 127.0.0.1 only,
 * trust authentication. As root the cluster is owned by and run as the `postgres` user
 * (PostgreSQL refuses to run as root).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface Postgres {
  port: number;
  dir: string;
  /** `postgresql+psycopg2://postgres@127.0.0.1:<port>/<database>` (SQLAlchemy 2.1 defaults to psycopg 3 for a bare postgresql://) */
  url(database: string): string;
  /** Runs SQL with psql and returns its unaligned output. */
  query(database: string, sql: string): string;
  stop(): Promise<void>;
}

/** Where the server binaries are, or undefined when this machine has none. */
export function findPostgresBin(): string | undefined {
  const candidates: string[] = [];
  if (process.env.PG_BIN) candidates.push(process.env.PG_BIN);
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) candidates.push(`/usr/lib/postgresql/${version}/bin`);
  } catch {
    // not Debian's layout
  }
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // no pg_config
  }
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir) candidates.push(dir);
  return candidates.find(
    (dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')),
  );
}

const isRoot = () => process.getuid?.() === 0;

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (line === undefined) throw new Error('running as root, but there is no `postgres` user');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Runs a PostgreSQL binary, as `postgres` when we are root. */
function pg(bin: string, name: string, args: string[]): string {
  const command = isRoot() ? 'runuser' : join(bin, name);
  const argv = isRoot() ? ['-u', 'postgres', '--', join(bin, name), ...args] : args;
  const result = spawnSync(command, argv, { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) {
    throw new Error(
      `${name} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout || result.error?.message}`,
    );
  }
  return result.stdout;
}

const live = new Set<() => void>();
let exitHook = false;

export interface PostgresOptions {
  /** The server's `max_connections` (default 300, room for MLflow's pools of 4 workers). */
  maxConnections?: number;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<Postgres> {
  const bin = findPostgresBin();
  if (bin === undefined) throw new Error('no PostgreSQL server binaries (initdb, pg_ctl) found');
  const dir = await mkdtemp(join(tmpdir(), 'trackstack-pg-'));
  await chmod(dir, 0o700);
  if (isRoot()) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  let started = false;
  const stopSync = () => {
    if (!started) return;
    started = false;
    try {
      pg(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already gone
    }
  };
  try {
    pg(bin, 'initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
    pg(bin, 'pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=${options.maxConnections ?? 300} -c fsync=off`,
      'start',
    ]);
    started = true;
    live.add(stopSync);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const stop of live) stop();
      });
    }
    pg(bin, 'createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'mlflow']);
  } catch (error) {
    stopSync();
    const log = existsSync(join(dir, 'postgres.log'))
      ? readFileSync(join(dir, 'postgres.log'), 'utf8').slice(-2000)
      : '';
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\n${log}`);
  }
  return {
    port,
    dir,
    url: (database) => `postgresql+psycopg2://postgres@127.0.0.1:${port}/${database}`,
    query: (database, sql) =>
      pg(bin, 'psql', [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        database,
        '-At',
        '-c',
        sql,
      ]).trim(),
    async stop() {
      stopSync();
      live.delete(stopSync);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
