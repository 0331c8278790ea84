/**
 * The flavor: a run as TensorBoard's event files in `<log_dir>/<experiment>/<run>/`, so
 * `tensorboard --logdir <log_dir>` lists each experiment's runs. What maps to what:
 *
 *   metrics            scalar summaries (`simple_value`: float32, as TensorBoard keeps them);
 *                      system metrics arrive as `system/...` metrics and are scalars too
 *   params             the HParams plugin: when the run ends, a session start with every
 *                      param (numbers, true and false as such) and a session end with the
 *                      status (TensorBoard reads a run's first session start only, so it is
 *                      written once, with them all; a running run is not in HParams yet)
 *   tags               text summaries `tags/<key>` at step 0
 *   console output     text summaries `console`, each write's lines in a code block
 *   images             image summaries (the PNG or JPEG bytes as logged)
 *   histograms         histogram summaries (the bins' right edges and counts)
 *   artifacts          copied to `<run>/artifacts/<path>`: TensorBoard has no artifacts
 *   child runs         a directory inside the parent's
 *
 * Core owns validation, batching, the journal and retries; every write here is one append
 * to the run's event file, resolved once the bytes are in the file. The run's params and
 * uid are kept beside its files (`.trackstack-run.json`), so a run resumed in another
 * process, or ended by a later `trackstack sync`, still names them all.
 */
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type ArtifactUpload,
  BaseExperimentTracker,
  DEFAULT_LIMITS,
  defineFlavor,
  type FinalRunStatus,
  type FlavorCapabilities,
  type FlavorLimits,
  forEachMetric,
  type Media,
  type ResumeOptions,
  type RunInit,
  type RunRef,
  type WriteBatch,
} from '@trackstack/core';
import {
  type ResolvedTensorboardConfig,
  resolveTensorboardConfig,
  type TensorboardConfig,
  tensorboardConfigSchema,
} from './tensorboard-config.js';
import { TensorboardError } from './tensorboard-error.js';
import {
  encodeEvent,
  type HistogramValue,
  SESSION_STATUS,
  type SessionStatus,
  type SummaryValue,
} from './tensorboard-proto.js';
import { EventFileWriter, ScalarRecords } from './tensorboard-writer.js';

/** What is kept beside a run's event files. */
interface RunState {
  uid: string;
  /** Every param the run logged, as logged. */
  params: Record<string, string>;
  startTime: number;
}

const STATE_FILE = '.trackstack-run.json';
/** The HParams plugin's tags: metric keys may not take them (they are written under metrics/). */
const HPARAMS_PREFIX = '_hparams_/';

const FINAL_STATUS: Record<FinalRunStatus, SessionStatus> = {
  FINISHED: SESSION_STATUS.STATUS_SUCCESS,
  FAILED: SESSION_STATUS.STATUS_FAILURE,
  // TensorBoard has no "killed": the session did not succeed.
  KILLED: SESSION_STATUS.STATUS_FAILURE,
};

interface OpenRun {
  dir: string;
  writer: EventFileWriter;
  state: RunState;
  /** The run's scalar records, encoded in place (its tags' bytes cached). */
  scalars: ScalarRecords;
}

export class TensorboardExperimentTracker extends BaseExperimentTracker<TensorboardConfig> {
  static readonly FLAVOR = defineFlavor({
    name: 'tensorboard',
    displayName: 'TensorBoard (event files)',
    configSchema: tensorboardConfigSchema,
    docsUrl: 'https://www.npmjs.com/package/@trackstack/tracker-tensorboard',
  });

  private resolved: ResolvedTensorboardConfig | undefined;
  private readonly open = new Map<string, OpenRun>();

  get settings(): ResolvedTensorboardConfig {
    this.resolved ??= resolveTensorboardConfig(this.config);
    return this.resolved;
  }

  override get limits(): FlavorLimits {
    // No server: a request is one append; these only keep one append to a few MB.
    return DEFAULT_LIMITS;
  }

  override get capabilities(): FlavorCapabilities {
    return {
      // One file, appended in journal order.
      orderedWrites: true,
      maxConcurrency: 1,
      nestedRuns: true,
      artifacts: true,
      resume: true,
      console: true,
      minWriteIntervalMs: this.settings.flush_interval_s * 1000,
      media: ['image', 'histogram'],
    };
  }

  /** Idempotent by uid: the directory that already holds the run's state is the run's. */
  async createRun(init: RunInit): Promise<RunRef> {
    const parent = init.parent?.data?.dir;
    const base =
      typeof parent === 'string'
        ? parent
        : join(this.settings.logDir, segment(init.experiment || 'Default'));
    const name = segment(init.name || init.uid);
    let dir = join(base, name);
    let existing = await readState(dir);
    if (existing !== undefined && existing.uid !== init.uid) {
      // Another run has that name: this one's directory is told apart by its uid.
      dir = join(base, `${name}-${init.uid.slice(-8)}`);
      existing = await readState(dir);
    }
    const state: RunState = existing ?? { uid: init.uid, params: {}, startTime: init.startTime };
    await this.guard('make the run directory', dir, async () => {
      await mkdir(dir, { recursive: true });
      await saveState(dir, state);
    });
    const run = this.openRun(dir, state);
    // The run's start tags (`trackstack.uid`, the source's) once, as the logged ones are.
    if (existing === undefined) {
      await this.append(run, tagEvents(Object.entries(init.tags), init.startTime));
    }
    return this.ref(dir);
  }

  override async resumeRun(ref: RunRef, _options: ResumeOptions): Promise<RunRef> {
    const dir = this.dirOf(ref);
    if (!this.open.has(dir)) {
      const state = await readState(dir);
      if (state === undefined) {
        throw new TensorboardError(`tensorboard: no run in ${dir} to resume`, { retryable: false });
      }
      this.openRun(dir, state);
    }
    return this.ref(dir);
  }

  /** Params, tags, metrics and console lines of one batch: one append. */
  async writeBatch(ref: RunRef, batch: WriteBatch): Promise<void> {
    const run = await this.runOf(ref);
    const events: (Uint8Array | Buffer)[] = [];
    if (batch.params.length > 0) {
      // Kept beside the files until the run ends: TensorBoard reads a run's first session
      // start only, so it is written once, with every param (finishRun).
      for (const { key, value } of batch.params) run.state.params[key] = value;
      await this.guard('write the run state', run.dir, () => saveState(run.dir, run.state));
    }
    events.push(
      ...tagEvents(
        batch.tags.map(({ key, value }) => [key, value]),
        Date.now(),
      ),
    );
    // Steps are whole numbers from 0 (core's validation): every point takes the fast path.
    const scalars = run.scalars;
    forEachMetric(batch, (key, value, step, timestamp) => {
      scalars.add(scalarTag(key), value, step, timestamp / 1000);
    });
    events.push(scalars.take());
    if (batch.console !== undefined && batch.console.length > 0) {
      const lines = batch.console;
      const text = `\`\`\`\n${lines.map((l) => l.text).join('\n')}\n\`\`\``;
      events.push(
        encodeEvent({
          wallTime: lines[0]!.timestamp / 1000,
          step: lines[0]!.line,
          summary: [{ tag: 'console', text }],
        }),
      );
    }
    await this.append(run, events);
  }

  /** A copy in `<run>/artifacts/<path>`: TensorBoard shows none, the run's directory keeps it. */
  async uploadArtifact(ref: RunRef, artifact: ArtifactUpload): Promise<void> {
    const run = await this.runOf(ref);
    const target = join(run.dir, 'artifacts', ...artifact.path.split('/'));
    await this.guard('copy the artifact to', target, async () => {
      await mkdir(dirname(target), { recursive: true });
      await copyFile(artifact.localPath, target);
    });
  }

  /** Images and histograms as TensorBoard's summaries of them, at the media's step. */
  async logMedia(ref: RunRef, media: Media): Promise<void> {
    const run = await this.runOf(ref);
    let value: SummaryValue;
    if (media.kind === 'image') {
      const { image } = media;
      const encoded = await this.guard('read the image', image.localPath, () =>
        readFile(image.localPath),
      );
      value = {
        tag: media.key,
        image: {
          width: image.width,
          height: image.height,
          ...(image.channels === undefined ? {} : { colorspace: image.channels }),
          encoded,
        },
      };
    } else if (media.kind === 'histogram') {
      value = { tag: media.key, histogram: histogramOf(media.bins, media.counts) };
    } else {
      return;
    }
    await this.append(run, [
      encodeEvent({ wallTime: media.timestamp / 1000, step: media.step, summary: [value] }),
    ]);
  }

  /**
   * The HParams session: its start with every param the run logged, its end with the run's
   * status; the file made durable and closed.
   */
  async finishRun(ref: RunRef, status: FinalRunStatus, endTime: number): Promise<void> {
    const run = await this.runOf(ref);
    const end = encodeEvent({
      wallTime: endTime / 1000,
      summary: [
        {
          tag: '_hparams_/session_end_info',
          hparams: { sessionEnd: { status: FINAL_STATUS[status], endTimeSecs: endTime / 1000 } },
        },
      ],
    });
    await this.append(run, [sessionStart(run.state), end]);
    await this.guard('close the event file in', run.dir, () => run.writer.close());
    this.open.delete(run.dir);
  }

  /** The log directory can be made and written. */
  async validateConnection(): Promise<void> {
    const dir = this.settings.logDir;
    await this.guard('write to', dir, async () => {
      await mkdir(dir, { recursive: true });
      const probe = join(dir, `.trackstack-probe-${process.pid}`);
      await writeFile(probe, '');
      await rm(probe, { force: true });
    });
  }

  override runMetadata(ref: RunRef): Record<string, string> {
    return { tensorboard_run_dir: this.dirOf(ref) };
  }

  private ref(dir: string): RunRef {
    const runId = relative(this.settings.logDir, dir).split(sep).join('/');
    return { runId, url: pathToFileURL(dir).href, data: { dir } };
  }

  private dirOf(ref: RunRef): string {
    const dir = ref.data?.dir;
    return typeof dir === 'string' ? dir : join(this.settings.logDir, ...ref.runId.split('/'));
  }

  private openRun(dir: string, state: RunState): OpenRun {
    let run = this.open.get(dir);
    if (run === undefined) {
      run = {
        dir,
        state,
        writer: new EventFileWriter(dir, this.settings.maxFileBytes),
        scalars: new ScalarRecords(),
      };
      this.open.set(dir, run);
    }
    return run;
  }

  private async runOf(ref: RunRef): Promise<OpenRun> {
    const dir = this.dirOf(ref);
    // A run this tracker did not start or resume (a sync from another process): open it.
    if (!this.open.has(dir)) await this.resumeRun(ref, { reopen: false });
    return this.open.get(dir)!;
  }

  private append(run: OpenRun, events: (Uint8Array | Buffer)[]): Promise<void> {
    return this.guard('write the event file in', run.dir, () => run.writer.append(events));
  }

  private async guard<T>(doing: string, path: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw TensorboardError.of(error, doing, path);
    }
  }
}

/** Tags as text summaries `tags/<key>` at step 0. */
function tagEvents(tags: [string, string][], time: number): Uint8Array[] {
  return tags.map(([key, value]) =>
    encodeEvent({ wallTime: time / 1000, summary: [{ tag: `tags/${key}`, text: value }] }),
  );
}

/** A path segment from a name: no separators, no `.` or `..`, no control characters. */
function segment(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  const safe = name.replace(/[/\\:*?"<>|\u0000-\u001f]/g, '_').trim();
  return safe === '' || safe === '.' || safe === '..' ? '_' : safe;
}

/** A metric's tag: its key, but the HParams plugin's own tags are moved under `metrics/`. */
function scalarTag(key: string): string {
  return key.startsWith(HPARAMS_PREFIX) ? `metrics/${key}` : key;
}

/**
 * The HParams session's start: every param, a number when it reads back as the same number
 * (`0.01`, `32`), true and false as booleans, else the text.
 */
function sessionStart(state: RunState): Uint8Array {
  const hparams: Record<string, string | number | boolean> = {};
  for (const [key, text] of Object.entries(state.params)) hparams[key] = hparamValue(text);
  return encodeEvent({
    wallTime: state.startTime / 1000,
    summary: [
      {
        tag: '_hparams_/session_start_info',
        hparams: { sessionStart: { hparams, startTimeSecs: state.startTime / 1000 } },
      },
    ],
  });
}

export function hparamValue(text: string): string | number | boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  const number = Number(text);
  return text.trim() !== '' && Number.isFinite(number) && String(number) === text ? number : text;
}

/** A histogram's bins and counts as TensorBoard's: right edges; sums from the bins' centres. */
export function histogramOf(bins: readonly number[], counts: readonly number[]): HistogramValue {
  let num = 0;
  let sum = 0;
  let sumSquares = 0;
  counts.forEach((count, i) => {
    const centre = (bins[i]! + bins[i + 1]!) / 2;
    num += count;
    sum += centre * count;
    sumSquares += centre * centre * count;
  });
  return {
    min: bins[0]!,
    max: bins[bins.length - 1]!,
    num,
    sum,
    sumSquares,
    bucketLimit: bins.slice(1),
    bucket: [...counts],
  };
}

async function readState(dir: string): Promise<RunState | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as RunState;
  } catch {
    return undefined;
  }
}

async function saveState(dir: string, state: RunState): Promise<void> {
  const path = join(dir, STATE_FILE);
  await writeFile(`${path}.tmp`, JSON.stringify(state));
  await rename(`${path}.tmp`, path);
}
