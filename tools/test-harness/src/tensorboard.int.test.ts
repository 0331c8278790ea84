import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './process.js';
import type { PythonEnv } from './python-env.js';
import { ensureTensorboardEnv, startTensorboard } from './tensorboard.js';

// One run written by tensorboardX: two scalars (0.1 is stored as float32) and an hparams
// session, which tensorboardX writes into the subdirectory named by `name`.
const WRITE = `
import sys
from tensorboardX import SummaryWriter
w = SummaryWriter(sys.argv[1])
w.add_scalar("loss", 0.5, 3, walltime=1700000000.0)
w.add_scalar("loss", 0.1, 4, walltime=1700000001.0)
w.add_hparams({"lr": 0.01, "opt": "adam", "bn": True}, {"hparam/acc": 0.9}, name="hp", global_step=4)
w.close()
`;

const ALL_STATUSES = ['STATUS_UNKNOWN', 'STATUS_SUCCESS', 'STATUS_FAILURE', 'STATUS_RUNNING'];

let env: PythonEnv;
let logdir: string;

beforeAll(async () => {
  env = await ensureTensorboardEnv();
  logdir = await mkdtemp(join(tmpdir(), 'trackstack-tb-'));
  const check = await run(env.python, ['-c', 'import tensorboard, tensorboardX, numpy, PIL']);
  expect(check.code, check.stderr).toBe(0);
  const wrote = await run(env.python, ['-c', WRITE, join(logdir, 'run-a')]);
  expect(wrote.code, wrote.stderr).toBe(0);
});

afterAll(async () => {
  if (logdir) await rm(logdir, { recursive: true, force: true });
});

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return false;
  } catch {
    return true;
  }
}

describe.each(['auto', 'false'] as const)('startTensorboard (--load_fast %s)', (loadFast) => {
  it('serves a tensorboardX run: runs, scalars, hparams; stops cleanly', async () => {
    const tb = await startTensorboard({ logdir, loadFast });
    try {
      expect(tb.url).toBe(`http://127.0.0.1:${tb.port}`);
      const runs = await tb.waitForJson<string[]>(
        '/data/runs',
        (r) => r.includes('run-a') && r.includes('run-a/hp'),
      );
      expect([...runs].sort()).toEqual(['run-a', 'run-a/hp']);

      const tags = await tb.waitForJson<Record<string, Record<string, unknown>>>(
        '/data/plugin/scalars/tags',
        (t) => 'loss' in (t['run-a'] ?? {}),
      );
      expect(Object.keys(tags['run-a']!)).toEqual(['loss']);
      expect(Object.keys(tags['run-a/hp']!)).toEqual(['hparam/acc']);

      // [wall_time, step, value]; the value is the float32 TensorBoard holds.
      const points = await tb.json<[number, number, number][]>(
        '/data/plugin/scalars/scalars?run=run-a&tag=loss',
      );
      expect(points).toEqual([
        [1700000000, 3, 0.5],
        [1700000001, 4, Math.fround(0.1)],
      ]);

      const experiment = await tb.json<{
        hparamInfos: { name: string; type: string }[];
        metricInfos: { name: { tag: string; group: string } }[];
      }>('/data/plugin/hparams/experiment', { experimentName: '' });
      expect(experiment.hparamInfos.map((h) => [h.name, h.type])).toEqual([
        ['bn', 'DATA_TYPE_BOOL'],
        ['lr', 'DATA_TYPE_FLOAT64'],
        ['opt', 'DATA_TYPE_STRING'],
      ]);
      expect(experiment.metricInfos.map((m) => m.name)).toEqual([{ tag: 'hparam/acc', group: '' }]);

      const groups = await tb.json<{
        sessionGroups: {
          name: string;
          hparams: Record<string, unknown>;
          sessions: { name: string; status: string; metricValues: { value: number }[] }[];
        }[];
        totalSize: number;
      }>('/data/plugin/hparams/session_groups', {
        experimentName: '',
        allowedStatuses: ALL_STATUSES,
        colParams: [],
        startIndex: 0,
        sliceSize: 100,
      });
      expect(groups.totalSize).toBe(1);
      const [group] = groups.sessionGroups;
      expect(group!.name).toBe('run-a/hp');
      expect(group!.hparams).toEqual({ lr: 0.01, opt: 'adam', bn: true });
      expect(group!.sessions.map((s) => [s.name, s.status])).toEqual([
        ['run-a/hp', 'STATUS_SUCCESS'],
      ]);
      expect(group!.sessions[0]!.metricValues[0]!.value).toBe(Math.fround(0.9));
    } finally {
      await tb.stop();
    }
    expect(await refused(`${tb.url}/data/runs`)).toBe(true);
    await tb.stop(); // idempotent
  }, 120_000);
});
