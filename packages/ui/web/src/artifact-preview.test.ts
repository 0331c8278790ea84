import { describe, expect, it } from 'vitest';
import { previewKind } from './artifact-preview';

describe('previewKind', () => {
  it('previews images (SVG too), JSON, tables and text by content type, then by extension', () => {
    const kind = (path: string, contentType: string) => previewKind({ path, contentType });
    expect(kind('a.png', 'image/png')).toBe('image');
    expect(kind('plots/b.svg', 'image/svg+xml')).toBe('image');
    expect(kind('m.json', 'application/json')).toBe('json');
    expect(kind('m.data', 'application/json; charset=utf-8')).toBe('json');
    expect(kind('t.csv', 'text/csv')).toBe('table');
    expect(kind('t.tsv', 'application/octet-stream')).toBe('table');
    expect(kind('notes.md', 'application/octet-stream')).toBe('text');
    expect(kind('log.txt', 'text/plain')).toBe('text');
    expect(kind('model.bin', 'application/octet-stream')).toBe('none');
  });
});
