import { BackendError } from '@trackstack/core';
import { describe, expect, it } from 'vitest';
import { TensorboardError } from './tensorboard-error.js';

const fsError = (code: string) => Object.assign(new Error(`${code}: oops`), { code });

describe('TensorboardError.of', () => {
  it('makes a directory that cannot be written final, with the path and a hint', () => {
    for (const code of ['EACCES', 'EROFS', 'ENOTDIR', 'EEXIST']) {
      const error = TensorboardError.of(fsError(code), 'write to', '/x/runs');
      expect(error).toBeInstanceOf(BackendError);
      expect(error).toMatchObject({ code: 'BACKEND_REJECTED', retryable: false, fsCode: code });
      expect(error.message).toBe(`tensorboard: cannot write to /x/runs: ${code}: oops`);
      expect(error.hint).toMatch(/log_dir/);
    }
  });

  it('retries a full disk or too many open files, like a backend that is down', () => {
    for (const code of ['ENOSPC', 'EMFILE', 'EIO']) {
      expect(TensorboardError.of(fsError(code), 'write the event file in', '/x')).toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
        retryable: true,
        hint: undefined,
      });
    }
  });

  it('keeps one it already made, and makes anything else final', () => {
    const made = TensorboardError.of(fsError('EACCES'), 'a', '/b');
    expect(TensorboardError.of(made, 'c', '/d')).toBe(made);
    expect(TensorboardError.of(new Error('invalid float32'), 'encode', '/e')).toMatchObject({
      retryable: false,
    });
  });
});
