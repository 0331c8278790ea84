/**
 * What the MLflow server holds of a run, read over its REST API (`runs/get`): the latest
 * step and timestamp of every metric. An outage test compares it with a snapshot taken while
 * the server was down, to see when the first request after the restart landed, as the
 * server saw it rather than as the client's cursors (which move only over whole records) say.
 */
import { sleep } from './util.js';

type Latest = Record<string, string>;

async function latestMetrics(url: string, runId: string): Promise<Latest | undefined> {
  try {
    const res = await fetch(`${url}/api/2.0/mlflow/runs/get?run_id=${runId}`, {
      signal: AbortSignal.timeout(2_000),
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as {
      run: { data: { metrics?: { key: string; step: string; timestamp: string }[] } };
    };
    const out: Latest = {};
    for (const m of body.run.data.metrics ?? []) out[m.key] = `${m.step}@${m.timestamp}`;
    return out;
  } catch {
    return undefined;
  }
}

/** The run's latest metrics now (throws if the server does not answer). */
export async function landedNow(url: string, runId: string): Promise<Latest> {
  const latest = await latestMetrics(url, runId);
  if (latest === undefined) throw new Error(`runs/get ${runId} did not answer`);
  return latest;
}

/**
 * Polls `runs/get` (every 50 ms, up to `timeoutMs`) until any metric's latest point differs
 * from `before`: when the first write after `before` landed (`Date.now()`), or undefined.
 */
export async function firstLanded(
  url: string,
  runId: string,
  before: Latest,
  timeoutMs: number,
): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const now = await latestMetrics(url, runId);
    if (now !== undefined && Object.entries(now).some(([key, v]) => before[key] !== v)) {
      return Date.now();
    }
    await sleep(50);
  }
  return undefined;
}
