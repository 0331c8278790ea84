/**
 * Media laid out as MLflow's own client lays it out, so MLflow's UI shows it:
 *
 * - an image (`log_image(key=, step=)`): `images/<key>+step+<n>+timestamp+<ms>+<uuid>.png`
 *   (always PNG: a JPEG is re-encoded, as Pillow does) and beside it
 *   `…+<uuid>+compressed.webp`, a WebP thumbnail whose longer side is 256 px
 *   (quality 80), plus the run tag `mlflow.loggedImages`;
 * - a table (`log_table`): `tables/<key>/step-<n>.json` as
 *   `{"columns": [...], "data": [[...]]}`, image cells as
 *   `{"type": "image", "filepath", "compressed_filepath"}` under
 *   `table_images/<table path without .json>/<uuid>.png|.webp`, non-finite
 *   numbers as null (as pandas writes them), listed in the run tag
 *   `mlflow.loggedArtifacts`;
 * - a histogram (MLflow has none): `histograms/<key>/step-<n>.json` holding
 *   `{"key", "step", "timestamp", "bins", "counts"}`.
 *
 * In a key, `/` becomes `~` in image file names (MLflow's client does the
 * same; its UI turns it back), and `:`, which MLflow's image keys do not
 * allow, becomes `_`. Names are derived from what was logged (the uuid is a
 * v5 of the run, key, step, time and bytes), so a retried upload writes the
 * same files.
 */
import { readFile } from 'node:fs/promises';
import type { HistogramMedia, ImageMedia, MediaImage, TableMedia } from '@trackstack/core';
import { v5 as uuidv5 } from 'uuid';

/** The tag MLflow's UI reads before it lists a run's `images/`. */
export const LOGGED_IMAGES_TAG = 'mlflow.loggedImages';
/** The tag listing a run's tables (`[{"path": ..., "type": "table"}]`). */
export const LOGGED_ARTIFACTS_TAG = 'mlflow.loggedArtifacts';
/** The longer side of MLflow's image thumbnails (`COMPRESSED_IMAGE_SIZE`). */
const THUMBNAIL_SIZE = 256;

const MEDIA_NAMESPACE = '5f0b8f0e-6c1a-4d8e-9a43-7a2f5b1c9d30';

/** A file to upload: its path under the run's artifacts, bytes and content type. */
interface MediaFile {
  path: string;
  bytes: Uint8Array;
  contentType: string;
}

/** The files of one media value, and the run tags it needs. */
export interface MediaPlan {
  files: MediaFile[];
  /** `mlflow.loggedImages` for images; the table's path for `mlflow.loggedArtifacts`. */
  loggedImages?: true;
  table?: string;
}

/** Where a key goes in a file name: MLflow's `/` → `~`, and `:` (not allowed there) → `_`. */
export function imageKeyName(key: string): string {
  return key.replaceAll('/', '~').replaceAll(':', '_');
}

/** A path-safe key for tables and histograms (`:` is not allowed in MLflow's table paths). */
function pathKey(key: string): string {
  return key.replaceAll(':', '_');
}

/** The thumbnail's size: the longer side 256, the other scaled and truncated (MLflow's rule). */
export function thumbnailSize(width: number, height: number): { width: number; height: number } {
  if (width > height) {
    return {
      width: THUMBNAIL_SIZE,
      height: Math.max(1, Math.trunc((height * THUMBNAIL_SIZE) / width)),
    };
  }
  return {
    width: Math.max(1, Math.trunc((width * THUMBNAIL_SIZE) / height)),
    height: THUMBNAIL_SIZE,
  };
}

/** The image's PNG (the bytes as logged when they are PNG) and its WebP thumbnail. */
export async function encodeImage(
  image: MediaImage,
): Promise<{ png: Uint8Array; webp: Uint8Array }> {
  const { default: sharp } = await import('sharp');
  const bytes = await readFile(image.localPath);
  const png = image.format === 'png' ? bytes : await sharp(bytes).png().toBuffer();
  const size = thumbnailSize(image.width, image.height);
  const webp = await sharp(bytes)
    .resize(size.width, size.height, { fit: 'fill', kernel: 'cubic' })
    .webp({ quality: 80 })
    .toBuffer();
  return { png, webp };
}

function mediaUuid(runId: string, parts: (string | number)[]): string {
  return uuidv5(JSON.stringify([runId, ...parts]), MEDIA_NAMESPACE);
}

export async function imagePlan(runId: string, media: ImageMedia): Promise<MediaPlan> {
  const { key, step, timestamp, image } = media;
  const id = mediaUuid(runId, [key, step, timestamp, image.sha256]);
  const stem = `images/${imageKeyName(key)}+step+${step}+timestamp+${timestamp}+${id}`;
  const { png, webp } = await encodeImage(image);
  return {
    files: [
      { path: `${stem}.png`, bytes: png, contentType: 'image/png' },
      { path: `${stem}+compressed.webp`, bytes: webp, contentType: 'image/webp' },
    ],
    loggedImages: true,
  };
}

export async function tablePlan(runId: string, media: TableMedia): Promise<MediaPlan> {
  const { key, step } = media;
  const path = `tables/${pathKey(key)}/step-${step}.json`;
  const imageDir = `table_images/${path.slice(0, -'.json'.length)}`;
  const files: MediaFile[] = [];
  // Like MLflow's client, every image cell gets its own pair of files (an image in two cells
  // is written twice); each distinct image is encoded once.
  const encoded = new Map<MediaImage, Promise<{ png: Uint8Array; webp: Uint8Array }>>();
  const data: unknown[][] = [];
  for (const [r, row] of media.rows.entries()) {
    const out: unknown[] = [];
    for (const [c, cell] of row.entries()) {
      if (typeof cell === 'number' && !Number.isFinite(cell)) {
        out.push(null);
      } else if (typeof cell === 'object' && cell !== null) {
        let pending = encoded.get(cell);
        if (pending === undefined) {
          pending = encodeImage(cell);
          encoded.set(cell, pending);
        }
        const { png, webp } = await pending;
        const id = mediaUuid(runId, [key, step, r, c, cell.sha256]);
        const value = {
          type: 'image',
          filepath: `${imageDir}/${id}.png`,
          compressed_filepath: `${imageDir}/${id}.webp`,
        };
        files.push(
          { path: value.filepath, bytes: png, contentType: 'image/png' },
          { path: value.compressed_filepath, bytes: webp, contentType: 'image/webp' },
        );
        out.push(value);
      } else {
        out.push(cell);
      }
    }
    data.push(out);
  }
  const json = JSON.stringify({ columns: media.columns, data });
  files.push({ path, bytes: Buffer.from(json, 'utf8'), contentType: 'application/json' });
  return { files, table: path };
}

export function histogramPlan(media: HistogramMedia): MediaPlan {
  const { key, step, timestamp, bins, counts } = media;
  const json = JSON.stringify({ key, step, timestamp, bins, counts });
  return {
    files: [
      {
        path: `histograms/${pathKey(key)}/step-${step}.json`,
        bytes: Buffer.from(json, 'utf8'),
        contentType: 'application/json',
      },
    ],
  };
}

/**
 * `mlflow.loggedArtifacts` with a table added: a JSON list as Python's
 * `json.dumps` writes it (`", "` and `": "`), each path once, in the order logged.
 */
export function withLoggedTable(current: string | undefined, path: string): string {
  let entries: { path: string; type: string }[] = [];
  if (current !== undefined) {
    try {
      const parsed = JSON.parse(current) as unknown;
      if (Array.isArray(parsed)) entries = parsed as { path: string; type: string }[];
    } catch {
      // A tag that is not a JSON list is replaced.
    }
  }
  if (!entries.some((entry) => entry.path === path)) entries.push({ path, type: 'table' });
  return `[${entries.map((e) => `{"path": ${JSON.stringify(e.path)}, "type": ${JSON.stringify(e.type)}}`).join(', ')}]`;
}
