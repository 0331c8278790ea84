/**
 * Continuing a W&B run that W&B already has: `resume` checked against W&B's
 * answer as `wandb.init(resume=...)` does, and that answer (RunResumeStatus)
 * made the state a run goes on from.
 */
import type { ResumeStatus } from './wandb-client.js';
import { WandbError } from './wandb-error.js';
import { type HistoryRow, parseLoose } from './wandb-history.js';

/**
 * Throws when `resume` refuses what W&B has (`existing`) of the run at
 * `path`. `createdHere`: this tracker upserted that run (a create retried
 * after a lost answer), so it is not "another" run.
 */
export function checkResume(
  resume: 'allow' | 'must' | 'never',
  existing: ResumeStatus | undefined,
  path: string,
  createdHere: boolean,
): void {
  if (existing === undefined && resume === 'must') {
    throw new WandbError(`W&B has no run ${path} to resume (resume: 'must')`, {
      retryable: false,
      hint: "create it first, or use resume: 'allow'",
    });
  }
  if (existing !== undefined && resume === 'never' && !createdHere) {
    throw new WandbError(`W&B already has a run ${path} (resume: 'never')`, {
      retryable: false,
      hint: "use another run id, or resume: 'allow' to continue it",
    });
  }
}

/** What a run goes on from when W&B has it already. */
export interface ResumedRunState {
  /** Lines of wandb-history.jsonl W&B holds. */
  historyLines: number;
  /** The last of them, when W&B gave it (a step continued next is merged into it). */
  lastRow: HistoryRow | undefined;
  summary: Record<string, unknown>;
  /** Config values (W&B's `{"value": ...}` unwrapped, without `_wandb`). */
  config: Record<string, unknown>;
  /** W&B's tags, when it gave them. */
  tags: string[] | undefined;
}

export function resumedRunState(
  status: Pick<
    ResumeStatus,
    'historyLineCount' | 'historyTail' | 'summaryMetrics' | 'tags' | 'config'
  >,
): ResumedRunState {
  const config: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(parseLoose(status.config) ?? {})) {
    if (key !== '_wandb' && typeof item === 'object' && item !== null && 'value' in item) {
      config[key] = (item as { value: unknown }).value;
    }
  }
  // historyTail is a JSON array of the last lines (JSON text each).
  const tail = parseLoose(status.historyTail);
  const lines = Array.isArray(tail) ? tail : [];
  const lastLine = lines[lines.length - 1];
  const last =
    typeof lastLine === 'string'
      ? (parseLoose(lastLine) as Record<string, unknown> | undefined)
      : undefined;
  let lastRow: HistoryRow | undefined;
  if (last !== undefined && typeof last._step === 'number') {
    const values = new Map<string, number>();
    for (const [key, value] of Object.entries(last)) {
      if (!key.startsWith('_') && typeof value === 'number') values.set(key, value);
    }
    lastRow = {
      step: last._step,
      timestamp: typeof last._timestamp === 'number' ? last._timestamp * 1000 : Date.now(),
      values,
    };
  }
  return {
    historyLines: status.historyLineCount ?? 0,
    lastRow,
    summary: parseLoose(status.summaryMetrics) ?? {},
    config,
    tags: status.tags ? [...status.tags] : undefined,
  };
}
