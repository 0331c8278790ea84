import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageFormatProblem, readImageInfo } from './image-info.js';

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, '__fixtures__', 'images', name));

describe('readImageInfo', () => {
  it.each([
    ['rgb.png', 'png', 24, 16, 3],
    ['gray.png', 'png', 7, 5, 1],
    ['gray-alpha.png', 'png', 3, 2, 2],
    ['rgba.png', 'png', 5, 4, 4],
    ['baseline.jpg', 'jpeg', 24, 16, 3],
    ['progressive.jpg', 'jpeg', 24, 16, 3],
    ['gray.jpg', 'jpeg', 6, 3, 1],
  ])('reads the format, size and channels of %s', (name, format, width, height, channels) => {
    expect(readImageInfo(fixture(name))).toEqual({ format, width, height, channels });
  });

  it.each([
    ['image.gif', 'GIF images are not supported'],
    ['image.webp', 'WebP images are not supported'],
    ['image.bmp', 'BMP images are not supported'],
  ])('names the format of %s it does not take', (name, reason) => {
    const info = readImageInfo(fixture(name));
    expect(info).toBeInstanceOf(ImageFormatProblem);
    expect((info as ImageFormatProblem).reason).toContain(reason);
  });

  it('refuses a truncated PNG and a truncated JPEG, wherever they were cut', () => {
    for (const name of ['rgb.png', 'baseline.jpg', 'progressive.jpg']) {
      const bytes = fixture(name);
      for (const cut of [4, 20, Math.floor(bytes.length / 2), bytes.length - 3]) {
        const info = readImageInfo(bytes.subarray(0, cut));
        expect(info, `${name} cut at ${cut}`).toBeInstanceOf(ImageFormatProblem);
      }
    }
    expect(
      (readImageInfo(fixture('rgb.png').subarray(0, 40)) as ImageFormatProblem).reason,
    ).toContain('truncated PNG');
  });

  it('refuses bytes that are no image, and empty bytes', () => {
    expect(readImageInfo(Buffer.from('hello world'))).toBeInstanceOf(ImageFormatProblem);
    expect(readImageInfo(new Uint8Array())).toBeInstanceOf(ImageFormatProblem);
  });

  it('reads an image inside a larger buffer (a view with an offset)', () => {
    const png = fixture('rgb.png');
    const big = Buffer.concat([Buffer.alloc(7), png]);
    expect(readImageInfo(big.subarray(7))).toEqual({
      format: 'png',
      width: 24,
      height: 16,
      channels: 3,
    });
  });
});
