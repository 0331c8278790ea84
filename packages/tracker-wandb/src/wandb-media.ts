/**
 * Media as W&B's SDK writes it into a run's history: an image is a run file
 * under `media/images/` and the history value
 * `{"_type": "image-file", path, sha256, size, format, width, height, caption?}`;
 * a histogram is `{"_type": "histogram", values, bins}` (counts and edges).
 * The file is named `<key>_<step>_<first 20 hex of its sha256>.<png|jpg>` as
 * the SDK names it (a `/` in the key makes a folder); the bytes are the ones
 * logged.
 */
import type { HistogramMedia, ImageMedia, MediaImage } from '@trackstack/core';
import { formatWandbNumber, type WandbItem } from './wandb-records.js';

/** A media value's history value, and the run files it refers to. */
export interface WandbMediaValue {
  value: Record<string, unknown>;
  files: { path: string; localPath: string }[];
}

/**
 * The `format` W&B gives an image: its file's extension, as the SDK takes it from a path
 * (`jpeg` for `x.jpeg`); `png` or `jpg` for bytes.
 */
export function wandbImageFormat(image: MediaImage): string {
  const dot = image.fileName?.lastIndexOf('.') ?? -1;
  if (dot > 0 && dot < image.fileName!.length - 1) return image.fileName!.slice(dot + 1);
  return image.format === 'jpeg' ? 'jpg' : 'png';
}

export function imageValue(media: ImageMedia): WandbMediaValue {
  const { image } = media;
  const format = wandbImageFormat(image);
  const path = `media/images/${media.key}_${media.step}_${image.sha256.slice(0, 20)}.${format}`;
  return {
    value: {
      _type: 'image-file',
      path,
      sha256: image.sha256,
      size: image.size,
      format,
      width: image.width,
      height: image.height,
      ...(image.caption === undefined ? {} : { caption: image.caption }),
    },
    files: [{ path, localPath: image.localPath }],
  };
}

export function histogramValue(media: HistogramMedia): WandbMediaValue {
  return { value: { _type: 'histogram', values: media.counts, bins: media.bins }, files: [] };
}

/** A history value as the items wandb-core writes for it: one per field, nested under the key. */
export function mediaItems(key: string, value: Record<string, unknown>): WandbItem[] {
  return Object.entries(value).map(([field, item]) => ({
    nestedKey: [key, field],
    valueJson:
      typeof item === 'number'
        ? formatWandbNumber(item)
        : Array.isArray(item)
          ? `[${item.map((x) => (typeof x === 'number' ? formatWandbNumber(x) : JSON.stringify(x))).join(',')}]`
          : JSON.stringify(item),
  }));
}
