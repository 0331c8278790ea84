import { describe, expect, it } from 'vitest';
import { isSystemKey, SystemSamples, wandbSystemItem } from './wandb-system.js';

describe('W&B system metric names', () => {
  it("maps core's names and units to wandb-core's keys", () => {
    expect(wandbSystemItem('system/process_cpu_percentage', 12.5)).toEqual(['cpu', 12.5]);
    expect(wandbSystemItem('system/system_memory_usage_percentage', 40)).toEqual([
      'memory_percent',
      40,
    ]);
    // MB of 10^6 bytes → MiB; MB → bytes; MB → GiB.
    expect(wandbSystemItem('system/process_memory_rss_megabytes', 2 ** 20 / 1e6)).toEqual([
      'proc.memory.rssMB',
      1,
    ]);
    expect(wandbSystemItem('system/network_transmit_megabytes', 1.5)).toEqual([
      'network.sent',
      1_500_000,
    ]);
    expect(wandbSystemItem('system/disk_usage_megabytes', 2 ** 30 / 1e6)).toEqual([
      'disk./.usageGB',
      1,
    ]);
    expect(wandbSystemItem('system/gpu_1_utilization_percentage', 80)).toEqual(['gpu.1.gpu', 80]);
    expect(wandbSystemItem('system/gpu_0_memory_usage_megabytes', 2)).toEqual([
      'gpu.0.memoryAllocatedBytes',
      2e6,
    ]);
    expect(wandbSystemItem('system/gpu_0_power_limit_watts', 250)).toEqual([
      'gpu.0.enforcedPowerLimitWatts',
      250,
    ]);
  });

  it("labels a node's keys as wandb's x_label does, and keeps names W&B has no key for", () => {
    expect(wandbSystemItem('system/node_1/process_threads', 9)).toEqual([
      'proc.cpu.threads/l:node_1',
      9,
    ]);
    expect(wandbSystemItem('system/cpu_utilization_percentage', 33)).toEqual([
      'cpu_utilization_percentage',
      33,
    ]);
    expect(isSystemKey('system/x')).toBe(true);
    expect(isSystemKey('systems/x')).toBe(false);
    expect(isSystemKey('loss')).toBe(false);
  });

  it('groups points into one sample per step and node, in time order', () => {
    const samples = new SystemSamples();
    samples.add('system/process_threads', 3, 0, 1000);
    samples.add('system/node_1/process_threads', 4, 0, 1010);
    samples.add('system/memory_percent_unknown', 1, 0, 1005);
    samples.add('system/process_threads', 5, 1, 2000);
    expect(samples.take()).toEqual([
      {
        timestampMs: 1005,
        items: [
          ['proc.cpu.threads', 3],
          ['memory_percent_unknown', 1],
        ],
      },
      { timestampMs: 1010, items: [['proc.cpu.threads/l:node_1', 4]] },
      { timestampMs: 2000, items: [['proc.cpu.threads', 5]] },
    ]);
    expect(samples.take()).toEqual([]);
  });
});
