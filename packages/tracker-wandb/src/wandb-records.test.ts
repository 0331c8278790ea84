import { describe, expect, it } from 'vitest';
import fixture from './__fixtures__/wandb-0.30.0-records.json' with { type: 'json' };
import { ProtobufWriter, readProtobufFields } from './wandb-protobuf.js';
import {
  encodeRecord,
  formatWandbNumber,
  keyedItems,
  timestampOf,
  type WandbFilePolicy,
  type WandbFileType,
  type WandbItem,
  type WandbRecord,
} from './wandb-records.js';

/** A record as wandb_read_offline.py describes it (fields vary with `type`). */
type Captured = { type: string; num: number; stream_id: string } & Record<string, any>;
interface CapturedItem {
  key: string;
  nested_key: string[];
  value_json: string;
}

function item(i: CapturedItem): WandbItem {
  return { key: i.key, nestedKey: i.nested_key, valueJson: i.value_json };
}

/** The fixture's JSON description of a captured record, as an encodeRecord input. */
function toRecord(r: Captured): WandbRecord {
  const base = { num: r.num, streamId: r.stream_id };
  const c = r;
  switch (r.type) {
    case 'header':
      return { ...base, header: { producer: c.producer, minConsumer: c.min_consumer } };
    case 'config':
      return { ...base, config: { update: c.update.map(item), remove: c.remove.map(item) } };
    case 'summary':
      return { ...base, summary: { update: c.update.map(item), remove: c.remove.map(item) } };
    case 'history':
      return { ...base, history: { items: c.items.map(item), step: c.step ?? undefined } };
    case 'files':
      return {
        ...base,
        files: {
          files: c.files.map((f: { path: string; policy: string; type: string }) => ({
            path: f.path,
            policy: f.policy.toLowerCase() as WandbFilePolicy,
            type: f.type.toLowerCase() as WandbFileType,
          })),
        },
      };
    default:
      throw new Error(`no encoder for ${r.type}`);
  }
}

describe('records are byte-identical to what wandb 0.30.0 wrote for the same content', () => {
  for (const captured of fixture.records) {
    it(`${captured.note} (record ${captured.record.num})`, () => {
      const bytes = encodeRecord(toRecord(captured.record as Captured));
      expect(Buffer.from(bytes).toString('hex')).toBe(captured.hex);
    });
  }
});

describe('encodeRecord', () => {
  it('writes the run record fields with the SDK numbers', () => {
    const bytes = encodeRecord({
      num: 2,
      streamId: 'abc',
      run: {
        runId: 'abc',
        entity: 'e',
        project: 'p',
        displayName: 'd',
        runGroup: 'g',
        jobType: 'j',
        notes: 'n',
        tags: ['t1', ''],
        host: 'h',
        startingStep: 5,
        startTimeMs: 1_700_000_000_123.5,
        config: [{ key: 'lr', valueJson: '0.1' }],
      },
    });
    const record = readProtobufFields(bytes);
    expect(record.map((f) => f.field)).toEqual([1, 200, 17]);
    const run = readProtobufFields(record[2]!.value as Uint8Array);
    const text = (v: unknown) => Buffer.from(v as Uint8Array).toString();
    expect(
      run.map((f) => [
        f.field,
        f.wireType === 2 && f.field !== 4 && f.field !== 17 ? text(f.value) : f.value,
      ]),
    ).toEqual([
      [1, 'abc'],
      [2, 'e'],
      [3, 'p'],
      [4, expect.any(Uint8Array)],
      [6, 'g'],
      [7, 'j'],
      [8, 'd'],
      [9, 'n'],
      [10, 't1'],
      [10, ''],
      [13, 'h'],
      [14, 5n],
      [17, expect.any(Uint8Array)],
    ]);
    const start = readProtobufFields(run[12]!.value as Uint8Array);
    expect(start.map((f) => f.value)).toEqual([1_700_000_000n, 123_500_000n]);
  });

  it('keeps an empty HistoryStep for step 0, as wandb-core does', () => {
    const bytes = encodeRecord({ num: 1, history: { items: [], step: 0 } });
    expect(Buffer.from(bytes).toString('hex')).toBe('080112021200');
  });

  it('writes exit code and runtime, negative codes as 10-byte varints', () => {
    const exit = (exitCode: number, runtime?: number) =>
      Buffer.from(encodeRecord({ num: 1, exit: { exitCode, runtime } })).toString('hex');
    expect(exit(0)).toBe('0801920100');
    expect(exit(3, 12)).toBe('08019201040803100c');
    expect(exit(-1)).toBe('080192010b08ffffffffffffffffff01');
  });
});

describe('formatWandbNumber matches what wandb-core wrote into history', () => {
  // Pairs seen in a real offline run of wandb 0.30.0 (float inputs).
  const seen: [number, string][] = [
    [1.0, '1'],
    [0.5, '0.5'],
    [1e-7, '1e-07'],
    [1e21, '1e+21'],
    [123456.789, '123456.789'],
    [1234567.0, '1.234567e+06'],
    [0.1 + 0.2, '0.30000000000000004'],
    [-0.0, '-0'],
    [5e-324, '5e-324'],
    [100000.0, '100000'],
    [1000000.0, '1e+06'],
    [1e-5, '1e-05'],
    [0.0001, '0.0001'],
    [1e20, '1e+20'],
    [1.2345678901234567e19, '1.2345678901234567e+19'],
    [1.5e300, '1.5e+300'],
    [1795743633.1690202, '1.7957436331690202e+09'],
    [0.041769455, '0.041769455'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
  ];
  for (const [value, text] of seen) {
    it(`${value} -> ${text}`, () => expect(formatWandbNumber(value)).toBe(text));
  }
});

describe('values and times', () => {
  it('encodes config and summary values as compact JSON, NaN as null like the SDK', () => {
    expect(keyedItems({ a: 1, b: { c: [1, 'x'] }, n: Number.NaN, s: 'é' }, 'config')).toEqual([
      { key: 'a', valueJson: '1' },
      { key: 'b', valueJson: '{"c":[1,"x"]}' },
      { key: 'n', valueJson: 'null' },
      { key: 's', valueJson: '"é"' },
    ]);
    expect(() => keyedItems({ f: () => 1 }, 'config')).toThrow(/config "f": function/);
  });

  it('turns epoch milliseconds into a protobuf Timestamp', () => {
    expect(timestampOf(1_795_743_633_120.25)).toEqual({
      seconds: 1_795_743_633,
      nanos: 120_250_000,
    });
    expect(timestampOf(-1)).toEqual({ seconds: -1, nanos: 999_000_000 });
  });
});

describe('ProtobufWriter', () => {
  it('writes varints of every size and reads them back', () => {
    const values = [1, 127, 128, 300, 2 ** 31, 2 ** 53 - 1, -1, -(2 ** 40)];
    const w = new ProtobufWriter();
    for (const v of values) w.int64(1, v);
    const back = readProtobufFields(w.finish()).map((f) => BigInt.asIntN(64, f.value as bigint));
    expect(back).toEqual(values.map((v) => BigInt(v)));
  });

  it('skips proto3 defaults but keeps empty submessages and empty repeated strings', () => {
    const w = new ProtobufWriter()
      .int64(1, 0)
      .string(2, '')
      .bool(3, false)
      .double(4, 0)
      .message(5, () => {})
      .repeatedString(6, ['']);
    expect(Buffer.from(w.finish()).toString('hex')).toBe('2a003200');
  });

  it('writes doubles as little-endian fixed64 and bools as 1', () => {
    const w = new ProtobufWriter().double(1, 1.5).bool(2, true);
    expect(Buffer.from(w.finish()).toString('hex')).toBe('09000000000000f83f1001');
  });

  it('refuses unsafe integers and bad field numbers', () => {
    expect(() => new ProtobufWriter().int64(1, 2 ** 53)).toThrow(/safe integer/);
    expect(() => new ProtobufWriter().int64(1, 2n ** 64n)).toThrow(/64 bits/);
    expect(() => new ProtobufWriter().int32(1, 2 ** 31)).toThrow(/32-bit/);
    expect(() => new ProtobufWriter().string(0, 'x')).toThrow(/field number/);
  });
});
