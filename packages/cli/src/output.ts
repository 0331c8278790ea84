/**
 * How the CLI prints: tables for people, `--json` for programs, one-line
 * errors with a hint, exit codes 0 (ok), 1 (failed) and 2 (usage).
 */

import { TrackstackError } from '@trackstack/core';
import Table from 'cli-table3';
import pc from 'picocolors';

export const EXIT_OK = 0;
const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A usage error: bad arguments or options (exit code 2). */
export class UsageError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'UsageError';
    this.hint = hint;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

export function printTable(head: string[], rows: (string | number | undefined)[][]): void {
  const table = new Table({
    head: head.map((h) => pc.bold(h)),
    style: { head: [], border: [] },
    // No rule between rows: long listings stay readable.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const row of rows) table.push(row.map((cell) => (cell === undefined ? '' : String(cell))));
  process.stdout.write(`${table.toString()}\n`);
}

export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export function warn(text: string): void {
  process.stderr.write(`${pc.yellow('warning:')} ${text}\n`);
}

/** Prints an error in one line (plus a hint), and the stack only with --debug. Returns the exit code. */
export function reportError(error: unknown, debug: boolean): number {
  const usage = error instanceof UsageError || isCommanderUsage(error);
  const message = error instanceof Error ? error.message : String(error);
  const code = TrackstackError.isInstance(error) ? ` [${error.code}]` : '';
  process.stderr.write(`${pc.red('error:')} ${message.replace(/^error: /, '')}${code}\n`);
  const hint = (error as { hint?: string }).hint;
  if (hint !== undefined) process.stderr.write(`${pc.dim('hint:')} ${hint}\n`);
  if (debug && error instanceof Error && error.stack !== undefined)
    process.stderr.write(`${error.stack}\n`);
  return usage ? EXIT_USAGE : EXIT_FAILED;
}

function isCommanderUsage(error: unknown): boolean {
  return (
    typeof (error as { code?: unknown })?.code === 'string' &&
    (error as { code: string }).code.startsWith('commander.')
  );
}

export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return '';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export function formatDuration(start: number, end: number | undefined): string {
  if (end === undefined) return '';
  const seconds = Math.round((end - start) / 1000);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return Number(value.toPrecision(6)).toString();
}
