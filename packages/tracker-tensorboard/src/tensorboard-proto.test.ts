import { describe, expect, it } from 'vitest';
import { encodeEvent } from './tensorboard-proto.js';

describe('encodeEvent', () => {
  it("writes a scalar event byte for byte as tensorboardX does (add_scalar('loss', 0.5, 3, walltime=1700000000.0))", () => {
    const event = encodeEvent({
      wallTime: 1_700_000_000,
      step: 3,
      summary: [{ tag: 'loss', scalar: 0.5 }],
    });
    expect(Buffer.from(event).toString('hex')).toBe(
      '0900000040fc54d94110032a0d0a0b0a046c6f7373150000003f',
    );
  });

  it('leaves proto3 defaults out: step 0, a histogram bound of 0', () => {
    const atZero = encodeEvent({ wallTime: 1, step: 0, summary: [{ tag: 'a', scalar: 1 }] });
    expect(Buffer.from(atZero).includes(0x10)).toBe(false); // no step field (tag 0x10)
    const histogram = encodeEvent({
      wallTime: 1,
      summary: [
        {
          tag: 'h',
          histogram: {
            min: 0,
            max: 2,
            num: 1,
            sum: 0,
            sumSquares: 0,
            bucketLimit: [2],
            bucket: [1],
          },
        },
      ],
    });
    // min (field 1, fixed64: 0x09), sum (0x21) and sum_squares (0x29) are 0: not written.
    const histo = Buffer.from(histogram).subarray(Buffer.from(histogram).indexOf(0x2a, 9));
    expect([...histo]).not.toContain(0x21);
  });
});
