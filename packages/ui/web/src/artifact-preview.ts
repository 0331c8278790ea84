/**
 * An artifact's preview: images (SVG too, drawn as an image so it runs no
 * script), JSON pretty-printed, text, and tables (CSV/TSV) as a table; the
 * first megabyte of a text file.
 */
import Papa from 'papaparse';
import { type Artifact, api } from './api';
import { h } from './dom';

const TEXT_LIMIT = 1024 * 1024;
const TABLE_ROWS = 200;

export type PreviewKind = 'image' | 'json' | 'table' | 'text' | 'none';

export function previewKind(artifact: Pick<Artifact, 'path' | 'contentType'>): PreviewKind {
  const type = artifact.contentType.split(';')[0]!.trim().toLowerCase();
  const ext = artifact.path.toLowerCase().split('.').pop() ?? '';
  if (type.startsWith('image/')) return 'image';
  if (type === 'application/json' || ext === 'json') return 'json';
  if (type === 'text/csv' || type === 'text/tab-separated-values' || ext === 'csv' || ext === 'tsv')
    return 'table';
  if (
    type.startsWith('text/') ||
    ['txt', 'log', 'md', 'yaml', 'yml', 'toml', 'py', 'ts', 'js', 'jsonl'].includes(ext)
  )
    return 'text';
  return 'none';
}

export async function artifactPreview(uid: string, artifact: Artifact): Promise<HTMLElement> {
  const url = api.artifactUrl(uid, artifact.path);
  const kind = previewKind(artifact);
  if (kind === 'image') return h('img', { class: 'preview-image', src: url, alt: artifact.path });
  if (kind === 'none')
    return h(
      'p',
      { class: 'muted' },
      'no preview for ',
      artifact.contentType,
      ': ',
      h('a', { href: url, download: '' }, 'download'),
    );
  if (artifact.size > TEXT_LIMIT && kind !== 'text') {
    return h(
      'p',
      { class: 'muted' },
      'too large to preview: ',
      h('a', { href: url, download: '' }, 'download'),
    );
  }
  let text = await api.artifactText(uid, artifact.path);
  const cut = text.length > TEXT_LIMIT;
  if (cut) text = text.slice(0, TEXT_LIMIT);
  if (kind === 'json') {
    try {
      return h('pre', { class: 'preview-text' }, JSON.stringify(JSON.parse(text), null, 2));
    } catch {
      return h('pre', { class: 'preview-text' }, text);
    }
  }
  if (kind === 'table')
    return dataTable(Papa.parse<string[]>(text.trim(), { skipEmptyLines: true }).data);
  return h('pre', { class: 'preview-text' }, text, cut ? '\n… (first MiB shown)' : '');
}

/** Rows of cells (the first the header) as a table, the first TABLE_ROWS rows. */
export function dataTable(
  rows: unknown[][],
  cell: (value: unknown) => Node | string = String,
): HTMLElement {
  const [head = [], ...body] = rows;
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          head.map((c) => h('th', {}, String(c))),
        ),
      ),
      h(
        'tbody',
        {},
        body.slice(0, TABLE_ROWS).map((row) =>
          h(
            'tr',
            {},
            row.map((c) => h('td', {}, cell(c))),
          ),
        ),
      ),
    ),
    body.length > TABLE_ROWS
      ? h('p', { class: 'muted' }, `first ${TABLE_ROWS} of ${body.length} rows`)
      : null,
  );
}
