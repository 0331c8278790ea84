/**
 * Where a run ran, in W&B's own form: the fields of wandb-core's
 * `EnvironmentRecord` (`wandb_internal.proto`), which it writes, under their
 * JSON names, as the run's `wandb-metadata.json` (the Overview tab's OS,
 * command, git state, host). Online the flavor uploads that file and sends the
 * commit, remote, host and program with UpsertBucket, as wandb-core does;
 * offline the run record carries the git fields and an environment record
 * the rest, from which `wandb sync` writes the file.
 *
 * W&B has no fields for Node: `executable` is Node's path and there is no
 * `python`. W&B records no branch or dirty state; `username` only when
 * WANDB_USERNAME is set (wandb 0.30 does the same).
 */
import { relative, resolve, sep } from 'node:path';
import type { RunSource } from '@trackstack/core';

/** `EnvironmentRecord` under its JSON names (wandb-core's protojson). */
export interface WandbMetadata {
  os: string;
  /** RFC 3339, UTC. */
  startedAt: string;
  args?: string[];
  program?: string;
  /** The entry point relative to the git root (else to the working directory). */
  codePath?: string;
  /** The entry point relative to the working directory. */
  codePathLocal?: string;
  git?: { remote?: string; commit?: string };
  root: string;
  host: string;
  username?: string;
  executable: string;
}

export function wandbMetadata(
  source: RunSource,
  startTime: number,
  env: Record<string, string | undefined> = process.env,
): WandbMetadata {
  const cwd = source.cwd;
  const entry = source.entryPoint;
  const inside = (base: string | undefined): string | undefined => {
    if (entry === undefined || base === undefined) return undefined;
    const path = relative(base, entry);
    return path === '' || path.startsWith('..') || path.startsWith(sep) ? undefined : posix(path);
  };
  const git = source.git;
  const codePath = inside(git?.root ?? cwd);
  const codePathLocal = inside(cwd);
  const username = env.WANDB_USERNAME;
  return {
    os: source.os,
    startedAt: new Date(startTime).toISOString(),
    ...withArgs(argsAfter(source.command, entry, cwd)),
    ...(entry === undefined ? {} : { program: entry }),
    ...(codePath === undefined ? {} : { codePath }),
    ...(codePathLocal === undefined ? {} : { codePathLocal }),
    ...(git === undefined
      ? {}
      : {
          git: {
            ...(git.remoteUrl === undefined ? {} : { remote: git.remoteUrl }),
            commit: git.commit,
          },
        }),
    root: cwd,
    host: source.host,
    ...(username ? { username } : {}),
    executable: source.command[0] ?? process.execPath,
  };
}

/** The command's arguments after the script (W&B's `args`, `sys.argv[1:]`). */
function argsAfter(command: readonly string[], entry: string | undefined, cwd: string): string[] {
  const at =
    entry === undefined ? -1 : command.findIndex((a, i) => i > 0 && resolve(cwd, a) === entry);
  return command.slice(at >= 0 ? at + 1 : 1);
}

function withArgs(args: string[]): { args?: string[] } {
  return args.length === 0 ? {} : { args };
}

function posix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}
