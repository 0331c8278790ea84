/**
 * Where a run ran, captured once at `startRun`: the git commit, branch, remote
 * and whether the tree was dirty, the entry point and command line, user,
 * host, Node and OS. Git is asked through the `git` binary, every question
 * bounded by a timeout and the answers cached per process and directory: a
 * slow or missing git leaves the git part out, never the run waiting.
 * Credentials never leave this file: a remote's user and password are removed
 * and secret-looking arguments of the command line replaced by `***`.
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { arch, hostname, release, type, userInfo } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { RunSource } from '../contract/types.js';

/** Each git question gets this long (ms); past it the answer is left out. */
export const GIT_TIMEOUT_MS = 2_000;

/** What a caller can say about the run's source: the command `trackstack run` wrapped. */
export interface SourceOptions {
  /** The command line to record (default `process.argv`). */
  command?: readonly string[];
  /** Where the command ran (default `process.cwd()`). */
  cwd?: string;
}

const gitCache = new Map<string, Promise<RunSource['git']>>();

/** The run's source, in bounded time. */
export async function captureSource(options: SourceOptions = {}): Promise<RunSource> {
  const cwd = options.cwd ?? process.cwd();
  const command = options.command ?? process.argv;
  const entryPoint = entryPointOf(command, cwd, options.command === undefined);
  const dir = entryPoint !== undefined && isAbsolute(entryPoint) ? dirname(entryPoint) : cwd;
  let git = gitCache.get(dir);
  if (git === undefined) {
    git = gitInfo(dir);
    gitCache.set(dir, git);
  }
  return {
    ...withDefined('git', await git),
    ...withDefined('entryPoint', entryPoint),
    command: redactCommand(command),
    cwd,
    ...withDefined('user', userName()),
    host: hostname(),
    node: process.version,
    os: `${type()} ${release()} ${arch()}`,
  };
}

/** Forgets cached git answers (tests). */
export function clearSourceCache(): void {
  gitCache.clear();
}

function withDefined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * The script the command runs: for this process `process.argv[1]`; for a
 * wrapped command the first argument after the program that names a file
 * (`node train.js`, `python -u train.py`), else the program itself.
 */
function entryPointOf(
  command: readonly string[],
  cwd: string,
  ownProcess: boolean,
): string | undefined {
  if (ownProcess) {
    const script = command[1];
    return script === undefined || script === '' ? undefined : resolve(cwd, script);
  }
  for (const arg of command.slice(1)) {
    if (arg.startsWith('-')) continue;
    const path = resolve(cwd, arg);
    if (isFile(path)) return path;
    break;
  }
  const program = command[0];
  if (program === undefined) return undefined;
  const path = resolve(cwd, program);
  return isFile(path) ? path : program;
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
}

function userName(): string | undefined {
  try {
    return userInfo().username || undefined;
  } catch {
    // No passwd entry for this uid (containers): the environment's name, if any.
    return process.env.USER ?? process.env.USERNAME ?? process.env.LOGNAME;
  }
}

function git(args: string[], cwd: string): Promise<string | undefined> {
  return new Promise((done) => {
    try {
      execFile(
        'git',
        args,
        {
          cwd,
          timeout: GIT_TIMEOUT_MS,
          windowsHide: true,
          maxBuffer: 1024 * 1024,
          // Never ask for credentials or wait on a pager.
          env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' },
        },
        (error, stdout) => done(error ? undefined : stdout.trim()),
      );
    } catch {
      done(undefined);
    }
  });
}

async function gitInfo(dir: string): Promise<RunSource['git']> {
  if (!existsSync(dir)) return undefined;
  const head = await git(['rev-parse', 'HEAD', '--show-toplevel'], dir);
  if (head === undefined) return undefined;
  const [commit, root] = head.split('\n');
  if (commit === undefined || !/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
  const [branch, remote, status] = await Promise.all([
    git(['symbolic-ref', '--short', '-q', 'HEAD'], dir),
    remoteUrl(dir),
    git(['status', '--porcelain', '--untracked-files=no'], dir),
  ]);
  return {
    commit,
    ...withDefined('branch', branch || undefined),
    ...withDefined('remoteUrl', remote === undefined ? undefined : stripCredentials(remote)),
    ...withDefined('dirty', status === undefined ? undefined : status !== ''),
    ...withDefined('root', root || undefined),
  };
}

/** `origin`'s URL, else the first remote's. */
async function remoteUrl(dir: string): Promise<string | undefined> {
  const origin = await git(['config', '--get', 'remote.origin.url'], dir);
  if (origin) return origin;
  const remotes = await git(['remote'], dir);
  const first = remotes?.split('\n')[0];
  if (!first) return undefined;
  return (await git(['config', '--get', `remote.${first}.url`], dir)) || undefined;
}

/**
 * A remote URL without its credentials: `https://user:token@host/x.git` and
 * `https://token@host/x.git` become `https://host/x.git`; scp-like
 * `git@host:org/x.git` and paths are kept as they are.
 */
export function stripCredentials(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (scheme === null) return url;
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    // ssh://git@host/... names a user, not a secret; every other scheme loses both.
    if (scheme[1]!.toLowerCase() === 'ssh' && parsed.password === '') return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    // Not parseable as a URL: drop everything between the scheme and the last '@' of the authority.
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, '$1');
  }
}

const SECRET_NAME = /(token|secret|passw(or)?d|api[-_]?key|credential)/i;

/**
 * The command line with the values of secret-looking options replaced:
 * `--api-key=abc`, `--password abc`, `TOKEN=abc` (an assignment) become `***`,
 * and URLs lose their credentials.
 */
export function redactCommand(command: readonly string[]): string[] {
  const out: string[] = [];
  let hideNext = false;
  for (const arg of command) {
    if (hideNext) {
      out.push('***');
      hideNext = false;
      continue;
    }
    const option = /^(--?[^=\s]+)(=(.*))?$/s.exec(arg);
    if (option !== null && SECRET_NAME.test(option[1]!)) {
      if (option[2] === undefined) {
        out.push(arg);
        hideNext = true;
      } else out.push(`${option[1]}=***`);
      continue;
    }
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(arg);
    if (assignment !== null && SECRET_NAME.test(assignment[1]!)) {
      out.push(`${assignment[1]}=***`);
      continue;
    }
    out.push(
      arg.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s/@]*@[^\s]*/gi, (url) => stripCredentials(url)),
    );
  }
  return out;
}
