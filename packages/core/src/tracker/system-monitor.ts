/**
 * System metrics for a run: the sampler (engine/system-metrics.ts) on a timer,
 * each sample logged as `system/<name>` metrics (with a node id,
 * `system/<node id>/<name>`) at steps 0, 1, 2, … as MLflow numbers them. On
 * by default (as W&B; MLflow's is opt-in): `startRun({ systemMetrics: false })`
 * or TRACKSTACK_SYSTEM_METRICS=0 turns it off, TRACKSTACK_SYSTEM_METRICS_INTERVAL_S
 * sets the interval (default 10 s). The timer never keeps the process alive.
 */
import { TrackstackError } from '../contract/errors.js';
import type { Logger } from '../contract/log.js';
import { envTurnsOff } from '../engine/env-flag.js';
import {
  DEFAULT_SYSTEM_METRICS_INTERVAL_S,
  SYSTEM_METRIC_PREFIX,
  SystemSampler,
  type SystemSamplerOptions,
} from '../engine/system-metrics.js';

export const SYSTEM_METRICS_ENV = 'TRACKSTACK_SYSTEM_METRICS';
export const SYSTEM_METRICS_INTERVAL_ENV = 'TRACKSTACK_SYSTEM_METRICS_INTERVAL_S';

/** `startRun({ systemMetrics })`. */
export interface SystemMetricsOptions {
  /** Seconds between samples (default TRACKSTACK_SYSTEM_METRICS_INTERVAL_S, else 10). */
  intervalS?: number;
  /**
   * This process's name among several logging to one run (ranks, nodes):
   * its keys become `system/<nodeId>/…` (MLflow's `set_system_metrics_node_id`).
   */
  nodeId?: string;
}

interface Resolved {
  intervalS: number;
  nodeId: string | undefined;
}

/** The settings of a run's sampler, or undefined when it is off. Bad values throw INVALID_CONFIG. */
export function resolveSystemMetrics(
  option: false | SystemMetricsOptions | undefined,
  attached: boolean,
  env: Record<string, string | undefined> = process.env,
): Resolved | undefined {
  if (option === false) return undefined;
  if (option === undefined && envTurnsOff(env[SYSTEM_METRICS_ENV])) return undefined;
  // A process attached to another's run samples only when it names its node: the owner samples.
  if (attached && option?.nodeId === undefined) return undefined;
  const fromEnv = env[SYSTEM_METRICS_INTERVAL_ENV];
  const intervalS =
    option?.intervalS ??
    (fromEnv === undefined || fromEnv.trim() === '' ? undefined : Number(fromEnv)) ??
    DEFAULT_SYSTEM_METRICS_INTERVAL_S;
  if (typeof intervalS !== 'number' || !Number.isFinite(intervalS) || intervalS < 0.1) {
    throw new TrackstackError(
      'INVALID_CONFIG',
      `system metrics interval ${JSON.stringify(option?.intervalS ?? fromEnv)}: give seconds, at least 0.1`,
      { hint: `startRun({ systemMetrics: { intervalS } }) or ${SYSTEM_METRICS_INTERVAL_ENV}` },
    );
  }
  const nodeId = option?.nodeId;
  if (nodeId !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(nodeId)) {
    throw new TrackstackError(
      'INVALID_CONFIG',
      `system metrics node id ${JSON.stringify(nodeId)}: use letters, digits, _ . and -`,
    );
  }
  return { intervalS, nodeId };
}

/** What the monitor needs of a run. */
export interface MonitoredRun {
  logMetrics(values: Record<string, number>, options: { step: number; timestamp: number }): void;
}

export interface SystemMonitor {
  stop(): void;
}

/**
 * Samples every `intervalS` and logs each sample at the next step (from
 * `firstStep`, for a resumed run the step after its last). The first sample
 * comes one interval after the start (MLflow's rhythm), measured against
 * baselines taken at the start.
 */
export function startSystemMonitor(
  run: MonitoredRun,
  settings: Resolved,
  sampler: SystemSamplerOptions,
  options: { firstStep: number; logger: Logger },
): SystemMonitor {
  const prefix = `${SYSTEM_METRIC_PREFIX}${settings.nodeId === undefined ? '' : `${settings.nodeId}/`}`;
  const monitor = new SystemSampler(sampler);
  let step = options.firstStep;
  let stopped = false;
  let busy = false;
  let warned = false;
  const ready = monitor.start().catch(() => undefined);
  const tick = async () => {
    if (stopped || busy) return;
    busy = true;
    try {
      await ready;
      const values = await monitor.sample();
      if (stopped) return;
      const keyed: Record<string, number> = {};
      for (const [name, value] of Object.entries(values)) keyed[`${prefix}${name}`] = value;
      if (Object.keys(keyed).length === 0) return;
      run.logMetrics(keyed, { step, timestamp: Date.now() });
      step += 1;
    } catch (error) {
      if (!warned) {
        warned = true;
        options.logger.warn(
          `trackstack: a system metrics sample failed (${(error as Error).message}); the run goes on`,
        );
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), settings.intervalS * 1000);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
