/**
 * The subset of `wandb_internal.proto`'s `Record` that an offline trackstack
 * run writes into a `.wandb` transaction log, encoded as wandb-core 0.30.0
 * encodes it.
 *
 * Field numbers were read from the SDK's own descriptors
 * (`wandb.proto.wandb_internal_pb2`, wandb 0.30.0), and
 * wandb-offline.int.test.ts checks them against the installed SDK on every
 * run; wandb-records.test.ts checks the bytes against records captured from a
 * real offline run (`__fixtures__/wandb-0.30.0-records.json`).
 */
import { ProtobufWriter } from './wandb-protobuf.js';

/** Field numbers of the messages trackstack writes (wandb 0.30.0). */
export const WANDB_FIELDS = {
  Record: {
    num: 1,
    history: 2,
    summary: 3,
    config: 5,
    files: 6,
    output_raw: 13,
    control: 16,
    run: 17,
    exit: 18,
    uuid: 19,
    header: 21,
    _info: 200,
  },
  _RecordInfo: { stream_id: 1 },
  HeaderRecord: { version_info: 1 },
  VersionInfo: { producer: 1, min_consumer: 2 },
  RunRecord: {
    run_id: 1,
    entity: 2,
    project: 3,
    config: 4,
    run_group: 6,
    job_type: 7,
    display_name: 8,
    notes: 9,
    tags: 10,
    host: 13,
    starting_step: 14,
    start_time: 17,
  },
  Timestamp: { seconds: 1, nanos: 2 },
  ConfigRecord: { update: 1, remove: 2 },
  ConfigItem: { key: 1, nested_key: 2, value_json: 16 },
  SummaryRecord: { update: 1, remove: 2 },
  SummaryItem: { key: 1, nested_key: 2, value_json: 16 },
  HistoryRecord: { item: 1, step: 2 },
  HistoryItem: { key: 1, nested_key: 2, value_json: 16 },
  HistoryStep: { num: 1 },
  FilesRecord: { files: 1 },
  FilesItem: { path: 1, policy: 2, type: 3 },
  RunExitRecord: { exit_code: 1, runtime: 2 },
  OutputRawRecord: { output_type: 1, timestamp: 2, line: 3 },
} as const;

/** `OutputRawRecord.OutputType`. */
export const WANDB_OUTPUT_TYPE = { stderr: 0, stdout: 1 } as const;
export type WandbOutputType = keyof typeof WANDB_OUTPUT_TYPE;

/** `FilesItem.PolicyType`: when `wandb sync` (or a live run) uploads the file. */
export const WANDB_FILE_POLICY = { now: 0, end: 1, live: 2 } as const;
export type WandbFilePolicy = keyof typeof WANDB_FILE_POLICY;

/** `FilesItem.FileType`. */
export const WANDB_FILE_TYPE = { other: 0, wandb: 1, media: 2, artifact: 3 } as const;
export type WandbFileType = keyof typeof WANDB_FILE_TYPE;

/**
 * A ConfigItem, SummaryItem or HistoryItem (the three share field numbers).
 * wandb-core writes history and its derived summary with `nestedKey` (one
 * element for a plain key); user config and summary updates with `key`.
 */
export interface WandbItem {
  key?: string;
  nestedKey?: readonly string[];
  /** The value as JSON text; history numbers may be the bare words NaN, Infinity, -Infinity. */
  valueJson: string;
}

export interface WandbHeaderRecord {
  /** The writer's version; wandb-core writes `0.30.0+<commit>`. Not read by `wandb sync`. */
  producer: string;
  /** wandb-core writes its minimum server version here (`0.70.0`). */
  minConsumer?: string;
}

export interface WandbRunRecord {
  runId: string;
  entity?: string;
  project?: string;
  displayName?: string;
  runGroup?: string;
  jobType?: string;
  notes?: string;
  tags?: readonly string[];
  host?: string;
  startingStep?: number;
  /** Epoch milliseconds (fractions kept to the nanosecond). `wandb sync` requires it. */
  startTimeMs?: number;
  /** The initial config, as ConfigItems (wandb puts `_wandb: {}` first). */
  config?: readonly WandbItem[];
}

export interface WandbChangeRecord {
  update?: readonly WandbItem[];
  remove?: readonly WandbItem[];
}

export interface WandbHistoryRecord {
  items: readonly WandbItem[];
  /** `HistoryRecord.step`; wandb-core always sets it (an empty submessage for step 0). */
  step?: number;
}

export interface WandbFilesItem {
  /** Relative to the run's `files/` directory, with `/` separators. */
  path: string;
  policy?: WandbFilePolicy;
  type?: WandbFileType;
}

export interface WandbExitRecord {
  exitCode: number;
  /** Whole seconds. */
  runtime?: number;
}

/**
 * Console text as the SDK captures it (`console="wrap"`): raw chunks, `\n`
 * and `\r` included, which wandb-core's terminal emulator turns into
 * `output.log` lines when the run is synced.
 */
export interface WandbOutputRawRecord {
  stream: WandbOutputType;
  /** Epoch milliseconds. */
  timestampMs: number;
  text: string;
}

export type WandbRecordBody =
  | { header: WandbHeaderRecord }
  | { run: WandbRunRecord }
  | { config: WandbChangeRecord }
  | { summary: WandbChangeRecord }
  | { history: WandbHistoryRecord }
  | { files: { files: readonly WandbFilesItem[] } }
  | { exit: WandbExitRecord }
  | { outputRaw: WandbOutputRawRecord };

export type WandbRecord = WandbRecordBody & {
  /** The record's sequence number in the log, from 1. */
  num: number;
  /** `_info.stream_id`: wandb-core sets it to the run id on records that come from the user. */
  streamId?: string;
};

const F = WANDB_FIELDS;

/** One `Record` message, fields in the order protobuf-go marshals them (non-oneof fields first). */
export function encodeRecord(record: WandbRecord): Uint8Array {
  const w = new ProtobufWriter().int64(F.Record.num, record.num);
  const { streamId } = record;
  if (streamId) w.message(F.Record._info, (i) => i.string(F._RecordInfo.stream_id, streamId));

  if ('header' in record) {
    const { producer, minConsumer = '' } = record.header;
    w.message(F.Record.header, (h) =>
      h.message(F.HeaderRecord.version_info, (v) =>
        v.string(F.VersionInfo.producer, producer).string(F.VersionInfo.min_consumer, minConsumer),
      ),
    );
  } else if ('run' in record) {
    w.message(F.Record.run, (r) => writeRun(r, record.run));
  } else if ('config' in record) {
    w.message(F.Record.config, (c) => writeChange(c, record.config));
  } else if ('summary' in record) {
    w.message(F.Record.summary, (s) => writeChange(s, record.summary));
  } else if ('history' in record) {
    const { items, step } = record.history;
    w.message(F.Record.history, (h) => {
      for (const item of items) h.message(F.HistoryRecord.item, (i) => writeItem(i, item));
      if (step !== undefined)
        h.message(F.HistoryRecord.step, (s) => s.int64(F.HistoryStep.num, step));
    });
  } else if ('files' in record) {
    w.message(F.Record.files, (fr) => {
      for (const file of record.files.files) {
        fr.message(F.FilesRecord.files, (f) =>
          f
            .string(F.FilesItem.path, file.path)
            .int32(F.FilesItem.policy, WANDB_FILE_POLICY[file.policy ?? 'now'])
            .int32(F.FilesItem.type, WANDB_FILE_TYPE[file.type ?? 'other']),
        );
      }
    });
  } else if ('outputRaw' in record) {
    const { stream, timestampMs, text } = record.outputRaw;
    const { seconds, nanos } = timestampOf(timestampMs);
    w.message(F.Record.output_raw, (o) =>
      o
        .int32(F.OutputRawRecord.output_type, WANDB_OUTPUT_TYPE[stream])
        .message(F.OutputRawRecord.timestamp, (t) =>
          t.int64(F.Timestamp.seconds, seconds).int32(F.Timestamp.nanos, nanos),
        )
        .string(F.OutputRawRecord.line, text),
    );
  } else if ('exit' in record) {
    const { exitCode, runtime = 0 } = record.exit;
    w.message(F.Record.exit, (e) =>
      e.int32(F.RunExitRecord.exit_code, exitCode).int32(F.RunExitRecord.runtime, runtime),
    );
  } else {
    throw new TypeError('encodeRecord: the record has no known type');
  }
  return w.finish();
}

/** Reused by encodeHistoryRow: a row costs no buffer allocations. */
const rowItems = new ProtobufWriter(4096);
const rowSummary = new ProtobufWriter(4096);
const rowHistory = new ProtobufWriter(4096);

/**
 * A history row as wandb-core writes it: the summary record with the row's
 * items (`num`), then the history record (`num + 1`). The same bytes as
 * `encodeRecord({ num, summary: { update: items } })` and
 * `encodeRecord({ num: num + 1, history: { items, step } })`, with the items
 * encoded once (SummaryRecord.update and HistoryRecord.item are both field 1
 * of the same item shape). The two arrays are views into buffers that the
 * next call reuses: append (copy) them before encoding another row.
 */
export function encodeHistoryRow(
  num: number,
  items: readonly WandbItem[],
  step: number,
): { summary: Uint8Array; history: Uint8Array } {
  rowItems.clear();
  for (const item of items) rowItems.message(F.HistoryRecord.item, (i) => writeItem(i, item));
  const itemBytes = rowItems.view();
  const summary = rowSummary
    .clear()
    .int64(F.Record.num, num)
    .bytes(F.Record.summary, itemBytes, true)
    .view();
  const history = rowHistory
    .clear()
    .int64(F.Record.num, num + 1)
    .message(F.Record.history, (h) =>
      h.encoded(itemBytes).message(F.HistoryRecord.step, (s) => s.int64(F.HistoryStep.num, step)),
    )
    .view();
  return { summary, history };
}

function writeRun(w: ProtobufWriter, run: WandbRunRecord): void {
  const R = F.RunRecord;
  w.string(R.run_id, run.runId)
    .string(R.entity, run.entity ?? '')
    .string(R.project, run.project ?? '');
  if (run.config) {
    const config = run.config;
    w.message(R.config, (c) => writeChange(c, { update: config }));
  }
  w.string(R.run_group, run.runGroup ?? '')
    .string(R.job_type, run.jobType ?? '')
    .string(R.display_name, run.displayName ?? '')
    .string(R.notes, run.notes ?? '')
    .repeatedString(R.tags, run.tags ?? [])
    .string(R.host, run.host ?? '')
    .int64(R.starting_step, run.startingStep ?? 0);
  if (run.startTimeMs !== undefined) {
    const { seconds, nanos } = timestampOf(run.startTimeMs);
    w.message(R.start_time, (t) =>
      t.int64(F.Timestamp.seconds, seconds).int32(F.Timestamp.nanos, nanos),
    );
  }
}

function writeChange(w: ProtobufWriter, change: WandbChangeRecord): void {
  for (const item of change.update ?? []) {
    w.message(F.ConfigRecord.update, (i) => writeItem(i, item));
  }
  for (const item of change.remove ?? []) {
    w.message(F.ConfigRecord.remove, (i) => writeItem(i, item));
  }
}

function writeItem(w: ProtobufWriter, item: WandbItem): void {
  w.string(F.HistoryItem.key, item.key ?? '')
    .repeatedString(F.HistoryItem.nested_key, item.nestedKey ?? [])
    .string(F.HistoryItem.value_json, item.valueJson);
}

/** A google.protobuf.Timestamp for epoch milliseconds. */
export function timestampOf(epochMs: number): { seconds: number; nanos: number } {
  if (!Number.isFinite(epochMs)) throw new RangeError(`invalid timestamp ${epochMs}`);
  const seconds = Math.floor(epochMs / 1000);
  const nanos = Math.round((epochMs - seconds * 1000) * 1e6);
  // Rounding can carry into the next second.
  return nanos >= 1e9 ? { seconds: seconds + 1, nanos: nanos - 1e9 } : { seconds, nanos };
}

/**
 * A metric value as wandb-core writes it into history (Go's
 * `strconv.FormatFloat(x, 'g', -1, 64)`): shortest round-trip digits, exponent
 * form below 1e-4 and from 1e6 (`1e+06`, `1.5e-05`), and NaN, Infinity,
 * -Infinity as bare words. A Python int keeps its digits in the SDK; a JS
 * number cannot say whether it was one, so `1000000` is written `1e+06`, which
 * is the same JSON number.
 */
export function formatWandbNumber(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  // Within [1e-4, 1e6) JS's shortest decimal is already Go's %f form (the common case: no
  // toExponential; the shortest digits of a double in the range never print as a bound).
  const magnitude = Math.abs(x);
  if (magnitude >= 1e-4 && magnitude < 1e6) return String(x);
  const [mantissa, exponentText] = x.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  // Within [1e-4, 1e6) JS's shortest decimal is already Go's %f form.
  if (exponent >= -4 && exponent < 6) return String(x);
  const sign = exponent < 0 ? '-' : '+';
  return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

/**
 * JSON text of a config or summary value, as the SDK writes it: compact, NaN
 * and ±Infinity inside become null (JSON.stringify's rule and the SDK's).
 */
export function toValueJson(value: unknown, what = 'value'): string {
  const json = JSON.stringify(value);
  if (json === undefined) {
    throw new TypeError(`${what}: ${typeof value} is not a JSON value`);
  }
  return json;
}

/** ConfigItems (or SummaryItems) for a flat update: one item per top-level key. */
export function keyedItems(update: Readonly<Record<string, unknown>>, what: string): WandbItem[] {
  return Object.entries(update).map(([key, value]) => ({
    key,
    valueJson: toValueJson(value, `${what} ${JSON.stringify(key)}`),
  }));
}
