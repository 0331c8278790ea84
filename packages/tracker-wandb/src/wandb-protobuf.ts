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

/** An append-only protobuf encoder. Call `finish()` for the bytes. */
export class ProtobufWriter {
  private buf = new Uint8Array(64);
  private len = 0;

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
    return this.bytes(field, encoder.encode(value));
  }

  /** Every element is written, empty strings included (a repeated field has no default). */
  repeatedString(field: number, values: readonly string[]): this {
    for (const value of values) this.bytes(field, encoder.encode(value), true);
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

  /** A submessage, written even when `build` adds nothing (message fields have presence). */
  message(field: number, build: (w: ProtobufWriter) => void): this {
    const inner = new ProtobufWriter();
    build(inner);
    return this.bytes(field, inner.finish(), true);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
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
        while (value >= 0x80) {
          this.byte((value % 0x80) | 0x80);
          value = Math.floor(value / 0x80);
        }
        this.byte(value);
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
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
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
