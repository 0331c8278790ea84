import { describe, expect, it } from 'vitest';
import { encodeEvent } from './tensorboard-proto.js';
import { maskedCrc32c, ScalarRecords, tfRecord } from './tensorboard-writer.js';

describe('TFRecord framing', () => {
  it('frames an event as tensorboardX does: length, masked CRC-32C of it, the data, its CRC', () => {
    const event = encodeEvent({
      wallTime: 1_700_000_000,
      step: 3,
      summary: [{ tag: 'loss', scalar: 0.5 }],
    });
    expect(tfRecord(event).toString('hex')).toBe(
      `1a00000000000000129bd82d${Buffer.from(event).toString('hex')}35f132ef`,
    );
  });

  it("masks CRC-32C as TFRecord does (crc32c('123456789') is e3069283)", () => {
    const crc = 0xe3069283;
    const masked = ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
    expect(maskedCrc32c(Buffer.from('123456789'))).toBe(masked);
  });
});

describe('ScalarRecords', () => {
  it('frames scalar records in place as the general encoder does, for any tag, step and value', () => {
    const records = new ScalarRecords();
    const cases: [string, number, number, number][] = [
      ['loss', 0.5, 3, 1_700_000_000],
      ['a/b', Number.NaN, 0, 1.5],
      ['ü/長い名前'.repeat(20), 1e39, 2 ** 40 + 3, 1_700_000_000.123],
      ['x', -Infinity, 127, 0],
      ['y', 1 / 3, 128, 2],
      ['z', -0, 16384, 3],
    ];
    const expected = Buffer.concat(
      cases.map(([tag, scalar, step, wallTime]) =>
        tfRecord(encodeEvent({ wallTime, step, summary: [{ tag, scalar }] })),
      ),
    );
    for (const [tag, value, step, wallTime] of cases) records.add(tag, value, step, wallTime);
    expect(records.take().toString('hex')).toBe(expected.toString('hex'));
    expect(records.take()).toHaveLength(0);
  });
});
