import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Long-running child processes (servers) started in their own process group, with two
 * guarantees that none outlives the test process:
 *  - an `exit` handler (and SIGINT/SIGTERM/SIGHUP handlers) kill every live group;
 *  - a tiny watchdog `sh` holds a pipe from this process and kills the group when the pipe
 *    closes, which also covers a SIGKILLed test worker.
 */
export interface ManagedChild {
  readonly child: ChildProcess;
  /** Output so far (stdout and stderr interleaved), the last ~256 KiB. */
  output(): string;
  /** Resolves when the process has exited (immediately if it already has). */
  exited(): Promise<void>;
  /** True once the process has exited. */
  readonly hasExited: boolean;
  /** SIGTERM the group, SIGKILL it after `graceMs`, wait until the group is gone. */
  kill(graceMs?: number): Promise<void>;
}

const MAX_OUTPUT = 256 * 1024;

interface Live {
  pgid: number;
  watchdog: ChildProcess | undefined;
}

const live = new Set<Live>();
const tempDirs = new Set<string>();
let handlersInstalled = false;

function killGroupSync(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: already gone.
  }
}

function cleanupAll(): void {
  for (const entry of live) {
    killGroupSync(entry.pgid, 'SIGKILL');
    if (entry.watchdog?.pid) killGroupSync(entry.watchdog.pid, 'SIGKILL');
  }
  live.clear();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  tempDirs.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      cleanupAll();
      // If nobody else means to handle this signal, do what the default would have done: die
      // by it. signal-exit (loaded by proper-lockfile) reasons the same way and would not
      // re-raise while our listener is installed, so its listeners do not count as handlers.
      if (process.listenerCount(signal) <= 1 + signalExitListeners()) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** Signal listeners installed by signal-exit v3 (`process.__signal_exit_emitter__`) and v4. */
function signalExitListeners(): number {
  const v3 = (process as unknown as { __signal_exit_emitter__?: { count?: unknown } })
    .__signal_exit_emitter__;
  const v4 = (globalThis as unknown as Record<symbol, { count?: unknown } | undefined>)[
    Symbol.for('signal-exit emitter')
  ];
  let count = 0;
  if (typeof v3?.count === 'number') count += v3.count;
  if (typeof v4?.count === 'number') count += v4.count;
  return count;
}

/** Deletes `dir` when the process exits, unless `keep` is called first. */
export function removeAtExit(dir: string): { keep(): void } {
  installHandlers();
  tempDirs.add(dir);
  return { keep: () => tempDirs.delete(dir) };
}

export function spawnManaged(
  command: string,
  args: string[],
  options: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    /** Deleted by the watchdog too if this process dies without cleaning up. */
    orphanDir?: string;
  },
): ManagedChild {
  installHandlers();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true, // own process group: `kill(-pid)` reaches the server's workers too
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > MAX_OUTPUT * 2) output = output.slice(-MAX_OUTPUT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let hasExited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      hasExited = true;
      resolve();
    });
    child.once('error', (err) => {
      append(Buffer.from(`\n[test-harness] failed to start ${command}: ${err.message}\n`));
      hasExited = true;
      resolve();
    });
  });
  // Do not keep the test process alive for a forgotten server; the exit handler kills it.
  child.unref();
  (child.stdout as { unref?: () => void } | null)?.unref?.();
  (child.stderr as { unref?: () => void } | null)?.unref?.();

  const pgid = child.pid;
  let entry: Live | undefined;
  if (pgid !== undefined) {
    entry = { pgid, watchdog: startWatchdog(pgid, options.orphanDir) };
    live.add(entry);
  }

  const managed: ManagedChild = {
    child,
    output: () => output,
    exited: () => exitedPromise,
    get hasExited() {
      return hasExited;
    },
    async kill(graceMs = 5_000) {
      if (pgid === undefined) return;
      if (entry?.watchdog?.pid) killGroupSync(entry.watchdog.pid, 'SIGKILL');
      killGroupSync(pgid, 'SIGTERM');
      if (!(await groupGone(pgid, graceMs))) {
        killGroupSync(pgid, 'SIGKILL');
        await groupGone(pgid, 5_000);
      }
      await Promise.race([exitedPromise, delay(1_000)]);
      if (entry) live.delete(entry);
    },
  };
  return managed;
}

function startWatchdog(pgid: number, orphanDir: string | undefined): ChildProcess | undefined {
  if (process.platform === 'win32') return undefined;
  // `cat` returns when our end of its stdin pipe closes, i.e. when this process is gone
  // (however it died); then the group gets SIGTERM, SIGKILL 5 s later, and the dir goes.
  const script =
    'cat >/dev/null 2>&1; kill -TERM -"$1" 2>/dev/null; sleep 5; kill -KILL -"$1" 2>/dev/null; ' +
    'if [ -n "$2" ]; then rm -rf -- "$2"; fi';
  const argv = ['-c', script, 'trackstack-watchdog', String(pgid), orphanDir ?? ''];
  try {
    const watchdog = spawn('/bin/sh', argv, {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.on('error', () => {});
    watchdog.stdin?.on('error', () => {});
    watchdog.unref();
    (watchdog.stdin as { unref?: () => void } | null)?.unref?.();
    return watchdog;
  } catch {
    return undefined;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function groupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid)) {
    if (Date.now() >= deadline) return false;
    await delay(50);
  }
  return true;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
