/**
 * The flavor's config: where the event files go, how often they are
 * written, when a file rolls over. Relative paths are taken from the working
 * directory of the process that logs, as PyTorch's `SummaryWriter` does.
 */
import { resolve } from 'node:path';
import { z } from 'zod';

export const tensorboardConfigSchema = z
  .object({
    log_dir: z
      .string()
      .min(1)
      .default('runs')
      .describe(
        "the directory `tensorboard --logdir` is given: a run goes to <log_dir>/<experiment>/<run name> (default runs, as PyTorch's SummaryWriter)",
      ),
    flush_interval_s: z
      .number()
      .min(0)
      .max(3600)
      .default(1)
      .describe(
        'at least this long between two writes of a run (what is logged meanwhile goes in one write); the end and flush() write at once',
      ),
    max_file_mb: z
      .number()
      .positive()
      .max(1_000_000)
      .default(256)
      .describe('an event file that grew past this many MiB is closed, and a new one started'),
  })
  .strict();

export type TensorboardConfig = z.output<typeof tensorboardConfigSchema>;

export interface ResolvedTensorboardConfig extends TensorboardConfig {
  /** `log_dir`, absolute. */
  logDir: string;
  maxFileBytes: number;
}

export function resolveTensorboardConfig(config: TensorboardConfig): ResolvedTensorboardConfig {
  return {
    ...config,
    logDir: resolve(config.log_dir),
    maxFileBytes: Math.round(config.max_file_mb * 1024 * 1024),
  };
}
