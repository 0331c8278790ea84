import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SystemSampler } from './system-metrics.js';

const work = mkdtempSync(join(tmpdir(), 'trackstack-sysmetrics-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A /proc of our own: /proc/stat's first line, /proc/net/dev, /proc/self/status. */
function fakeProc(stat: number[], net: [string, number, number][], threads: number): string {
  const root = join(work, `proc-${Math.random().toString(16).slice(2)}`);
  mkdirSync(join(root, 'net'), { recursive: true });
  mkdirSync(join(root, 'self'), { recursive: true });
  writeProc(root, stat, net, threads);
  return root;
}

function writeProc(root: string, stat: number[], net: [string, number, number][], threads: number) {
  writeFileSync(join(root, 'stat'), `cpu  ${stat.join(' ')}\ncpu0 ${stat.join(' ')}\n`);
  const lines = net.map(
    ([name, rx, tx]) => `${name.padStart(6)}: ${rx} 10 0 0 0 0 0 0 ${tx} 10 0 0 0 0 0 0`,
  );
  writeFileSync(
    join(root, 'net', 'dev'),
    [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      ...lines,
      '',
    ].join('\n'),
  );
  writeFileSync(join(root, 'self', 'status'), `Name:\tnode\nThreads:\t${threads}\n`);
}

describe('SystemSampler', () => {
  it('computes CPU as psutil does (iowait idle, guest inside user) and network since the start', async () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    const root = fakeProc(
      [1000, 0, 500, 8000, 500, 0, 0, 0, 200, 0],
      [
        ['lo', 1000, 1000],
        ['eth0', 5000, 3000],
      ],
      7,
    );
    const sampler = new SystemSampler({ dir: work, procRoot: root, gpus: async () => [] });
    await sampler.start();
    // +600 user (of which 100 guest), +200 system, +1000 idle, +200 iowait: busy 800 of 2000.
    writeProc(
      root,
      [1600, 0, 700, 9000, 700, 0, 0, 0, 300, 0],
      [
        ['lo', 3000, 3000],
        ['eth0', 2_005_000, 1_003_000],
      ],
      9,
    );
    const sample = await sampler.sample();
    expect(sample.cpu_utilization_percentage).toBe(40);
    expect(sample.network_receive_megabytes).toBe(2.002);
    expect(sample.network_transmit_megabytes).toBe(1.002);
    expect(sample.process_threads).toBe(9);
  });

  it('reads this machine: memory as /proc/meminfo says, the disk as df says', async () => {
    const sampler = new SystemSampler({ dir: work, gpus: async () => [] });
    await sampler.start();
    // /proc/stat counts in ticks of 10 ms: let some pass.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sample = await sampler.sample();
    const meminfo = readFileSync('/proc/meminfo', 'utf8');
    const kb = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(meminfo)![1]) * 1024;
    const used = (kb('MemTotal') - kb('MemAvailable')) / 1e6;
    expect(Math.abs(sample.system_memory_usage_megabytes! - used)).toBeLessThan(200);
    expect(sample.system_memory_usage_percentage).toBeCloseTo(
      (used * 1e6 * 100) / kb('MemTotal'),
      0,
    );
    const [usedBytes, availBytes] = execFileSync('df', ['-B1', '--output=used,avail', work])
      .toString()
      .trim()
      .split('\n')[1]!
      .trim()
      .split(/\s+/)
      .map(Number);
    expect(Math.abs(sample.disk_usage_megabytes! - usedBytes! / 1e6)).toBeLessThan(100);
    expect(Math.abs(sample.disk_available_megabytes! - availBytes! / 1e6)).toBeLessThan(100);
    expect(sample.disk_usage_percentage).toBeCloseTo(
      (100 * usedBytes!) / (usedBytes! + availBytes!),
      0,
    );
    for (const key of [
      'cpu_utilization_percentage',
      'network_receive_megabytes',
      'network_transmit_megabytes',
      'process_cpu_percentage',
      'process_memory_rss_megabytes',
      'process_threads',
    ])
      expect(sample[key], key).toBeGreaterThanOrEqual(0);
  });

  it("writes each GPU under MLflow's names and units; a failing source leaves only its own values out", async () => {
    const sampler = new SystemSampler({
      dir: join(work, 'no-such-dir'),
      gpus: async () => [
        {
          index: 0,
          utilization: 35,
          memoryUsedMiB: 1024,
          memoryTotalMiB: 8192,
          memoryPercent: 12.5,
          powerW: 120.5,
          powerLimitW: 250,
          temperatureC: 61,
        },
        { index: 1, utilization: 3 },
      ],
    });
    await sampler.start();
    const sample = await sampler.sample();
    expect(sample).toMatchObject({
      gpu_0_utilization_percentage: 35,
      gpu_0_memory_usage_percentage: 12.5,
      gpu_0_memory_usage_megabytes: 1073.7,
      gpu_0_power_usage_watts: 120.5,
      gpu_0_power_usage_percentage: 48.2,
      gpu_0_power_limit_watts: 250,
      gpu_0_temperature_celsius: 61,
      gpu_1_utilization_percentage: 3,
    });
    expect(sample).not.toHaveProperty('gpu_1_power_usage_watts');
    // The run's directory is gone: no disk figures, everything else still there.
    expect(sample).not.toHaveProperty('disk_usage_percentage');
    expect(sample.system_memory_usage_megabytes).toBeGreaterThan(0);

    const broken = new SystemSampler({
      dir: work,
      gpus: async () => {
        throw new Error('driver gone');
      },
    });
    await broken.start();
    const rest = await broken.sample();
    expect(rest.disk_usage_percentage).toBeGreaterThan(0);
    expect(Object.keys(rest).some((k) => k.startsWith('gpu_'))).toBe(false);
  });
});
