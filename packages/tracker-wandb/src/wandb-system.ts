/**
 * System metrics in W&B's own form. Core's sampler logs `system/<name>`
 * metrics under MLflow's names and units (`system/<node>/<name>` with a node
 * id); W&B keeps them apart from history, as `stats` records in an offline
 * run's `.wandb` file and as lines of `wandb-events.jsonl` online, under its
 * own names (wandb-core 0.30's `system.go` and `gpu_nvidia.rs`): `cpu`,
 * `memory_percent`, `proc.memory.rssMB` (MiB), `disk./.usagePercent`,
 * `network.sent` (bytes), `gpu.0.gpu`, … A node id becomes W&B's label
 * suffix `/l:<node>` (wandb's `x_label`). A name W&B has no key for keeps its
 * own, so nothing logged is lost.
 */
import { SYSTEM_METRIC_PREFIX } from '@trackstack/core';

const MIB = 2 ** 20;
const FROM_MB_TO_MIB = 1e6 / MIB;

/** core's name → [W&B's key, factor from core's unit to W&B's]. */
const NAMES: Record<string, [string, number]> = {
  process_cpu_percentage: ['cpu', 1],
  system_memory_usage_percentage: ['memory_percent', 1],
  system_memory_available_megabytes: ['proc.memory.availableMB', FROM_MB_TO_MIB],
  process_memory_rss_megabytes: ['proc.memory.rssMB', FROM_MB_TO_MIB],
  process_memory_percentage: ['proc.memory.percent', 1],
  process_threads: ['proc.cpu.threads', 1],
  disk_usage_percentage: ['disk./.usagePercent', 1],
  disk_usage_megabytes: ['disk./.usageGB', 1e6 / 2 ** 30],
  network_receive_megabytes: ['network.recv', 1e6],
  network_transmit_megabytes: ['network.sent', 1e6],
};

const GPU_NAMES: Record<string, [string, number]> = {
  utilization_percentage: ['gpu', 1],
  memory_usage_percentage: ['memoryAllocated', 1],
  memory_usage_megabytes: ['memoryAllocatedBytes', 1e6],
  power_usage_watts: ['powerWatts', 1],
  power_usage_percentage: ['powerPercent', 1],
  power_limit_watts: ['enforcedPowerLimitWatts', 1],
  temperature_celsius: ['temp', 1],
};

/** Whether a metric key is a system metric (W&B keeps those out of history). */
export function isSystemKey(key: string): boolean {
  return key.charCodeAt(0) === 115 && key.startsWith(SYSTEM_METRIC_PREFIX);
}

/** W&B's key (without `system.`) and value for a `system/…` metric. */
export function wandbSystemItem(key: string, value: number): [string, number] {
  const rest = key.slice(SYSTEM_METRIC_PREFIX.length);
  const slash = rest.lastIndexOf('/');
  const node = slash < 0 ? undefined : rest.slice(0, slash);
  const name = slash < 0 ? rest : rest.slice(slash + 1);
  let mapped: [string, number] | undefined = NAMES[name];
  if (mapped === undefined) {
    const gpu = /^gpu_(\d+)_(.+)$/.exec(name);
    const known = gpu === null ? undefined : GPU_NAMES[gpu[2]!];
    if (gpu !== null && known !== undefined) mapped = [`gpu.${gpu[1]}.${known[0]}`, known[1]];
  }
  const [wandbKey, factor] = mapped ?? [name, 1];
  return [node === undefined ? wandbKey : `${wandbKey}/l:${node}`, value * factor];
}

/** One sample: its time and W&B items. */
export interface WandbSystemSample {
  timestampMs: number;
  items: [string, number][];
}

/** Groups system points into samples: one per step and node, as the sampler logged them. */
export class SystemSamples {
  private readonly byKey = new Map<string, WandbSystemSample>();

  add(key: string, value: number, step: number, timestampMs: number): void {
    const [item, converted] = wandbSystemItem(key, value);
    const node = key.slice(SYSTEM_METRIC_PREFIX.length, key.lastIndexOf('/') + 1);
    const id = `${node}\u0000${step}`;
    let sample = this.byKey.get(id);
    if (sample === undefined) {
      sample = { timestampMs, items: [] };
      this.byKey.set(id, sample);
    }
    sample.timestampMs = Math.max(sample.timestampMs, timestampMs);
    sample.items.push([item, converted]);
  }

  /** The samples in time order, and forgets them. */
  take(): WandbSystemSample[] {
    const out = [...this.byKey.values()].sort((a, b) => a.timestampMs - b.timestampMs);
    this.byKey.clear();
    return out;
  }
}
