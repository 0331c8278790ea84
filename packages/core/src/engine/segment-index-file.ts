/**
 * A segment's read index on disk (`index/<segment>.json`): saved whole to a
 * temporary file and renamed, so a reader sees the old index or the new one;
 * read back only when it is of this version and of that segment.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SEGMENT_INDEX_VERSION, type SegmentIndexData } from './segment-index.js';

export function readSegmentIndex(path: string, segment: string): SegmentIndexData | undefined {
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as SegmentIndexData;
    // Another version's index, or one of another segment, is read again from the journal.
    return data.v === SEGMENT_INDEX_VERSION && data.segment === segment ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Saves an index; a failure only makes the next read slower (it reads the journal). */
export function saveSegmentIndex(path: string, data: SegmentIndexData): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(data), { mode: 0o600 });
    renameSync(temporary, path);
  } catch {
    // A read-only store: readers index the journal themselves.
  }
}
