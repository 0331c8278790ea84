/**
 * The `.wandb` transaction log: leveldb's log format with a W&B file header
 * and plain CRC-32, as wandb-core 0.30.0 writes it (core/pkg/leveldb/record.go
 * and core/internal/transactionlog/writer.go in wandb/wandb).
 *
 * - File header, 7 bytes: `:W&B`, uint16 LE 0xBEE1, a version byte (0 for
 *   wandb 0.30.0; the reader refuses any other value).
 * - The file is cut into 32 KiB blocks at absolute offsets: the header is the
 *   start of the first block.
 * - A record is one or more chunks; a chunk never crosses a block boundary.
 *   Chunk header, 7 bytes: uint32 LE CRC-32 (IEEE, zlib's) of the type byte
 *   followed by the payload, uint16 LE payload length, uint8 type (1 FULL,
 *   2 FIRST, 3 MIDDLE, 4 LAST).
 * - Fewer than 7 bytes left in a block: zero-filled, next chunk starts in the
 *   next block. The filling is written only when another record follows, so
 *   a file never ends in padding (wandb-core's reader calls that an
 *   incomplete file).
 * - Exactly 7 bytes left and a non-empty record: a zero-length FIRST chunk
 *   fills them and the data follows in MIDDLE/LAST chunks of later blocks.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { grownBuffer } from './wandb-protobuf.js';

export const WANDB_LOG_BLOCK_SIZE = 32_768;
const WANDB_LOG_HEADER_SIZE = 7;
/** Version byte that wandb 0.30.0 writes and the only one its reader accepts. */
const WANDB_LOG_VERSION = 0;
const MAGIC = 0xbee1;
const IDENT = ':W&B';

export const CHUNK_FULL = 1;
export const CHUNK_FIRST = 2;
export const CHUNK_MIDDLE = 3;
export const CHUNK_LAST = 4;

/** The 7-byte file header. */
export function logFileHeader(version = WANDB_LOG_VERSION): Uint8Array {
  const header = new Uint8Array(WANDB_LOG_HEADER_SIZE);
  for (let i = 0; i < IDENT.length; i++) header[i] = IDENT.charCodeAt(i);
  header[4] = MAGIC & 0xff;
  header[5] = MAGIC >> 8;
  header[6] = version;
  return header;
}

/** CRC-32 of each chunk type's byte, the start of every chunk's checksum. */
const TYPE_CRC = [0, 1, 2, 3, 4].map((type) => crc32(Uint8Array.of(type)));

/** CRC-32 of the type byte followed by the payload. */
function chunkChecksum(type: number, payload: Uint8Array): number {
  const typeCrc = TYPE_CRC[type] ?? crc32(Uint8Array.of(type));
  // Node's crc32 hands zlib a NULL pointer for an empty array whose buffer has no memory
  // (e.g. `new Uint8Array(0).subarray(0)`), and zlib answers 0 for NULL, not the running CRC.
  return payload.length === 0 ? typeCrc : crc32(payload, typeCrc);
}

/**
 * The bytes that append one record to a log whose current length is `offset`
 * (any zero fill for the previous block first, then the chunks).
 */
export function frameRecord(payload: Uint8Array, offset: number): Uint8Array {
  if (offset < WANDB_LOG_HEADER_SIZE)
    throw new RangeError('frameRecord: offset is inside the header');
  const parts: Uint8Array[] = [];
  const fill = blockFill(offset);
  if (fill > 0) parts.push(new Uint8Array(fill));
  let left = WANDB_LOG_BLOCK_SIZE - ((offset + fill) % WANDB_LOG_BLOCK_SIZE);
  let used = 0;
  let first = true;
  for (;;) {
    const room = left - WANDB_LOG_HEADER_SIZE;
    const take = Math.min(room, payload.length - used);
    const last = used + take === payload.length;
    const type = first ? (last ? CHUNK_FULL : CHUNK_FIRST) : last ? CHUNK_LAST : CHUNK_MIDDLE;
    parts.push(chunk(type, payload.subarray(used, used + take)));
    used += take;
    if (last) break;
    first = false;
    left = WANDB_LOG_BLOCK_SIZE;
  }
  return concat(parts);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Zero bytes that end the current block before a record can start at `offset`. */
function blockFill(offset: number): number {
  const left = WANDB_LOG_BLOCK_SIZE - (offset % WANDB_LOG_BLOCK_SIZE);
  return left < WANDB_LOG_HEADER_SIZE ? left : 0;
}

function chunk(type: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(WANDB_LOG_HEADER_SIZE + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, chunkChecksum(type, data), true);
  view.setUint16(4, data.length, true);
  out[6] = type;
  out.set(data, WANDB_LOG_HEADER_SIZE);
  return out;
}

/** Appended bytes kept in memory before they are written out without a flush. */
const WRITE_BUFFER_BYTES = 1 << 20;

/**
 * Appends records to a new `.wandb` file. Appends are buffered in memory (up
 * to 1 MiB) and written with synchronous writes by `flush()` and `close()`
 * (and whenever the buffer fills): one system call per batch of records
 * instead of one per record. What was flushed is on disk; a crash leaves a
 * readable prefix (at worst a torn last record, which `wandb sync` reports and
 * skips). WandbOfflineRun flushes after every batch it writes.
 */
export class WandbTransactionLogWriter {
  private fd: number | undefined;
  private length: number;
  /** Framed bytes not written yet: `pending[0, pendingBytes)`. */
  private pending = new Uint8Array(64 * 1024);
  private pendingView = new DataView(this.pending.buffer);
  private pendingBytes = 0;

  private constructor(
    readonly path: string,
    fd: number,
    length: number,
  ) {
    this.fd = fd;
    this.length = length;
  }

  /** Creates the file (it must not exist, as wandb-core insists) and writes its header. */
  static create(path: string, options: { version?: number } = {}): WandbTransactionLogWriter {
    const fd = openSync(path, 'wx', 0o644);
    try {
      writeAll(fd, logFileHeader(options.version ?? WANDB_LOG_VERSION));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new WandbTransactionLogWriter(path, fd, WANDB_LOG_HEADER_SIZE);
  }

  /** Bytes written so far. */
  get size(): number {
    return this.length;
  }

  /** Appends one record; returns the offset of its first chunk (after any fill). */
  append(payload: Uint8Array): number {
    this.open();
    // Framed in place, exactly as frameRecord frames it: fill, then chunks that never cross a block.
    const fill = blockFill(this.length);
    const start = this.length + fill;
    const chunks =
      Math.ceil((payload.length + 1) / (WANDB_LOG_BLOCK_SIZE - WANDB_LOG_HEADER_SIZE)) + 1;
    this.reserve(fill + payload.length + chunks * WANDB_LOG_HEADER_SIZE);
    const buf = this.pending;
    const view = this.pendingView;
    let at = this.pendingBytes;
    buf.fill(0, at, at + fill);
    at += fill;
    let left = WANDB_LOG_BLOCK_SIZE - (start % WANDB_LOG_BLOCK_SIZE);
    let used = 0;
    let first = true;
    for (;;) {
      const take = Math.min(left - WANDB_LOG_HEADER_SIZE, payload.length - used);
      const last = used + take === payload.length;
      const type = first ? (last ? CHUNK_FULL : CHUNK_FIRST) : last ? CHUNK_LAST : CHUNK_MIDDLE;
      const data = at + WANDB_LOG_HEADER_SIZE;
      // The whole payload in one chunk (the common case): no views to make.
      const whole = take === payload.length;
      buf.set(whole ? payload : payload.subarray(used, used + take), data);
      view.setUint32(
        at,
        whole ? chunkChecksum(type, payload) : chunkChecksum(type, buf.subarray(data, data + take)),
        true,
      );
      view.setUint16(at + 4, take, true);
      buf[at + 6] = type;
      at = data + take;
      used += take;
      if (last) break;
      first = false;
      left = WANDB_LOG_BLOCK_SIZE;
    }
    this.length += at - this.pendingBytes;
    this.pendingBytes = at;
    if (this.pendingBytes >= WRITE_BUFFER_BYTES) this.writePending();
    return start;
  }

  /** Writes what was appended and asks the OS to put it on disk (fsync). */
  flush(): void {
    this.writePending();
    fsyncSync(this.open());
  }

  /** Flushes and closes; further appends throw. Safe to call twice. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    try {
      this.writePending();
      fsyncSync(fd);
    } finally {
      this.fd = undefined;
      this.pendingBytes = 0;
      closeSync(fd);
    }
  }

  private writePending(): void {
    if (this.pendingBytes === 0) return;
    const fd = this.open();
    const bytes = this.pending.subarray(0, this.pendingBytes);
    this.pendingBytes = 0;
    writeAll(fd, bytes);
  }

  private reserve(n: number): void {
    const next = grownBuffer(this.pending, this.pendingBytes, n);
    if (next === this.pending) return;
    this.pending = next;
    this.pendingView = new DataView(next.buffer);
  }

  private open(): number {
    if (this.fd === undefined) throw new Error(`${this.path}: the transaction log is closed`);
    return this.fd;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** A chunk as found by `scanWandbTransactionLog`. */
interface WandbLogChunk {
  offset: number;
  type: number;
  length: number;
}

export interface WandbLogScan {
  version: number;
  records: Uint8Array[];
  chunks: WandbLogChunk[];
}

/**
 * Reads a whole log strictly (records are views into `bytes` where they fit one chunk): bad header, CRC mismatch, a chunk crossing a
 * block, non-zero fill, a broken FIRST/MIDDLE/LAST sequence, or bytes after
 * the last record all throw, naming the offset. Meant for tests and for
 * checking a file before handing it to `wandb sync`.
 */
export function scanWandbTransactionLog(bytes: Uint8Array): WandbLogScan {
  if (bytes.length < WANDB_LOG_HEADER_SIZE) throw new Error('.wandb: shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ident = String.fromCharCode(...bytes.subarray(0, 4));
  if (ident !== IDENT || view.getUint16(4, true) !== MAGIC) throw new Error('.wandb: bad header');
  const records: Uint8Array[] = [];
  const chunks: WandbLogChunk[] = [];
  let pending: Uint8Array[] | undefined;
  let pos = WANDB_LOG_HEADER_SIZE;
  while (pos < bytes.length) {
    const left = WANDB_LOG_BLOCK_SIZE - (pos % WANDB_LOG_BLOCK_SIZE);
    if (left < WANDB_LOG_HEADER_SIZE) {
      if (pos + left > bytes.length)
        throw new Error(`.wandb: bytes after the last record at ${pos}`);
      if (bytes.subarray(pos, pos + left).some((b) => b !== 0)) {
        throw new Error(`.wandb: non-zero block fill at ${pos}`);
      }
      pos += left;
      continue;
    }
    if (pos + WANDB_LOG_HEADER_SIZE > bytes.length) {
      throw new Error(`.wandb: truncated chunk header at ${pos}`);
    }
    const checksum = view.getUint32(pos, true);
    const length = view.getUint16(pos + 4, true);
    const type = bytes[pos + 6]!;
    if (WANDB_LOG_HEADER_SIZE + length > left) {
      throw new Error(`.wandb: chunk at ${pos} crosses a block boundary`);
    }
    const start = pos + WANDB_LOG_HEADER_SIZE;
    if (start + length > bytes.length) throw new Error(`.wandb: truncated chunk at ${pos}`);
    const data = new Uint8Array(bytes.buffer, bytes.byteOffset + start, length);
    if (chunkChecksum(type, data) !== checksum) throw new Error(`.wandb: CRC mismatch at ${pos}`);
    chunks.push({ offset: pos, type, length });
    if (type === CHUNK_FULL || type === CHUNK_FIRST) {
      if (pending) throw new Error(`.wandb: record at ${pos} starts inside another`);
      if (type === CHUNK_FULL) records.push(data);
      else pending = [data];
    } else if (type === CHUNK_MIDDLE || type === CHUNK_LAST) {
      if (!pending) throw new Error(`.wandb: continuation chunk at ${pos} without a FIRST`);
      pending.push(data);
      if (type === CHUNK_LAST) {
        records.push(concat(pending));
        pending = undefined;
      }
    } else {
      throw new Error(`.wandb: unknown chunk type ${type} at ${pos}`);
    }
    pos = start + length;
  }
  if (pending) throw new Error('.wandb: the file ends inside a record');
  return { version: bytes[6]!, records, chunks };
}
