/**
 * W&B's history text: metric points made rows (one per step), and JSON as
 * W&B writes history, summaries and config (NaN and ±Infinity as bare words)
 * and reads back.
 */
import type { MetricPoint } from '@trackstack/core';
import { formatWandbNumber } from './wandb-records.js';

/** A line of wandb-history.jsonl: the values of one step, at the latest of their times. */
export interface HistoryRow {
  step: number;
  timestamp: number;
  /** Metric values, and media values (objects) at their keys. */
  values: Map<string, unknown>;
}

/** Consecutive points of one step make one row (the journal keeps logging order). */
export function historyRows(points: readonly MetricPoint[]): HistoryRow[] {
  const rows: HistoryRow[] = [];
  let row: HistoryRow | undefined;
  for (const point of points) {
    if (row === undefined || row.step !== point.step) {
      row = { step: point.step, timestamp: point.timestamp, values: new Map() };
      rows.push(row);
    }
    row.values.set(point.key, point.value);
    row.timestamp = Math.max(row.timestamp, point.timestamp);
  }
  return rows;
}

/** JSON as W&B writes history and summaries: NaN and ±Infinity as bare words. */
export function jsonWithNonFinite(value: Record<string, unknown>): string {
  const parts = Object.entries(value).map(([key, item]) => {
    const text =
      typeof item === 'number'
        ? formatWandbNumber(item)
        : typeof item === 'object' && item !== null && !Array.isArray(item)
          ? jsonWithNonFinite(item as Record<string, unknown>)
          : JSON.stringify(item);
    return `${JSON.stringify(key)}:${text}`;
  });
  return `{${parts.join(',')}}`;
}

/** Parses JSON that may hold W&B's bare NaN / Infinity words. */
export function parseLoose(text: string | null | undefined): any {
  if (text === null || text === undefined || text === '') return undefined;
  try {
    return JSON.parse(
      text.replace(/(?<=[:,[]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '"$1"'),
      (_key, value) =>
        value === 'NaN'
          ? Number.NaN
          : value === 'Infinity'
            ? Number.POSITIVE_INFINITY
            : value === '-Infinity'
              ? Number.NEGATIVE_INFINITY
              : value,
    );
  } catch {
    return undefined;
  }
}
