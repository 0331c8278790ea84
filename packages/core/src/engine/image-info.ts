/**
 * What an image's header says: format, width and height, read from PNG and
 * JPEG bytes without decoding them, and whether the file is whole (a PNG's
 * chunks reach IEND, a JPEG's scan ends with EOI). Anything else is refused
 * by the caller with the reason given here.
 */

type ImageFormat = 'png' | 'jpeg';

export interface ImageInfo {
  format: ImageFormat;
  width: number;
  height: number;
  /** Colour channels: 1 grey, 2 grey and alpha, 3 RGB (a PNG palette too), 4 RGBA (or CMYK). */
  channels: number;
}

/** A PNG's colour type (IHDR) → its channels. */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 };

/** Why bytes are not an image trackstack takes: a sentence for a typed error. */
export class ImageFormatProblem {
  constructor(readonly reason: string) {}
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Reads an image's format and size; a `ImageFormatProblem` says why it cannot. */
export function readImageInfo(bytes: Uint8Array): ImageInfo | ImageFormatProblem {
  if (startsWith(bytes, PNG_SIGNATURE)) return readPng(bytes);
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return readJpeg(bytes);
  }
  const other = otherFormat(bytes);
  return new ImageFormatProblem(
    other === undefined
      ? 'not a PNG or JPEG image (its first bytes are neither signature)'
      : `${other} images are not supported: convert it to PNG or JPEG`,
  );
}

function readPng(bytes: Uint8Array): ImageInfo | ImageFormatProblem {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  let info: ImageInfo | undefined;
  let sawData = false;
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const end = offset + 12 + length;
    if (end > bytes.length) break;
    if (info === undefined) {
      if (type !== 'IHDR' || length < 13) {
        return new ImageFormatProblem('a PNG whose first chunk is not IHDR');
      }
      const colorType = bytes[offset + 17]!;
      const channels = PNG_CHANNELS[colorType];
      if (channels === undefined) {
        return new ImageFormatProblem(`a PNG of an unknown colour type (${colorType})`);
      }
      info = {
        format: 'png',
        width: view.getUint32(offset + 8),
        height: view.getUint32(offset + 12),
        channels,
      };
      if (info.width === 0 || info.height === 0) {
        return new ImageFormatProblem('a PNG of zero width or height');
      }
    } else if (type === 'IDAT') {
      sawData = true;
    } else if (type === 'IEND') {
      if (!sawData) return new ImageFormatProblem('a PNG without image data (no IDAT chunk)');
      return info;
    }
    offset = end;
  }
  return new ImageFormatProblem('a truncated PNG (its chunks end before IEND)');
}

function readJpeg(bytes: Uint8Array): ImageInfo | ImageFormatProblem {
  let offset = 2;
  let info: ImageInfo | undefined;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) return new ImageFormatProblem('a JPEG with a broken marker');
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2;
      continue;
    }
    const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    if (length < 2 || offset + 2 + length > bytes.length) break;
    if (isStartOfFrame(marker)) {
      if (length < 8) return new ImageFormatProblem('a JPEG with a short frame header');
      info = {
        format: 'jpeg',
        height: (bytes[offset + 5]! << 8) | bytes[offset + 6]!,
        width: (bytes[offset + 7]! << 8) | bytes[offset + 8]!,
        channels: bytes[offset + 9]!,
      };
      if (info.width === 0 || info.height === 0) {
        return new ImageFormatProblem('a JPEG of zero width or height');
      }
    }
    if (marker === 0xda) {
      if (info === undefined) return new ImageFormatProblem('a JPEG scan before its frame header');
      return endsWithEoi(bytes, offset + 2 + length)
        ? info
        : new ImageFormatProblem('a truncated JPEG (no end-of-image marker after its data)');
    }
    offset += 2 + length;
  }
  return new ImageFormatProblem('a truncated JPEG (its headers end before the image data)');
}

/** SOF0–SOF15 but DHT (C4), JPG (C8) and DAC (CC). */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** EOI (FF D9) at the end, allowing the padding some writers leave after it. */
function endsWithEoi(bytes: Uint8Array, from: number): boolean {
  const stop = Math.max(from, bytes.length - 4096);
  for (let i = bytes.length - 2; i >= stop; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}

function otherFormat(bytes: Uint8Array): string | undefined {
  const ascii = String.fromCharCode(...bytes.subarray(0, 12));
  if (ascii.startsWith('GIF8')) return 'GIF';
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP') return 'WebP';
  if (ascii.startsWith('BM')) return 'BMP';
  if (ascii.startsWith('II*\u0000') || ascii.startsWith('MM\u0000*')) return 'TIFF';
  if (ascii.slice(4, 12) === 'ftypavif') return 'AVIF';
  if (ascii.trimStart().startsWith('<svg') || ascii.trimStart().startsWith('<?xml')) return 'SVG';
  return undefined;
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  if (bytes.length < prefix.length) return false;
  return prefix.every((b, i) => bytes[i] === b);
}
