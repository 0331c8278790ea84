import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TrackstackError } from '../contract/errors.js';
import { silentLogger } from '../contract/log.js';
import { LocalRuns } from '../local/local-runs.js';
import { LocalExperimentTracker } from '../local/local-tracker.js';
import { resolveSystemMetrics } from './system-monitor.js';
import { createTracker } from './tracker.js';

let storeDir: string;
beforeEach(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-sysmon-'));
});
afterEach(async () => {
  await rm(storeDir, { recursive: true, force: true });
});

const local = () =>
  createTracker(new LocalExperimentTracker({}, { storeDir }), { logger: silentLogger });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('resolveSystemMetrics', () => {
  it('is on by default every 10 s, off by option or TRACKSTACK_SYSTEM_METRICS=0', () => {
    expect(resolveSystemMetrics(undefined, false, {})).toEqual({
      intervalS: 10,
      nodeId: undefined,
    });
    expect(resolveSystemMetrics(false, false, {})).toBeUndefined();
    for (const off of ['0', 'false', 'off', 'no'])
      expect(
        resolveSystemMetrics(undefined, false, { TRACKSTACK_SYSTEM_METRICS: off }),
      ).toBeUndefined();
    // The option wins over the environment.
    expect(resolveSystemMetrics({}, false, { TRACKSTACK_SYSTEM_METRICS: '0' })).toBeDefined();
    expect(
      resolveSystemMetrics(undefined, false, { TRACKSTACK_SYSTEM_METRICS_INTERVAL_S: '2.5' }),
    ).toEqual({ intervalS: 2.5, nodeId: undefined });
    expect(resolveSystemMetrics({ intervalS: 1, nodeId: 'node_1' }, false, {})).toEqual({
      intervalS: 1,
      nodeId: 'node_1',
    });
  });

  it('leaves sampling to the owner in an attached process, unless it names its node', () => {
    expect(resolveSystemMetrics(undefined, true, {})).toBeUndefined();
    expect(resolveSystemMetrics({ nodeId: 'rank_1' }, true, {})?.nodeId).toBe('rank_1');
  });

  it('refuses a bad interval or node id with a typed error', () => {
    for (const [option, env] of [
      [{ intervalS: 0 }, {}],
      [{ intervalS: Number.NaN }, {}],
      [undefined, { TRACKSTACK_SYSTEM_METRICS_INTERVAL_S: 'soon' }],
      [{ nodeId: 'a/b' }, {}],
    ] as const) {
      let error: unknown;
      try {
        resolveSystemMetrics(option, false, env);
      } catch (e) {
        error = e;
      }
      expect(TrackstackError.isInstance(error) && error.code).toBe('INVALID_CONFIG');
    }
  });
});

describe('system metrics of a run', () => {
  it('logs samples as system/… metrics at steps 0, 1, 2 …, and a resumed run goes on after its last', async () => {
    const run = await local().startRun({ systemMetrics: { intervalS: 0.2 } });
    await sleep(1_100);
    await run.end();
    const histories = await new LocalRuns(storeDir).metricHistories(run.uid);
    const cpu = histories['system/cpu_utilization_percentage'] ?? [];
    expect(cpu.length).toBeGreaterThanOrEqual(2);
    expect(cpu.map((p) => p.step)).toEqual(cpu.map((_, i) => i));
    for (const key of [
      'system/system_memory_usage_megabytes',
      'system/disk_usage_percentage',
      'system/process_memory_rss_megabytes',
    ])
      expect(histories[key]?.length, key).toBe(cpu.length);

    const resumed = await local().startRun({
      id: run.uid,
      resume: 'must',
      systemMetrics: { intervalS: 0.2 },
    });
    await sleep(700);
    await resumed.end();
    const after = (await new LocalRuns(storeDir).metricHistories(run.uid))[
      'system/cpu_utilization_percentage'
    ]!;
    expect(after.length).toBeGreaterThan(cpu.length);
    expect(after.map((p) => p.step)).toEqual(after.map((_, i) => i));
  });

  it('prefixes the keys with the node id, and logs nothing when off', async () => {
    const node = await local().startRun({ systemMetrics: { intervalS: 0.2, nodeId: 'node_0' } });
    const off = await local().startRun({ systemMetrics: false });
    await sleep(700);
    await Promise.all([node.end(), off.end()]);
    const runs = new LocalRuns(storeDir);
    const keys = Object.keys((await runs.get(node.uid)).metrics);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.startsWith('system/node_0/'))).toBe(true);
    expect((await runs.get(off.uid)).metrics).toEqual({});
  });
});
