/**
 * What the machine is doing, sampled for a run on a timer (never on the
 * logging path): system CPU, memory, disk and network, this process's CPU,
 * memory and threads, and each GPU that nvidia-smi or rocm-smi reports. The
 * names and units are MLflow's (`system/cpu_utilization_percentage`, MB of
 * 10^6 bytes, network since the sampler started), plus a few W&B shows that
 * MLflow does not (process, GPU temperature and power limit); flavors write
 * them in their backend's own form. Every source is read on its own: one that
 * is slow or fails leaves its values out of that sample, never the others.
 */
import { readFile, statfs } from 'node:fs/promises';
import { availableParallelism, cpus, freemem, totalmem } from 'node:os';
import { type GpuReading, readGpus } from './gpu.js';

/** The prefix of every system metric key (MLflow's; its "System metrics" tab shows them). */
export const SYSTEM_METRIC_PREFIX = 'system/';

/** MLflow's and W&B's default sampling interval is 10 s and 15 s; ours is MLflow's. */
export const DEFAULT_SYSTEM_METRICS_INTERVAL_S = 10;

export interface SystemSamplerOptions {
  /** The directory whose filesystem the disk figures are of (the run's directory). */
  dir: string;
  /** GPU readings (default: nvidia-smi, else rocm-smi). */
  gpus?: () => Promise<GpuReading[]>;
  /** Where /proc is (tests). */
  procRoot?: string;
}

interface CpuTimes {
  busy: number;
  total: number;
}

const MB = 1e6;
const round1 = (x: number) => Math.round(x * 10) / 10;

export class SystemSampler {
  private readonly dir: string;
  private readonly gpus: () => Promise<GpuReading[]>;
  private readonly proc: string;
  private cpuBefore: CpuTimes | undefined;
  private netStart: { rx: number; tx: number } | undefined;
  private processBefore: { usage: NodeJS.CpuUsage; at: number } | undefined;

  constructor(options: SystemSamplerOptions) {
    this.dir = options.dir;
    this.gpus = options.gpus ?? readGpus;
    this.proc = options.procRoot ?? '/proc';
  }

  /** Takes the baselines the first sample measures from (CPU, network, process CPU). */
  async start(): Promise<void> {
    const [cpu, net] = await Promise.all([this.cpuTimes(), this.netCounters()]);
    this.cpuBefore = cpu;
    this.netStart = net;
    this.processBefore = { usage: process.cpuUsage(), at: performance.now() };
  }

  /** One sample: metric names (without the `system/` prefix) to values. */
  async sample(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    await Promise.allSettled([
      this.cpu(out),
      this.memory(out),
      this.disk(out),
      this.network(out),
      this.process(out),
      this.gpu(out),
    ]);
    return out;
  }

  private async cpu(out: Record<string, number>): Promise<void> {
    const now = await this.cpuTimes();
    const before = this.cpuBefore;
    this.cpuBefore = now;
    if (now === undefined || before === undefined) return;
    const total = now.total - before.total;
    if (total <= 0) return;
    out.cpu_utilization_percentage = round1(((now.busy - before.busy) / total) * 100);
  }

  /** psutil's rule: busy = all − idle − iowait; total leaves out guest time (counted in user). */
  private async cpuTimes(): Promise<CpuTimes | undefined> {
    try {
      const stat = await readFile(`${this.proc}/stat`, 'utf8');
      const line = stat.split('\n', 1)[0]!;
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0] = f;
      // guest and guest_nice (fields 9, 10) are already counted in user and nice.
      const steal = f[7] ?? 0;
      const total = user + nice + system + idle + iowait + irq + softirq + steal;
      return { busy: total - idle - iowait, total };
    } catch {
      // Not Linux: libuv's counters (no iowait or steal).
      let busy = 0;
      let total = 0;
      for (const { times } of cpus()) {
        const all = times.user + times.nice + times.sys + times.idle + times.irq;
        total += all;
        busy += all - times.idle;
      }
      return total > 0 ? { busy, total } : undefined;
    }
  }

  private async memory(out: Record<string, number>): Promise<void> {
    const total = totalmem();
    // libuv's free memory is MemAvailable on Linux: used is psutil's (total − available).
    const available = freemem();
    const used = total - available;
    out.system_memory_usage_megabytes = round1(used / MB);
    out.system_memory_usage_percentage = round1((used / total) * 100);
    out.system_memory_available_megabytes = round1(available / MB);
  }

  private async disk(out: Record<string, number>): Promise<void> {
    const s = await statfs(this.dir);
    const used = (s.blocks - s.bfree) * s.bsize;
    const free = s.bavail * s.bsize;
    if (used + free <= 0) return;
    out.disk_usage_percentage = round1((used / (used + free)) * 100);
    out.disk_usage_megabytes = round1(used / MB);
    out.disk_available_megabytes = round1(free / MB);
  }

  private async network(out: Record<string, number>): Promise<void> {
    const now = await this.netCounters();
    const start = this.netStart;
    if (now === undefined || start === undefined) return;
    out.network_receive_megabytes = (now.rx - start.rx) / MB;
    out.network_transmit_megabytes = (now.tx - start.tx) / MB;
  }

  /** Bytes received and sent over every interface (loopback included, as psutil counts). */
  private async netCounters(): Promise<{ rx: number; tx: number } | undefined> {
    try {
      const text = await readFile(`${this.proc}/net/dev`, 'utf8');
      let rx = 0;
      let tx = 0;
      for (const line of text.split('\n').slice(2)) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const f = line
          .slice(colon + 1)
          .trim()
          .split(/\s+/)
          .map(Number);
        rx += f[0] ?? 0;
        tx += f[8] ?? 0;
      }
      return { rx, tx };
    } catch {
      return undefined;
    }
  }

  private async process(out: Record<string, number>): Promise<void> {
    const usage = process.cpuUsage();
    const at = performance.now();
    const before = this.processBefore;
    this.processBefore = { usage, at };
    if (before !== undefined && at > before.at) {
      const cpuMs = (usage.user - before.usage.user + usage.system - before.usage.system) / 1000;
      out.process_cpu_percentage = round1(
        (cpuMs / (at - before.at) / availableParallelism()) * 100,
      );
    }
    const rss = process.memoryUsage.rss();
    out.process_memory_rss_megabytes = round1(rss / MB);
    out.process_memory_percentage = round1((rss / totalmem()) * 100);
    try {
      const status = await readFile(`${this.proc}/self/status`, 'utf8');
      const threads = /^Threads:\s*(\d+)/m.exec(status)?.[1];
      if (threads !== undefined) out.process_threads = Number(threads);
    } catch {
      // Not Linux.
    }
  }

  private async gpu(out: Record<string, number>): Promise<void> {
    for (const g of await this.gpus()) {
      const p = `gpu_${g.index}_`;
      if (g.utilization !== undefined) out[`${p}utilization_percentage`] = round1(g.utilization);
      if (g.memoryPercent !== undefined)
        out[`${p}memory_usage_percentage`] = round1(g.memoryPercent);
      // MLflow's megabytes are 10^6 bytes; nvidia-smi reports MiB.
      if (g.memoryUsedMiB !== undefined)
        out[`${p}memory_usage_megabytes`] = round1((g.memoryUsedMiB * 2 ** 20) / MB);
      if (g.powerW !== undefined) out[`${p}power_usage_watts`] = round1(g.powerW);
      if (g.powerW !== undefined && g.powerLimitW)
        out[`${p}power_usage_percentage`] = round1((g.powerW / g.powerLimitW) * 100);
      if (g.powerLimitW !== undefined) out[`${p}power_limit_watts`] = round1(g.powerLimitW);
      if (g.temperatureC !== undefined) out[`${p}temperature_celsius`] = round1(g.temperatureC);
    }
  }
}
