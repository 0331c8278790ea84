/**
 * Console output of a run: text written to stdout/stderr (captured, or given
 * to `run.logConsole`) cut into numbered lines the way a terminal shows them.
 * `\n` ends a line, `\r` moves back to its start so the next text overwrites
 * it (progress bars), `\r\n` is a plain newline. A line still open when the
 * journal is written is journaled as it is, and again under the same number
 * when it changes, so a long progress bar is seen while it runs.
 */
import { StringDecoder } from 'node:string_decoder';
import type { ConsoleStream } from '../contract/types.js';
import type { ConsoleEntry } from './journal-records.js';

/** Longer lines are cut: a stream that never writes a newline must not grow without bound. */
export const MAX_CONSOLE_LINE_CHARS = 65_536;

interface OpenLine {
  line: number;
  text: string;
  cursor: number;
  timestamp: number;
  /** Changed since it was last journaled. */
  dirty: boolean;
}

export class ConsoleRecorder {
  private nextLine: number;
  private readonly open: Record<ConsoleStream, OpenLine | undefined> = {
    stdout: undefined,
    stderr: undefined,
  };
  private pending: ConsoleEntry[] = [];

  /** `firstLine`: where numbering goes on (a resumed run continues after its earlier lines). */
  constructor(firstLine = 0) {
    this.nextLine = firstLine;
  }

  /** Complete lines waiting for the journal. */
  get pendingLines(): number {
    return this.pending.length;
  }

  write(stream: ConsoleStream, text: string, timestamp: number): void {
    let start = 0;
    for (;;) {
      const newline = text.indexOf('\n', start);
      const piece = newline === -1 ? text.slice(start) : text.slice(start, newline);
      if (piece.length > 0) this.apply(stream, piece, timestamp);
      if (newline === -1) return;
      this.endLine(stream, timestamp);
      start = newline + 1;
    }
  }

  /** Journal entries: lines ended since the last call, then open lines that changed. */
  drain(): ConsoleEntry[] | undefined {
    for (const stream of ['stdout', 'stderr'] as const) {
      const line = this.open[stream];
      if (line?.dirty) {
        line.dirty = false;
        this.pending.push(entry(stream, line));
      }
    }
    if (this.pending.length === 0) return undefined;
    const out = this.pending;
    this.pending = [];
    return out;
  }

  private apply(stream: ConsoleStream, piece: string, timestamp: number): void {
    let line = this.open[stream];
    if (line === undefined) {
      line = { line: this.nextLine++, text: '', cursor: 0, timestamp, dirty: true };
      this.open[stream] = line;
    }
    const parts = piece.split('\r');
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) line.cursor = 0;
      const part = parts[i]!;
      if (part.length === 0) continue;
      const before = line.text.slice(0, line.cursor);
      const after = line.text.slice(line.cursor + part.length);
      line.text = (before + part + after).slice(0, MAX_CONSOLE_LINE_CHARS);
      line.cursor = Math.min(line.cursor + part.length, MAX_CONSOLE_LINE_CHARS);
    }
    line.dirty = true;
  }

  private endLine(stream: ConsoleStream, timestamp: number): void {
    const line = this.open[stream] ?? {
      line: this.nextLine++,
      text: '',
      cursor: 0,
      timestamp,
      dirty: true,
    };
    this.open[stream] = undefined;
    this.pending.push(entry(stream, line));
  }
}

function entry(stream: ConsoleStream, line: OpenLine): ConsoleEntry {
  return [line.line, stream === 'stderr' ? 'e' : 'o', line.timestamp, line.text];
}

/**
 * Tees process.stdout and process.stderr into `onText` (what is written still
 * reaches the terminal). Returns the function that stops it; a wrapper that
 * someone wrapped again meanwhile is left in place and only goes quiet.
 */
export function captureProcessConsole(
  onText: (stream: ConsoleStream, text: string) => void,
): () => void {
  const releases = [tee(process.stdout, 'stdout', onText), tee(process.stderr, 'stderr', onText)];
  return () => {
    for (const release of releases) release();
  };
}

function tee(
  target: NodeJS.WriteStream,
  stream: ConsoleStream,
  onText: (stream: ConsoleStream, text: string) => void,
): () => void {
  const original = target.write;
  const decoder = new StringDecoder('utf8');
  let active = true;
  const wrapper = (...args: unknown[]): boolean => {
    if (active) {
      try {
        const text = textOf(decoder, args[0], args[1]);
        if (text.length > 0) onText(stream, text);
      } catch {
        // Capturing must never break the program's own output.
      }
    }
    return (original as (...a: unknown[]) => boolean).apply(target, args);
  };
  target.write = wrapper as typeof target.write;
  return () => {
    active = false;
    if (target.write === (wrapper as typeof target.write)) target.write = original;
  };
}

function textOf(decoder: StringDecoder, chunk: unknown, encoding: unknown): string {
  if (typeof chunk === 'string') {
    if (typeof encoding === 'string' && Buffer.isEncoding(encoding) && !isUtf8(encoding)) {
      return decoder.write(Buffer.from(chunk, encoding));
    }
    return chunk;
  }
  if (chunk instanceof Uint8Array) {
    return decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return '';
}

function isUtf8(encoding: string): boolean {
  const lower = encoding.toLowerCase();
  return lower === 'utf8' || lower === 'utf-8';
}
