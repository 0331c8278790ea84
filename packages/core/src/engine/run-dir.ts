/**
 * The layout of one run on disk, under `<store>/runs/<uid>/`:
 *
 *   run.json                       what the run is (written by the process that started it)
 *   journal/<segment>.jsonl        one append-only segment per writing process
 *   index/<segment>.json           the segment's read index: summaries, envelopes, block offsets
 *   artifacts/<sha256>             staged artifact copies, content-addressed
 *   delivery/<dest>/state.json     the backend run's ref, and whether it was finished
 *   delivery/<dest>/<segment>.json the delivery cursor of that segment to that destination
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TrackstackError } from '../contract/errors.js';
import {
  type RunInit,
  type RunRef,
  type RunSource,
  type RunStatus,
  UID_TAG,
} from '../contract/types.js';

export interface RunMeta {
  v: 1;
  uid: string;
  experiment: string;
  name: string;
  startTime: number;
  endTime?: number | undefined;
  status: RunStatus;
  tags: Record<string, string>;
  parentUid?: string | undefined;
  /** Where the run ran (captured at start; absent when capture was off). */
  source?: RunSource | undefined;
  /** Names of the trackers the run was started for (empty: local only). */
  destinations: string[];
  owner: { pid: number; host: string };
}

export interface DeliveryState {
  ref?: RunRef | undefined;
  /** Set once the backend acknowledged the final status. */
  finished?: RunStatus | undefined;
}

export interface SegmentCursor {
  /** Every record with q <= this was delivered (or rejected, see `rejected`). */
  q: number;
  rejected?: { q: number; code: string; message: string }[];
}

const UID = /^[0-9A-Za-z][0-9A-Za-z_-]{0,127}$/;
const DESTINATION = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function assertRunUid(uid: string): void {
  if (!UID.test(uid)) {
    throw new TrackstackError('INVALID_RUN_ID', `${JSON.stringify(uid)} is not a valid run id`, {
      hint: 'run ids are letters, digits, _ and -, up to 128 characters',
    });
  }
}

export function assertDestinationName(name: string): void {
  if (!DESTINATION.test(name)) {
    throw new TrackstackError(
      'INVALID_CONFIG',
      `tracker name ${JSON.stringify(name)} is not valid: use letters, digits, '.', '-' and '_'`,
    );
  }
}

export class RunDir {
  readonly path: string;
  readonly uid: string;
  readonly storeDir: string;

  constructor(storeDir: string, uid: string) {
    assertRunUid(uid);
    this.uid = uid;
    this.storeDir = storeDir;
    this.path = join(storeDir, 'runs', uid);
  }

  get metaPath(): string {
    return join(this.path, 'run.json');
  }
  get journalDir(): string {
    return join(this.path, 'journal');
  }
  get artifactsDir(): string {
    return join(this.path, 'artifacts');
  }
  deliveryDir(destination: string): string {
    assertDestinationName(destination);
    return join(this.path, 'delivery', destination);
  }
  segmentPath(segment: string): string {
    return join(this.journalDir, `${segment}.jsonl`);
  }
  /** The read index of a segment (segment-index.ts), saved beside the journal. */
  indexPath(segment: string): string {
    return join(this.path, 'index', `${segment}.json`);
  }

  create(): void {
    try {
      mkdirSync(this.journalDir, { recursive: true, mode: 0o700 });
      mkdirSync(this.artifactsDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new TrackstackError(
        'STORE_NOT_WRITABLE',
        `cannot make run ${this.uid} in ${this.path}`,
        {
          cause: error,
          hint: 'check that the store can be written, or pick another with TRACKSTACK_HOME',
        },
      );
    }
  }

  /** A new, unique segment name: sortable by creation time, then by process. */
  newSegmentName(): string {
    return `${Date.now().toString(36).padStart(9, '0')}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  /**
   * An end record is superseded when the run was resumed after it: a segment
   * that started later than the end means the run went on.
   */
  static endSuperseded(endTime: number, segments: readonly string[]): boolean {
    return segments.some((segment) => segmentStartTime(segment) > endTime);
  }

  readMeta(): RunMeta {
    let text: string;
    try {
      text = readFileSync(this.metaPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new TrackstackError('RUN_NOT_FOUND', `no run ${this.uid} in ${this.path}`);
      }
      throw error;
    }
    return parseJsonFile<RunMeta>(text, this.metaPath);
  }

  writeMeta(meta: RunMeta): void {
    writeJsonAtomicSync(this.metaPath, meta);
  }

  async listSegments(): Promise<string[]> {
    try {
      const names = await readdir(this.journalDir);
      return names
        .filter((name) => name.endsWith('.jsonl'))
        .map((name) => name.slice(0, -'.jsonl'.length))
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** The destination's ref of this run, if the store has one (unreadable state: none). */
  async storedRef(destination: string): Promise<RunRef | undefined> {
    return (await this.readDeliveryState(destination).catch(() => undefined))?.ref;
  }

  async readDeliveryState(destination: string): Promise<DeliveryState> {
    return (
      (await readJsonFile<DeliveryState>(join(this.deliveryDir(destination), 'state.json'))) ?? {}
    );
  }

  async writeDeliveryState(destination: string, state: DeliveryState): Promise<void> {
    await writeJsonAtomic(join(this.deliveryDir(destination), 'state.json'), state);
  }

  async readCursor(destination: string, segment: string): Promise<SegmentCursor> {
    return (
      (await readJsonFile<SegmentCursor>(
        join(this.deliveryDir(destination), `${segment}.json`),
      )) ?? {
        q: 0,
      }
    );
  }

  async writeCursor(destination: string, segment: string, cursor: SegmentCursor): Promise<void> {
    await writeJsonAtomic(join(this.deliveryDir(destination), `${segment}.json`), cursor);
  }
}

/** When a segment was created (its name starts with the time in base 36). */
function segmentStartTime(segment: string): number {
  return Number.parseInt(segment.slice(0, segment.indexOf('-')), 36);
}

/** What a flavor gets to create the run of `meta` (every path that creates one uses this). */
export function runInitOf(meta: RunMeta, parent?: RunRef): RunInit {
  return {
    uid: meta.uid,
    experiment: meta.experiment,
    name: meta.name,
    tags: { ...meta.tags, [UID_TAG]: meta.uid },
    startTime: meta.startTime,
    ...(parent === undefined ? {} : { parent }),
    ...(meta.parentUid === undefined ? {} : { parentUid: meta.parentUid }),
    ...(meta.source === undefined ? {} : { source: meta.source }),
  };
}

export function currentOwner(): { pid: number; host: string } {
  return { pid: process.pid, host: hostname() };
}

/** Whether the process that owns a run may still be writing it. */
export function ownerAlive(owner: { pid: number; host: string }): boolean {
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseJsonFile<T>(text: string, path: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new TrackstackError('CORRUPT_FILE', `${path} is not valid JSON`, {
      cause: error,
      hint: 'the file was edited or damaged; restore it or move it away',
    });
  }
}

async function readJsonFile<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseJsonFile<T>(text, path);
}

let tmpCounter = 0;
function tmpPath(path: string): string {
  tmpCounter += 1;
  return `${path}.${process.pid}.${tmpCounter}.tmp`;
}

export function writeJsonAtomicSync(path: string, value: unknown): void {
  const tmp = tmpPath(path);
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = tmpPath(path);
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  await writeFile(tmp, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}
