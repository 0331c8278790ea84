import { describe, expect, it } from 'vitest';
import { BackendError } from '../contract/errors.js';
import { DEFAULT_RETRY_POLICY } from '../contract/retry.js';
import { DestinationHealth } from './health.js';
import { Sender, type SenderOptions } from './sender.js';

interface Job {
  id: number;
  write: boolean;
}

/** A sender over `jobs`, with `run` as the backend; it resolves once every job settled. */
function send(
  jobs: Job[],
  run: (job: Job) => Promise<void>,
  options: Partial<SenderOptions<Job>> = {},
) {
  const queue = [...jobs];
  const settled: { id: number; error: BackendError | undefined }[] = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const sender = new Sender<Job>({
    concurrency: 4,
    ordered: false,
    minWriteIntervalMs: 0,
    retry: DEFAULT_RETRY_POLICY,
    health: new DestinationHealth({ retry: DEFAULT_RETRY_POLICY }),
    next: () => queue.shift(),
    isWrite: (job) => job.write,
    execute: run,
    settled: (job, error) => {
      settled.push({ id: job.id, error });
      if (settled.length === jobs.length) done();
    },
    retried: () => {},
    describe: (job) => `job ${job.id}`,
    log: () => {},
    ...options,
  });
  sender.pump();
  return { sender, settled, finished };
}

const jobs = (n: number, write = true): Job[] =>
  Array.from({ length: n }, (_, id) => ({ id, write }));
const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('sender', () => {
  it('keeps at most `concurrency` in flight, and one in order when writes are ordered', async () => {
    for (const [ordered, most] of [
      [false, 4],
      [true, 1],
    ] as const) {
      let inflight = 0;
      let peak = 0;
      const started: number[] = [];
      const { finished } = send(
        jobs(20),
        async (job) => {
          started.push(job.id);
          inflight += 1;
          peak = Math.max(peak, inflight);
          await wait(2);
          inflight -= 1;
        },
        { ordered },
      );
      await finished;
      expect(peak).toBe(most);
      if (ordered) expect(started).toEqual(jobs(20).map((j) => j.id));
    }
  });

  it('sends a task that failed again before any later one when ordered', async () => {
    const order: number[] = [];
    let failed = false;
    const { finished, settled } = send(
      jobs(5),
      async (job) => {
        order.push(job.id);
        if (job.id === 2 && !failed) {
          failed = true;
          throw new BackendError('BACKEND_UNAVAILABLE', '500', {
            retryable: true,
            statusCode: 500,
          });
        }
      },
      { ordered: true, retry: { ...DEFAULT_RETRY_POLICY, initialDelayMs: 10 } },
    );
    await finished;
    expect(order).toEqual([0, 1, 2, 2, 3, 4]);
    expect(settled.map((s) => s.error)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('backs a task that fails on its own off while the others go on, and refuses for good what is final', async () => {
    let attempts = 0;
    const { finished, settled } = send(jobs(6), async (job) => {
      if (job.id === 0) {
        attempts += 1;
        if (attempts < 3) {
          throw new BackendError('BACKEND_UNAVAILABLE', '500', {
            retryable: true,
            statusCode: 500,
          });
        }
      }
      if (job.id === 5) throw new BackendError('BACKEND_REJECTED', '400', { retryable: false });
    });
    await finished;
    // Job 0 went again after its own backoff (500 ms, then 1 s): every other job settled first.
    expect(settled.at(-1)?.id).toBe(0);
    expect(attempts).toBe(3);
    expect(settled.find((s) => s.id === 5)?.error?.code).toBe('BACKEND_REJECTED');
  });

  it('tells of each retry whether it took the destination down, before the health hears of it', async () => {
    const health = new DestinationHealth({ retry: DEFAULT_RETRY_POLICY });
    const told: [number, string, boolean, boolean][] = [];
    let attempts = 0;
    const { finished } = send(
      jobs(2),
      async (job) => {
        attempts += 1;
        if (job.id === 0 && attempts === 1) {
          throw new BackendError('BACKEND_UNREACHABLE', 'reset', { retryable: true });
        }
        if (job.id === 1 && attempts <= 3) {
          throw new BackendError('BACKEND_UNAVAILABLE', '500', {
            retryable: true,
            statusCode: 500,
          });
        }
      },
      {
        health,
        concurrency: 1,
        retried: (job, error, wide) => told.push([job.id, error.message, wide, health.isDown]),
      },
    );
    await finished;
    expect(told[0]).toEqual([0, 'reset', true, false]);
    expect(
      told.slice(1).every(([id, message, wide]) => id === 1 && message === '500' && !wide),
    ).toBe(true);
    expect(told.length).toBeGreaterThanOrEqual(2);
  });

  it('paces writes, and a hurry skips the wait', async () => {
    const starts: number[] = [];
    const { sender, finished } = send(
      jobs(3),
      async () => {
        starts.push(Date.now());
      },
      { minWriteIntervalMs: 200 },
    );
    await wait(250);
    expect(starts).toHaveLength(2);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(195);
    sender.hurry();
    await finished;
    expect(starts[2]! - starts[1]!).toBeLessThan(150);
  });
});

describe('sender while the backend is down', () => {
  it('keeps probing at the health cadence however often the same task failed', async () => {
    const down = () => new BackendError('BACKEND_UNREACHABLE', 'refused', { retryable: true });
    let healthy = false;
    const tries = new Map<number, number>();
    const { finished } = send(jobs(3), async (job) => {
      tries.set(job.id, (tries.get(job.id) ?? 0) + 1);
      if (!healthy) throw down();
    });
    // Down for 4 s: probes at most about a second apart, each a real task.
    await wait(4000);
    const probes = [...tries.values()].reduce((a, b) => a + b, 0);
    expect(probes).toBeGreaterThanOrEqual(4);
    expect(probes).toBeLessThanOrEqual(12);
    healthy = true;
    const back = Date.now();
    await finished;
    // No task was held back by a backoff of its own: all went within a probe's wait.
    expect(Date.now() - back).toBeLessThan(1500);
  });
});
