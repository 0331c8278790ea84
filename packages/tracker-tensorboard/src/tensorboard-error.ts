/**
 * What a file system error means for a run's event files: a directory that
 * cannot be made or written (no permission, read-only, a file in the way) is
 * final, said once with the path and a hint; a full disk or too many open
 * files is retried by core's policy, like a backend that is down.
 */
import { BackendError } from '@trackstack/core';

const FINAL = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'EEXIST',
  'EISDIR',
  'ENAMETOOLONG',
  'EINVAL',
]);

export class TensorboardError extends BackendError {
  /** The file system's code (`EACCES`, `ENOSPC`, ...). */
  readonly fsCode: string | undefined;

  constructor(
    message: string,
    options: { fsCode?: string; retryable: boolean; cause?: unknown; hint?: string },
  ) {
    super(options.retryable ? 'BACKEND_UNAVAILABLE' : 'BACKEND_REJECTED', message, options);
    this.name = 'TensorboardError';
    this.fsCode = options.fsCode;
  }

  /** A file system error while `doing` (e.g. "write the event file") at `path`. */
  static of(error: unknown, doing: string, path: string): TensorboardError {
    if (error instanceof TensorboardError) return error;
    const fsCode = (error as NodeJS.ErrnoException | null)?.code;
    const final = fsCode === undefined || FINAL.has(fsCode);
    return new TensorboardError(
      `tensorboard: cannot ${doing} ${path}: ${(error as Error)?.message ?? String(error)}`,
      {
        ...(fsCode === undefined ? {} : { fsCode }),
        retryable: !final,
        cause: error,
        ...(final ? { hint: 'give log_dir a directory this process can write' } : {}),
      },
    );
  }
}
