import { describe, expect, it } from 'vitest';
import { BackendError } from '../contract/errors.js';
import { DeliveryNotices, explain } from './delivery-notices.js';

function recorder() {
  const lines: string[] = [];
  const logger = {
    warn: (message: string) => lines.push(`warn ${message}`),
    info: (message: string) => lines.push(`info ${message}`),
    debug: () => {},
  };
  return { lines, notices: new DeliveryNotices('mlflow', logger) };
}

const full = new BackendError('BACKEND_UNAVAILABLE', 'POST runs/log-batch: MLflow answered 503', {
  retryable: true,
  statusCode: 503,
  hint: 'raise max_connections',
});
const reset = new BackendError('BACKEND_UNREACHABLE', 'POST runs/log-batch: MLflow closed it', {
  retryable: true,
  hint: 'a worker restarting',
});

describe('DeliveryNotices', () => {
  it('says once per outage that the backend cannot serve, with its words and their meaning', () => {
    const { lines, notices } = recorder();
    notices.retried(full, true);
    notices.retried(full, true);
    notices.down();
    expect(lines).toEqual([
      'warn mlflow: the backend cannot take requests now (POST runs/log-batch: MLflow answered 503: raise max_connections); logging goes on into the journal, and delivery resumes as soon as it answers',
    ]);
    notices.up();
    expect(lines.at(-1)).toBe('info mlflow: backend reachable again, delivering');
    // The next outage is said again, as what it is this time.
    notices.retried(reset, true);
    expect(lines.at(-1)).toMatch(
      /^warn mlflow: cannot reach the backend \(.*a worker restarting\)/,
    );
    expect(lines).toHaveLength(3);
  });

  it('does not repeat an outage for the same reason within five minutes (a server flapping at its limit)', () => {
    const { lines, notices } = recorder();
    const t0 = Date.now();
    notices.down(full, t0);
    notices.up();
    for (let i = 1; i <= 20; i++) {
      notices.down(full, t0 + i * 1000);
      notices.up();
    }
    expect(lines).toEqual([expect.stringMatching(/^warn /), expect.stringMatching(/^info /)]);
    notices.down(full, t0 + 5 * 60_000);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe(lines[0]);
  });

  it("says one request's own failure once per kind, and keeps the last failure until a success", () => {
    const { lines, notices } = recorder();
    const pool = new BackendError('BACKEND_REJECTED', 'pool used up', {
      retryable: true,
      statusCode: 400,
      hint: 'raise the pool',
    });
    const internal = new BackendError('BACKEND_UNAVAILABLE', 'boom', {
      retryable: true,
      statusCode: 500,
    });
    notices.retried(pool, false);
    notices.retried(pool, false);
    notices.retried(internal, false);
    notices.retried(internal, false);
    expect(lines).toEqual([
      'warn mlflow: a request failed and goes again (pool used up: raise the pool)',
      'warn mlflow: a request failed and goes again (boom)',
    ]);
    expect(notices.retrying).toBe('boom');
    notices.answered(true);
    expect(notices.retrying).toBeUndefined();
  });

  it('says a slow spell once, and that it is over when a request is answered promptly', () => {
    const { lines, notices } = recorder();
    notices.slow('write', 30_400);
    notices.slow('write', 31_000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warn mlflow: a write request has had no answer for 30 s/);
    notices.answered(false);
    expect(lines).toHaveLength(1);
    notices.answered(true);
    expect(lines.at(-1)).toBe('info mlflow: the backend answers promptly again');
    notices.slow('finish', 30_000);
    expect(lines).toHaveLength(3);
  });

  it('explains an error by its hint, when it has one', () => {
    expect(explain(full)).toBe('POST runs/log-batch: MLflow answered 503: raise max_connections');
    expect(explain(new BackendError('BACKEND_REJECTED', 'no', { retryable: false }))).toBe('no');
  });
});
