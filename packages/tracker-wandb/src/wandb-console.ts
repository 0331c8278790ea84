/**
 * Console lines as W&B keeps them: online, `output.log` lines in wandb-core
 * 0.30's format; offline, the raw terminal text the SDK would have captured
 * (`wandb sync` makes `output.log` of it).
 */
import type { ConsoleLine } from '@trackstack/core';

/** The file_stream file that holds a run's console output. */
export const OUTPUT_LOG = 'output.log';
/** wandb-core cuts console lines at this length (`maxTerminalLineLength`). */
const MAX_OUTPUT_LINE_CHARS = 4096;

/**
 * An output.log line as wandb-core 0.30 writes it: "ERROR " for stderr, the
 * line's start time in Python's ISO form (UTC, microseconds, no zone), the text.
 */
export function outputLogLine(line: ConsoleLine): string {
  const time = `${new Date(line.timestamp).toISOString().slice(0, 23)}000`;
  const prefix = line.stream === 'stderr' ? 'ERROR ' : '';
  return `${prefix}${time} ${line.text.slice(0, MAX_OUTPUT_LINE_CHARS)}`;
}

/**
 * Offline, a console line becomes the raw text the SDK would have captured,
 * given the line its stream's terminal is on (`open`, its newline not written
 * yet): a line sent again (it was still open) is rewritten with `\r` (its
 * text only ever grows or is overwritten, never shortened), a new line ends
 * the stream's previous one with `\n` first.
 */
export function rawConsoleText(open: number | undefined, line: ConsoleLine): string {
  return open === line.line ? `\r${line.text}` : `${open === undefined ? '' : '\n'}${line.text}`;
}
