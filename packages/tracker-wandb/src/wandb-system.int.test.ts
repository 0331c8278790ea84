/**
 * System metrics in W&B's own form, checked by W&B's own code: the real SDK's offline run with
 * stats on names the keys (ours must be among them); wandb-core reads our offline run's stats
 * records (the SDK's reader) and `wandb sync` turns them into the `wandb-events.jsonl` lines that
 * our online run streams itself.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensurePythonEnv,
  type PythonEnv,
  runProcess,
  runPython,
  startWandbServer,
  WANDB_REQUIREMENTS,
  type WandbServer,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offlineRunDir, sdkOfflineRun, wandbTracker } from './__fixtures__/test-tracker.js';

const READER = join(import.meta.dirname, '__fixtures__', 'wandb_read_offline.py');
/** Names ours sends that W&B 0.30 has no key for (kept, so nothing is lost). */
const OURS_ONLY = new Set([
  'cpu_utilization_percentage',
  'system_memory_usage_megabytes',
  'disk_available_megabytes',
]);
let py: PythonEnv;
let work: string;
const servers: WandbServer[] = [];

beforeAll(async () => {
  py = await ensurePythonEnv({ name: 'wandb', requirements: WANDB_REQUIREMENTS });
  work = mkdtempSync(join(tmpdir(), 'trackstack-wandb-system-'));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Stats {
  type: string;
  stats_type?: string;
  timestamp?: { seconds: number; nanos: number };
  items?: Record<string, number>;
  always_send?: boolean;
}

async function statsOf(runDir: string): Promise<Stats[]> {
  const file = readdirSync(runDir).find((f) => f.endsWith('.wandb'))!;
  const result = await runPython(py, READER, [join(runDir, file)]);
  expect(result.code, result.stderr).toBe(0);
  const report = JSON.parse(result.stdout) as { ok: boolean; records: Stats[] };
  expect(report.ok).toBe(true);
  return report.records.filter((r) => r.type === 'stats');
}

describe('W&B system metrics', () => {
  it("use the SDK's own keys, offline as stats records and online as wandb-events.jsonl lines", async () => {
    // 1. The SDK's own offline run with stats every 0.5 s.
    const sdkRunDir = await sdkOfflineRun(py, work, 'sdk', [
      'import time, wandb',
      "run = wandb.init(project='stats', settings=wandb.Settings(x_stats_sampling_interval=0.5))",
      'time.sleep(2.5)',
      'run.finish()',
    ]);
    const sdkKeys = new Set((await statsOf(sdkRunDir)).flatMap((r) => Object.keys(r.items ?? {})));
    expect(sdkKeys.has('memory_percent')).toBe(true);

    // 2. Ours, offline, sampling every 0.5 s.
    const synced = await startWandbServer();
    const online = await startWandbServer();
    servers.push(synced, online);
    const offDir = join(work, 'ours');
    mkdirSync(offDir);
    const off = await wandbTracker(
      synced,
      { mode: 'offline', dir: offDir, entity: synced.entity },
      join(work, 'store-off'),
    ).startRun({
      experiment: 'stats',
      systemMetrics: { intervalS: 0.5 },
    });
    off.logMetric('loss', 1, { step: 0 });
    await sleep(2_200);
    await off.end();
    const ourRunDir = offlineRunDir(offDir);
    const ours = await statsOf(ourRunDir);
    expect(ours.length).toBeGreaterThanOrEqual(2);
    for (const record of ours) {
      expect(record.stats_type).toBe('SYSTEM');
      expect(record.always_send).toBe(true);
    }
    const ourKeys = new Set(ours.flatMap((r) => Object.keys(r.items ?? {})));
    for (const key of ourKeys) {
      if (OURS_ONLY.has(key)) continue;
      expect(sdkKeys.has(key), `${key} is a key of the SDK's stats`).toBe(true);
    }
    for (const key of [
      'cpu',
      'memory_percent',
      'proc.memory.rssMB',
      'disk./.usagePercent',
      'network.sent',
    ])
      expect(ourKeys.has(key), key).toBe(true);
    // Same machine, same moment: memory use within a few points of the SDK's.
    const sdkMemory = (await statsOf(sdkRunDir))
      .map((r) => r.items?.memory_percent)
      .find((v) => v !== undefined)!;
    const ourMemory = ours.map((r) => r.items?.memory_percent).find((v) => v !== undefined)!;
    expect(Math.abs(ourMemory - sdkMemory)).toBeLessThan(10);

    // 3. `wandb sync` of ours: wandb-core's events lines from our stats records; history untouched.
    const sync = await runProcess(py.bin('wandb'), ['sync', ourRunDir], {
      env: { ...process.env, ...synced.sdkEnv, WANDB_DIR: offDir, TMPDIR: offDir },
    });
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
    const syncedRun = synced.run((await off.backendRef('wandb'))!.runId);
    const syncedEvents = syncedRun.eventsLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(syncedEvents).toHaveLength(ours.length);
    expect(
      syncedRun.history.map((row) => Object.keys(row).filter((k) => !k.startsWith('_'))),
    ).toEqual([['loss']]);

    // 4. Ours online: the same lines, streamed by us.
    const on = await wandbTracker(online, {}, join(work, 'store-on')).startRun({
      experiment: 'stats',
      systemMetrics: { intervalS: 0.5 },
    });
    on.logMetric('loss', 1, { step: 0 });
    await sleep(2_200);
    await on.end();
    const onlineRun = online.run((await on.backendRef('wandb'))!.runId);
    const onlineEvents = onlineRun.eventsLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(onlineEvents.length).toBeGreaterThanOrEqual(2);
    const shape = (line: Record<string, unknown>) => Object.keys(line).sort();
    expect(shape(onlineEvents[0]!)).toEqual(shape(syncedEvents[0]!));
    for (const line of [...onlineEvents, ...syncedEvents]) {
      expect(line._wandb).toBe(true);
      expect(typeof line._timestamp).toBe('number');
      expect(typeof line._runtime).toBe('number');
    }
    expect(
      onlineRun.history.map((row) => Object.keys(row).filter((k) => !k.startsWith('_'))),
    ).toEqual([['loss']]);
  }, 60_000);
});
