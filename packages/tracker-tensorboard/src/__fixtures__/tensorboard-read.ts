/**
 * The TensorBoard flavor's test peers: its event files read back by TensorBoard's own code
 * (read_events.py in the harness's pinned venv), and the same run written by tensorboardX
 * (tensorboardx_oracle.py).
 */
import { join } from 'node:path';
import { ensureTensorboardEnv, runPython } from '@trackstack/test-harness';

const FIXTURES = import.meta.dirname;

/** A number as read_events.py prints it: NaN and ±Infinity as strings. */
export type JsonNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export interface RunEvents {
  accumulator: {
    scalars: Record<string, { step: number; wall_time: number; value: JsonNumber }[]>;
    images: Record<
      string,
      { step: number; width: number; height: number; sha256: string; decoded: { width: number } }[]
    >;
    histograms: Record<
      string,
      {
        step: number;
        min: number;
        max: number;
        num: number;
        sum: number;
        bucket_limit: number[];
        bucket: number[];
      }[]
    >;
  };
  plugin_accumulator: {
    text: Record<string, { step: number; text: string[] | string }[]>;
    hparams: Record<
      string,
      {
        session_start_info?: { hparams: Record<string, unknown>; start_time_secs: number };
        session_end_info?: { status: string; end_time_secs: number };
      }
    >;
  };
  files: {
    name: string;
    size: number;
    events: Record<string, unknown>[];
    loader_count: number;
    reader: { count: number; error: string | null };
    framing: { records: number; trailing_bytes: number; error: string | null };
  }[];
}

export interface EventsDocument {
  tensorboard: string;
  runs: Record<string, RunEvents>;
}

/** Every run under `dir`, as TensorBoard reads it. */
export async function readEvents(dir: string): Promise<EventsDocument> {
  const env = await ensureTensorboardEnv();
  const result = await runPython(env, join(FIXTURES, 'read_events.py'), [dir]);
  if (result.code !== 0) throw new Error(`read_events.py exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as EventsDocument;
}

/** Writes a run with tensorboardX (the spec: tensorboardx_oracle.py's docstring). */
export async function writeWithTensorboardX(spec: Record<string, unknown>): Promise<void> {
  const env = await ensureTensorboardEnv();
  const result = await runPython(env, join(FIXTURES, 'tensorboardx_oracle.py'), [], {
    input: JSON.stringify(spec),
  });
  if (result.code !== 0) {
    throw new Error(`tensorboardx_oracle.py exited ${result.code}: ${result.stderr}`);
  }
}

/** A value from the reader as a number. */
export const num = (value: JsonNumber): number =>
  typeof value === 'number' ? value : Number(value);

/** A text summary's string. */
export const textOf = (value: string[] | string): string =>
  Array.isArray(value) ? value.join('') : value;
