/**
 * A run's event files: `events.out.tfevents.<secs>.<host>.<pid>.<n>` in the
 * run's directory, each a sequence of TFRecords (`uint64` length, masked
 * CRC-32C of the length, the `Event` bytes, masked CRC-32C of the bytes) that
 * starts with the `file_version` event. Appends go to the file before they
 * resolve; a file that grew past `maxFileBytes` is closed and the next
 * append starts a new one, as a writer that resumes a run does: TensorBoard
 * reads a directory's event files in name order.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import crc32c from 'crc-32/crc32c.js';
import { encodeEvent, FILE_VERSION } from './tensorboard-proto.js';

/** TFRecord's CRC mask: rotate right by 15 bits, add a constant (tensorflow/core/lib/hash/crc32c.h). */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c.buf(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord around `data`. */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(16 + data.length);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/** Files made by this process, for the counter at the end of their names. */
let filesMade = 0;

export class EventFileWriter {
  readonly dir: string;
  private readonly maxFileBytes: number;
  private handle: FileHandle | undefined;
  private size = 0;
  /** Every file this writer made, in order. */
  readonly files: string[] = [];

  constructor(dir: string, maxFileBytes: number) {
    this.dir = dir;
    this.maxFileBytes = maxFileBytes;
  }

  /**
   * Appends events: each encoded `Event` is framed here, a Buffer is records already framed
   * (`ScalarRecords`); resolves once they are written to the file.
   */
  async append(parts: readonly (Uint8Array | Buffer)[]): Promise<void> {
    if (parts.length === 0) return;
    if (this.handle === undefined || this.size >= this.maxFileBytes) await this.rollOver();
    const buffer = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : tfRecord(p))));
    let written = 0;
    while (written < buffer.length) {
      const { bytesWritten } = await this.handle!.write(buffer, written, buffer.length - written);
      written += bytesWritten;
    }
    this.size += buffer.length;
  }

  /** Makes what was appended durable (the run's end). */
  async sync(): Promise<void> {
    await this.handle?.datasync();
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle !== undefined) {
      await handle.datasync();
      await handle.close();
    }
  }

  private async rollOver(): Promise<void> {
    await this.close();
    const now = Date.now();
    const secs = String(Math.floor(now / 1000)).padStart(10, '0');
    filesMade += 1;
    const name = `events.out.tfevents.${secs}.${hostname()}.${process.pid}.${filesMade}`;
    const path = join(this.dir, name);
    // 'wx': a new file, never another writer's.
    this.handle = await open(path, 'wx');
    this.size = 0;
    this.files.push(path);
    const header = tfRecord(encodeEvent({ wallTime: now / 1000, fileVersion: FILE_VERSION }));
    await this.handle.write(header);
    this.size = header.length;
  }
}

/**
 * Scalar events framed as TFRecords straight into one buffer: the hot path of a run's
 * metrics, byte for byte what `tfRecord(encodeEvent({ wallTime, step, summary: [{ tag,
 * scalar }] }))` makes (tested), without an object or a writer per point.
 */
export class ScalarRecords {
  private buffer = Buffer.allocUnsafe(1 << 16);
  private pos = 0;
  private readonly tags = new Map<string, Buffer>();

  add(tag: string, value: number, step: number, wallTime: number): void {
    let name = this.tags.get(tag);
    if (name === undefined) {
      name = Buffer.from(tag, 'utf8');
      this.tags.set(tag, name);
    }
    // Summary.Value { tag = 1; simple_value = 2 } in Summary { value = 1 } in Event { summary = 5 }
    const valueLength = 1 + varintSize(name.length) + name.length + 5;
    const summaryLength = 1 + varintSize(valueLength) + valueLength;
    const stepLength = step === 0 ? 0 : 1 + varintSize(step);
    const length = 9 + stepLength + 1 + varintSize(summaryLength) + summaryLength;
    this.reserve(16 + length);
    const b = this.buffer;
    const start = this.pos;
    b.writeUInt32LE(length, start);
    b.writeUInt32LE(0, start + 4);
    b.writeUInt32LE(maskedCrc32c(b.subarray(start, start + 8)), start + 8);
    let p = start + 12;
    b[p++] = 0x09; // wall_time, fixed64
    b.writeDoubleLE(wallTime, p);
    p += 8;
    if (step !== 0) {
      b[p++] = 0x10; // step, varint
      p = writeVarint(b, p, step);
    }
    b[p++] = 0x2a; // summary
    p = writeVarint(b, p, summaryLength);
    b[p++] = 0x0a; // value
    p = writeVarint(b, p, valueLength);
    b[p++] = 0x0a; // tag
    p = writeVarint(b, p, name.length);
    name.copy(b, p);
    p += name.length;
    b[p++] = 0x15; // simple_value, fixed32: float32, ±Infinity beyond its range
    b.writeFloatLE(Math.fround(value), p);
    p += 4;
    b.writeUInt32LE(maskedCrc32c(b.subarray(start + 12, p)), p);
    this.pos = p + 4;
  }

  /** The records so far (a copy), and a fresh start. */
  take(): Buffer {
    const out = Buffer.from(this.buffer.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.pos + bytes));
    this.buffer.copy(bigger, 0, 0, this.pos);
    this.buffer = bigger;
  }
}

/** Bytes of a non-negative integer (< 2^53) as a varint. */
function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 128)) size++;
  return size;
}

function writeVarint(b: Buffer, at: number, value: number): number {
  let p = at;
  let v = value;
  while (v >= 0x80) {
    b[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  b[p++] = v;
  return p;
}
