/**
 * The few protobuf wire-format pieces the W&B transaction log needs.
 *
 * Hand-written rather than `@bufbuild/protobuf`: trackstack writes seven W&B
 * messages with string, int64/int32, bool and submessage fields only, which is
 * a hundred lines; a runtime dependency plus hand-kept descriptors would be
 * more to keep in step with `wandb_internal.proto` than the field numbers in
 * wandb-records.ts are.
 *
 * Proto3 semantics as protobuf-go (wandb-core) marshals them: scalar fields
 * that hold their default value (0, '', false) are left out; a submessage is
 * written whenever it is set, even when empty (`HistoryRecord.step` for step 0
 * is the two bytes `12 00`).
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;

const encoder = new TextEncoder();

/**
 * An append-only protobuf encoder. Call `finish()` for the bytes.
 *
 * One buffer for the whole message: a submessage is built in place after a
 * one-byte length placeholder, and moved up when its length needs more bytes;
 * ASCII strings are copied in without a TextEncoder round trip.
 */
export class ProtobufWriter {
  private buf: Uint8Array<ArrayBuffer>;
  private len = 0;

  /** `capacity`: the bytes to start with (the buffer doubles as needed). */
  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  /** int64/uint64/int32/enum as a varint; negative values as 10-byte two's complement. */
  int64(field: number, value: number | bigint): this {
    if (value === 0 || value === 0n) return this;
    this.tag(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  /** int32 is a varint on the wire too; kept apart so call sites read like the .proto. */
  int32(field: number, value: number): this {
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
      throw new RangeError(`int32 field ${field}: ${value} is not a 32-bit integer`);
    }
    return this.int64(field, value);
  }

  bool(field: number, value: boolean): this {
    if (!value) return this;
    this.tag(field, WIRE_VARINT);
    this.byte(1);
    return this;
  }

  double(field: number, value: number): this {
    if (value === 0 && !Object.is(value, -0)) return this;
    this.tag(field, WIRE_FIXED64);
    this.reserve(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 8).setFloat64(0, value, true);
    this.len += 8;
    return this;
  }

  string(field: number, value: string): this {
    if (value === '') return this;
    this.stringField(field, value);
    return this;
  }

  /** Every element is written, empty strings included (a repeated field has no default). */
  repeatedString(field: number, values: readonly string[]): this {
    for (const value of values) this.stringField(field, value);
    return this;
  }

  bytes(field: number, value: Uint8Array, always = false): this {
    if (value.length === 0 && !always) return this;
    this.tag(field, WIRE_LEN);
    this.varint(value.length);
    this.reserve(value.length);
    this.buf.set(value, this.len);
    this.len += value.length;
    return this;
  }

  /** Bytes that are already encoded fields of this message, appended as they are. */
  encoded(fields: Uint8Array): this {
    this.reserve(fields.length);
    this.buf.set(fields, this.len);
    this.len += fields.length;
    return this;
  }

  /**
   * A submessage, written even when `build` adds nothing (message fields have
   * presence). `build` is given this writer and appends the submessage's fields.
   */
  message(field: number, build: (w: ProtobufWriter) => void): this {
    this.tag(field, WIRE_LEN);
    this.byte(0); // length placeholder: one byte holds lengths up to 127
    const start = this.len;
    build(this);
    const length = this.len - start;
    if (length < 0x80) {
      this.buf[start - 1] = length;
      return this;
    }
    const extra = varintSize(length) - 1;
    this.reserve(extra);
    const buf = this.buf;
    buf.copyWithin(start + extra, start, this.len);
    let at = start - 1;
    let rest = length;
    while (rest >= 0x80) {
      buf[at++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    buf[at] = rest;
    this.len += extra;
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  /** The bytes so far without a copy: valid until the next write or `clear()`. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** Empties the writer and keeps its buffer, to encode the next message without allocating. */
  clear(): this {
    this.len = 0;
    return this;
  }

  /** A length-delimited UTF-8 string, always written (the caller decides about ''). */
  private stringField(field: number, value: string): void {
    const before = this.len;
    this.tag(field, WIRE_LEN);
    const n = value.length;
    this.varint(n);
    this.reserve(n);
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        // Not ASCII: start over with the UTF-8 bytes.
        this.len = before;
        this.bytes(field, encoder.encode(value), true);
        return;
      }
      buf[at++] = c;
    }
    this.len = at;
  }

  private tag(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1 || field > 536_870_911) {
      throw new RangeError(`invalid protobuf field number ${field}`);
    }
    this.varint(field * 8 + wireType);
  }

  private varint(value: number | bigint): void {
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) {
        throw new RangeError(`varint: ${value} is not a safe integer (pass a bigint)`);
      }
      if (value >= 0) {
        this.reserve(10);
        const buf = this.buf;
        let at = this.len;
        while (value >= 0x80) {
          buf[at++] = (value % 0x80) | 0x80;
          value = Math.floor(value / 0x80);
        }
        buf[at++] = value;
        this.len = at;
        return;
      }
      value = BigInt(value);
    }
    if (value < -(2n ** 63n) || value >= 2n ** 64n) {
      throw new RangeError(`varint: ${value} does not fit in 64 bits`);
    }
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  private reserve(n: number): void {
    this.buf = grownBuffer(this.buf, this.len, n);
  }
}

/**
 * `buf` when `used + n` bytes fit in it, else a buffer of twice (or more) its size holding its
 * first `used` bytes.
 */
export function grownBuffer(
  buf: Uint8Array<ArrayBuffer>,
  used: number,
  n: number,
): Uint8Array<ArrayBuffer> {
  if (used + n <= buf.length) return buf;
  let size = buf.length * 2;
  while (size < used + n) size *= 2;
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, used));
  return next;
}

/** Bytes of the varint of a non-negative safe integer. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size += 1;
  }
  return size;
}

/** One field as read off the wire: varints as bigint, fixed64 as its 8 bytes, the rest as bytes. */
export interface ProtobufField {
  field: number;
  wireType: 0 | 1 | 2 | 5;
  value: bigint | Uint8Array;
}

/**
 * Splits a message into its fields, in wire order, without a schema. Enough to
 * read back what ProtobufWriter wrote (tests, and finding a record's type when
 * scanning a log); not a general decoder (no groups).
 */
export function readProtobufFields(bytes: Uint8Array): ProtobufField[] {
  const fields: ProtobufField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (pos >= bytes.length) throw new RangeError('protobuf: truncated varint');
      if (shift > 63n) throw new RangeError('protobuf: varint longer than 10 bytes');
      const b = bytes[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
  };
  const take = (n: number): Uint8Array => {
    if (pos + n > bytes.length) throw new RangeError('protobuf: truncated field');
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  while (pos < bytes.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (field === 0) throw new RangeError('protobuf: field number 0');
    switch (wireType) {
      case WIRE_VARINT:
        fields.push({ field, wireType, value: varint() });
        break;
      case WIRE_FIXED64:
        fields.push({ field, wireType, value: take(8) });
        break;
      case WIRE_LEN:
        fields.push({ field, wireType, value: take(Number(varint())) });
        break;
      case 5:
        fields.push({ field, wireType, value: take(4) });
        break;
      default:
        throw new RangeError(`protobuf: unsupported wire type ${wireType}`);
    }
  }
  return fields;
}
