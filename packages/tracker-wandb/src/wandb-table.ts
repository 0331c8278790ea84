/**
 * A table as W&B's SDK logs it (`wandb.Table` in `run.log`):
 *
 * - a `run_table` artifact named `run-<run id>-<key>` (W&B's name rules applied) holding
 *   `<key>.table.json` (`{"_type": "table", "column_types", "columns", "data", "log_mode",
 *   "ncols", "nrows"}`, keys sorted, image cells as `image-file` values) and each image cell's
 *   file as `media/images/<first 20 hex of its md5>.<png|jpg>`;
 * - the run file `media/table/<key>_<step>_<first 20 hex of its sha256>.table.json`, the
 *   SDK's copy (`{"columns", "data"}`, an image cell as the word `"Image"`);
 * - the history value `table-file` (path, sha256, size, ncols, nrows, log_mode and the
 *   artifact's `wandb-client-artifact://` paths), which W&B's UI reads the table from.
 *
 * Client ids are derived from the run, key and step, so a retried table is the same artifact.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { MediaImage, TableCell, TableMedia } from '@trackstack/core';
import {
  type ArtifactEntry,
  clientIdOf,
  manifestDigest,
  sanitizeArtifactName,
  type WandbArtifact,
} from './wandb-artifact.js';
import { wandbImageFormat } from './wandb-media.js';

export interface WandbTable {
  artifact: WandbArtifact;
  /** The run file (the SDK's run copy) and its bytes. */
  runFile: { path: string; bytes: Uint8Array };
  /** The history value at the table's key. */
  value: Record<string, unknown>;
}

const IMAGE_FILE_TYPE = {
  params: {
    box_class_maps: { params: { is_set: false, val: {} }, wb_type: 'const' },
    box_layers: { params: { is_set: false, val: {} }, wb_type: 'const' },
    box_score_keys: { params: { is_set: true, val: [] }, wb_type: 'const' },
    class_map: { params: { is_set: false, val: {} }, wb_type: 'const' },
    mask_class_maps: { params: { is_set: false, val: {} }, wb_type: 'const' },
    mask_layers: { params: { is_set: false, val: {} }, wb_type: 'const' },
  },
  wb_type: 'image-file',
};

/** A column's W&B type: the union of `none` and the types its cells hold (`unknown` if none). */
function columnType(cells: readonly TableCell[]): Record<string, unknown> {
  const types = new Map<string, Record<string, unknown>>([['none', { wb_type: 'none' }]]);
  for (const cell of cells) {
    if (cell === null) continue;
    if (typeof cell === 'string') types.set('string', { wb_type: 'string' });
    else if (typeof cell === 'number') types.set('number', { wb_type: 'number' });
    else if (typeof cell === 'boolean') types.set('boolean', { wb_type: 'boolean' });
    else types.set('image-file', IMAGE_FILE_TYPE);
  }
  if (types.size === 1) types.set('unknown', { wb_type: 'unknown' });
  const allowed = [...types.keys()].sort().map((name) => types.get(name)!);
  return { params: { allowed_types: allowed }, wb_type: 'union' };
}

export async function wandbTable(runId: string, media: TableMedia): Promise<WandbTable> {
  const { key, step, columns, rows } = media;
  const images = new Map<MediaImage, { path: string; entry: ArtifactEntry }>();
  for (const image of media.images) {
    const bytes = await readFile(image.localPath);
    const md5 = createHash('md5').update(bytes).digest();
    // As the SDK names an image it adds to a table's artifact: a file by its sha256 and name,
    // bytes (a temporary file there) by their md5.
    const path =
      image.fileName === undefined
        ? `media/images/${md5.toString('hex').slice(0, 20)}.${wandbImageFormat(image)}`
        : `media/images/${image.sha256.slice(0, 20)}/${image.fileName}`;
    images.set(image, {
      path,
      entry: {
        path,
        digest: md5.toString('base64'),
        size: bytes.length,
        localPath: image.localPath,
      },
    });
  }
  const typeMap: Record<string, unknown> = {};
  columns.forEach((column, c) => {
    typeMap[column] = columnType(rows.map((row) => row[c]!));
  });
  const data = rows.map((row) =>
    row.map((cell) => {
      if (typeof cell !== 'object' || cell === null) return cell;
      return {
        _type: 'image-file',
        ...(cell.caption === undefined ? {} : { caption: cell.caption }),
        format: wandbImageFormat(cell),
        height: cell.height,
        path: images.get(cell)!.path,
        sha256: cell.sha256,
        width: cell.width,
      };
    }),
  );
  const tableJson = Buffer.from(
    pythonJson({
      _type: 'table',
      column_types: { params: { type_map: typeMap }, wb_type: 'typedDict' },
      columns,
      data,
      log_mode: 'IMMUTABLE',
      ncols: columns.length,
      nrows: rows.length,
    }),
    'utf8',
  );
  const entryPath = `${key}.table.json`;
  const entries: ArtifactEntry[] = [
    ...[...new Map([...images.values()].map((i) => [i.path, i.entry])).values()],
    {
      path: entryPath,
      digest: createHash('md5').update(tableJson).digest('base64'),
      size: tableJson.length,
      bytes: tableJson,
    },
  ].sort((a, b) => (a.path < b.path ? -1 : 1));
  const name = sanitizeArtifactName(`run-${runId}-${key}`);
  const clientId = clientIdOf(`${runId}\u0000${key}\u0000${step}\u0000${media.timestamp}`);
  const sequenceClientId = clientIdOf(`${runId}\u0000${name}`);
  const runCopy = Buffer.from(
    compactJson({
      columns,
      data: rows.map((row) =>
        row.map((cell) => (typeof cell === 'object' && cell !== null ? 'Image' : cell)),
      ),
    }),
    'utf8',
  );
  const sha256 = createHash('sha256').update(runCopy).digest('hex');
  const runPath = `media/table/${key}_${step}_${sha256.slice(0, 20)}.table.json`;
  return {
    artifact: {
      name,
      type: 'run_table',
      digest: manifestDigest(entries),
      clientId,
      sequenceClientId,
      aliases: ['latest'],
      entries,
    },
    runFile: { path: runPath, bytes: runCopy },
    value: {
      _type: 'table-file',
      path: runPath,
      sha256,
      size: runCopy.length,
      ncols: columns.length,
      nrows: rows.length,
      log_mode: 'IMMUTABLE',
      artifact_path: `wandb-client-artifact://${clientId}/${entryPath}`,
      _latest_artifact_path: `wandb-client-artifact://${sequenceClientId}:latest/${entryPath}`,
    },
  };
}

/** JSON as Python's `json.dump(value, sort_keys=True)` writes it: `", "`, `": "`, ASCII only. */
export function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return pythonNumber(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return asciiString(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  return `{${keys.map((k) => `${asciiString(k)}: ${pythonJson(record[k])}`).join(', ')}}`;
}

/** JSON as the SDK's run copy is written (pydantic-core): compact, UTF-8, NaN as a bare word. */
function compactJson(value: unknown): string {
  if (typeof value === 'number') return rustNumber(value);
  if (Array.isArray(value)) return `[${value.map(compactJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .map((k) => `${JSON.stringify(k)}:${compactJson(record[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function nonFinite(x: number): string | undefined {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  return undefined;
}

/** Python's repr of a number (an integer-valued one as an int): exponent below 1e-4 and from 1e16. */
export function pythonNumber(x: number): string {
  const special = nonFinite(x);
  if (special !== undefined) return special;
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return Object.is(x, -0) ? '-0.0' : x.toFixed(0);
  const [mantissa, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent >= -4 && exponent < 16) return String(x);
  return `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

/** serde_json's (ryu's) form of a number, an integer-valued one as an int. */
function rustNumber(x: number): string {
  const special = nonFinite(x);
  if (special !== undefined) return special;
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(0);
  const [mantissa, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent >= -5 && exponent < 16) return String(x);
  return `${mantissa}e${exponent}`;
}

function asciiString(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
