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
import { grownBuffer, ProtobufWriter, varintSize } from './wandb-protobuf.js';

/** Field numbers of the messages trackstack writes (wandb 0.30.0). */
export const WANDB_FIELDS = {
  Record: {
    num: 1,
    history: 2,
    summary: 3,
    config: 5,
    files: 6,
    stats: 7,
    artifact: 8,
    output_raw: 13,
    control: 16,
    run: 17,
    exit: 18,
    uuid: 19,
    header: 21,
    environment: 26,
    _info: 200,
  },
  _RecordInfo: { stream_id: 1 },
  Control: { always_send: 5 },
  StatsRecord: { stats_type: 1, timestamp: 2, item: 3 },
  StatsItem: { key: 1, value_json: 16 },
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
    git: 21,
  },
  GitRepoRecord: { remote_url: 1, commit: 2 },
  EnvironmentRecord: {
    os: 1,
    started_at: 3,
    args: 5,
    program: 6,
    code_path: 7,
    code_path_local: 8,
    git: 9,
    root: 11,
    host: 12,
    username: 13,
    executable: 14,
    writer_id: 199,
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
  ArtifactRecord: {
    run_id: 1,
    project: 2,
    entity: 3,
    type: 4,
    name: 5,
    digest: 6,
    aliases: 11,
    manifest: 12,
    finalize: 14,
    client_id: 15,
    sequence_client_id: 16,
    digest_algorithm: 20,
  },
  ArtifactManifest: { version: 1, storage_policy: 2, storage_policy_config: 3, contents: 4 },
  StoragePolicyConfigItem: { key: 1, value_json: 2 },
  ArtifactManifestEntry: { path: 1, digest: 2, size: 4, local_path: 6 },
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

interface WandbHeaderRecord {
  /** The writer's version; wandb-core writes `0.30.0+<commit>`. Not read by `wandb sync`. */
  producer: string;
  /** wandb-core writes its minimum server version here (`0.70.0`). */
  minConsumer?: string;
}

interface WandbRunRecord {
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
  /** `wandb sync` sends them with UpsertBucket (`commit`, `repo`). */
  git?: WandbGitRecord;
}

interface WandbGitRecord {
  remote?: string;
  commit?: string;
}

/** A system-metrics sample (`StatsRecord`, type SYSTEM); items are W&B's keys without `system.`. */
interface WandbStatsRecord {
  /** Epoch milliseconds. */
  timestampMs: number;
  items: readonly { key: string; valueJson: string }[];
}

/** `EnvironmentRecord` (wandb-metadata.json's fields, wandb-metadata.ts), and its writer. */
interface WandbEnvironmentRecord {
  os?: string;
  /** Epoch milliseconds. */
  startedAtMs?: number;
  args?: readonly string[];
  program?: string;
  codePath?: string;
  codePathLocal?: string;
  git?: WandbGitRecord;
  root?: string;
  host?: string;
  username?: string;
  executable?: string;
  /** wandb-core's id of the process that wrote it (32 characters of [a-z0-9]). */
  writerId?: string;
}

interface WandbChangeRecord {
  update?: readonly WandbItem[];
  remove?: readonly WandbItem[];
}

interface WandbHistoryRecord {
  items: readonly WandbItem[];
  /** `HistoryRecord.step`; wandb-core always sets it (an empty submessage for step 0). */
  step?: number;
}

interface WandbFilesItem {
  /** Relative to the run's `files/` directory, with `/` separators. */
  path: string;
  policy?: WandbFilePolicy;
  type?: WandbFileType;
}

interface WandbExitRecord {
  exitCode: number;
  /** Whole seconds. */
  runtime?: number;
}

/**
 * Console text as the SDK captures it (`console="wrap"`): raw chunks, `\n`
 * and `\r` included, which wandb-core's terminal emulator turns into
 * `output.log` lines when the run is synced.
 */
interface WandbOutputRawRecord {
  stream: WandbOutputType;
  /** Epoch milliseconds. */
  timestampMs: number;
  text: string;
}

/** An artifact to create and commit when the run is synced (`run.log_artifact`, a table's run_table). */
interface WandbArtifactRecord {
  runId: string;
  project: string;
  entity?: string;
  type: string;
  name: string;
  /** MANIFEST_MD5 of the entries. */
  digest: string;
  aliases: readonly string[];
  clientId: string;
  sequenceClientId: string;
  /** Files on this machine: `wandb sync` uploads them from `localPath`. */
  entries: readonly { path: string; digest: string; size: number; localPath: string }[];
}

export type WandbRecordBody =
  | { header: WandbHeaderRecord }
  | { run: WandbRunRecord }
  | { config: WandbChangeRecord }
  | { summary: WandbChangeRecord }
  | { history: WandbHistoryRecord }
  | { files: { files: readonly WandbFilesItem[] } }
  | { exit: WandbExitRecord }
  | { outputRaw: WandbOutputRawRecord }
  | { environment: WandbEnvironmentRecord }
  | { stats: WandbStatsRecord }
  | { artifact: WandbArtifactRecord };

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
  // wandb-core sends stats records however the run is synced (`control.always_send`).
  if ('stats' in record) w.message(F.Record.control, (c) => c.bool(F.Control.always_send, true));
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
  } else if ('stats' in record) {
    const { timestampMs, items } = record.stats;
    const { seconds, nanos } = timestampOf(timestampMs);
    w.message(F.Record.stats, (st) => {
      // stats_type SYSTEM is 0, the default: not written.
      st.message(F.StatsRecord.timestamp, (t) =>
        t.int64(F.Timestamp.seconds, seconds).int32(F.Timestamp.nanos, nanos),
      );
      for (const item of items) {
        st.message(F.StatsRecord.item, (i) =>
          i.string(F.StatsItem.key, item.key).string(F.StatsItem.value_json, item.valueJson),
        );
      }
    });
  } else if ('artifact' in record) {
    w.message(F.Record.artifact, (a) => writeArtifact(a, record.artifact));
  } else if ('environment' in record) {
    w.message(F.Record.environment, (e) => writeEnvironment(e, record.environment));
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

function writeArtifact(w: ProtobufWriter, artifact: WandbArtifactRecord): void {
  const A = F.ArtifactRecord;
  const M = F.ArtifactManifest;
  const E = F.ArtifactManifestEntry;
  w.string(A.run_id, artifact.runId)
    .string(A.project, artifact.project)
    .string(A.entity, artifact.entity ?? '')
    .string(A.type, artifact.type)
    .string(A.name, artifact.name)
    .string(A.digest, artifact.digest)
    .repeatedString(A.aliases, artifact.aliases)
    .message(A.manifest, (m) => {
      m.int32(M.version, 1)
        .string(M.storage_policy, 'wandb-storage-policy-v1')
        .message(M.storage_policy_config, (c) =>
          c
            .string(F.StoragePolicyConfigItem.key, 'storageLayout')
            .string(F.StoragePolicyConfigItem.value_json, '"V2"'),
        );
      for (const entry of artifact.entries) {
        m.message(M.contents, (e) =>
          e
            .string(E.path, entry.path)
            .string(E.digest, entry.digest)
            .int64(E.size, entry.size)
            .string(E.local_path, entry.localPath),
        );
      }
    })
    .bool(A.finalize, true)
    .string(A.client_id, artifact.clientId)
    .string(A.sequence_client_id, artifact.sequenceClientId)
    .string(A.digest_algorithm, 'MANIFEST_MD5');
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
  const git = run.git;
  if (git !== undefined) w.message(R.git, (g) => writeGit(g, git));
}

function writeGit(w: ProtobufWriter, git: WandbGitRecord): void {
  w.string(F.GitRepoRecord.remote_url, git.remote ?? '').string(
    F.GitRepoRecord.commit,
    git.commit ?? '',
  );
}

function writeEnvironment(w: ProtobufWriter, env: WandbEnvironmentRecord): void {
  const E = F.EnvironmentRecord;
  w.string(E.os, env.os ?? '');
  if (env.startedAtMs !== undefined) {
    const { seconds, nanos } = timestampOf(env.startedAtMs);
    w.message(E.started_at, (t) =>
      t.int64(F.Timestamp.seconds, seconds).int32(F.Timestamp.nanos, nanos),
    );
  }
  w.repeatedString(E.args, env.args ?? [])
    .string(E.program, env.program ?? '')
    .string(E.code_path, env.codePath ?? '')
    .string(E.code_path_local, env.codePathLocal ?? '');
  const git = env.git;
  if (git !== undefined) w.message(E.git, (g) => writeGit(g, git));
  w.string(E.root, env.root ?? '')
    .string(E.host, env.host ?? '')
    .string(E.username, env.username ?? '')
    .string(E.executable, env.executable ?? '')
    .string(E.writer_id, env.writerId ?? '');
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
function toValueJson(value: unknown, what = 'value'): string {
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

const utf8 = new TextEncoder();

/**
 * A history key as a row encodes it: the `nested_key` field's bytes, made
 * once. `stamp` and `slot` say where the key sits in the row being built
 * (HistoryRowEncoder's bookkeeping: a key set twice in a row keeps its place).
 */
export interface HistoryKey {
  readonly name: string;
  /** `HistoryItem.nested_key` (field 2): tag, length, UTF-8 bytes. */
  readonly bytes: Uint8Array;
  stamp: number;
  slot: number;
  /** The cache generation it is in (HistoryRowEncoder starts over past MAX_CACHED_KEYS). */
  generation: number;
}

/** Keys kept encoded; past this many, the cache starts over at the next row. */
const MAX_CACHED_KEYS = 10_000;

/**
 * Builds history rows and encodes each as wandb-core writes it: the summary
 * record with the row's items (`num`), then the history record (`num + 1`),
 * byte for byte what `encodeRecord` makes of `{ summary: { update: items } }`
 * and `{ history: { items, step } }` with the items `[...values,
 * _timestamp, _runtime, _step]` (values through `formatWandbNumber`). No
 * objects per row: keys' bytes are cached, values are written as ASCII
 * straight into one reused buffer, and the `_timestamp`/`_runtime` items are
 * reused while the timestamp stays the same.
 */
export class HistoryRowEncoder {
  private readonly keys = new Map<string, HistoryKey>();
  private rowKeys: HistoryKey[] = [];
  private rowValues: number[] = [];
  private rowLength = 0;
  /** Encoded HistoryItems of the row's non-number values (media), by key: a key set again replaces them. */
  private readonly rowExtras = new Map<string, Uint8Array>();
  private stamp = 0;
  private generation = 0;
  private buf = new Uint8Array(4096);
  private len = 0;
  /** ASCII of one formatted number. */
  private readonly digits = new Uint8Array(32);
  /** The 15 significant digits formatShort works on. */
  private readonly all = new Uint8Array(15);
  private timeItemsFor = Number.NaN;
  private timeItems = new Uint8Array(0);

  constructor(private readonly startTimeMs: number) {}

  /** The key's cached entry, or a new one (`undefined` for a key W&B reserves). */
  key(name: string): HistoryKey | undefined {
    const cached = this.keys.get(name);
    if (cached !== undefined) return cached;
    if (name === '_step' || name === '_runtime' || name === '_timestamp') return undefined;
    const entry: HistoryKey = {
      name,
      bytes: nestedKeyBytes(name),
      stamp: 0,
      slot: 0,
      generation: this.generation,
    };
    this.keys.set(name, entry);
    return entry;
  }

  /** Starts a new, empty row. */
  startRow(): void {
    this.stamp += 1;
    this.rowLength = 0;
    this.rowExtras.clear();
    if (this.keys.size > MAX_CACHED_KEYS) {
      this.keys.clear();
      this.generation += 1;
    }
  }

  /** Sets a value in the current row: a key already in it keeps its place. */
  set(key: HistoryKey, value: number): void {
    if (key.stamp === this.stamp) {
      this.rowValues[key.slot] = value;
      return;
    }
    if (key.generation !== this.generation) {
      // Looked up before the cache started over: back in, so the row never holds a key twice.
      key.generation = this.generation;
      this.keys.set(key.name, key);
    }
    key.stamp = this.stamp;
    key.slot = this.rowLength;
    this.rowKeys[this.rowLength] = key;
    this.rowValues[this.rowLength] = value;
    this.rowLength += 1;
  }

  /**
   * Sets a value that is not a number (a media value) in the current row, as
   * the items wandb-core writes for it: one per field, `nested_key` [key, field].
   */
  setItems(name: string, items: readonly WandbItem[]): void {
    const w = new ProtobufWriter(256);
    for (const item of items) w.message(F.HistoryRecord.item, (i) => writeItem(i, item));
    this.rowExtras.set(name, w.finish());
  }

  /**
   * Encodes the current row; `emit` gets the summary record's bytes, then the
   * history record's: views into a buffer the next row reuses (copy them).
   */
  encodeRow(
    num: number,
    step: number,
    timestampMs: number,
    emit: (payload: Uint8Array) => void,
  ): void {
    // Items start after room for either record's header (≤ 1 + 10 + 1 + 10 bytes).
    const head = 24;
    this.len = head;
    const n = this.rowLength;
    for (let i = 0; i < n; i++) {
      const key = this.rowKeys[i]!;
      this.item(key.bytes, this.formatNumber(this.rowValues[i]!));
    }
    for (const items of this.rowExtras.values()) this.raw(items);
    if (timestampMs !== this.timeItemsFor) this.encodeTimeItems(timestampMs);
    this.raw(this.timeItems);
    this.item(STEP_KEY, this.formatInteger(step));
    const itemsEnd = this.len;
    const itemsLength = itemsEnd - head;
    // Summary: num, then field 3 (SummaryRecord: its `update` items).
    let at = head - varintSize(itemsLength);
    writeVarint(this.buf, at, itemsLength);
    this.buf[--at] = (F.Record.summary << 3) | 2;
    at -= varintSize(num);
    writeVarint(this.buf, at, num);
    this.buf[--at] = (F.Record.num << 3) | 0;
    emit(this.buf.subarray(at, itemsEnd));
    // History: num + 1, then field 2 (HistoryRecord: the items, then `step`).
    const stepInner = step === 0 ? 0 : 1 + varintSize(step);
    this.reserve(2 + stepInner);
    let end = itemsEnd;
    this.buf[end++] = (F.HistoryRecord.step << 3) | 2;
    this.buf[end++] = stepInner;
    if (step !== 0) {
      this.buf[end++] = (F.HistoryStep.num << 3) | 0;
      end = writeVarint(this.buf, end, step);
    }
    const historyLength = end - head;
    at = head - varintSize(historyLength);
    writeVarint(this.buf, at, historyLength);
    this.buf[--at] = (F.Record.history << 3) | 2;
    at -= varintSize(num + 1);
    writeVarint(this.buf, at, num + 1);
    this.buf[--at] = (F.Record.num << 3) | 0;
    emit(this.buf.subarray(at, end));
    this.rowLength = 0;
    this.rowExtras.clear();
  }

  /** `_timestamp` and `_runtime` items for a timestamp, kept for the rows that share it. */
  private encodeTimeItems(timestampMs: number): void {
    const start = this.len;
    this.item(TIMESTAMP_KEY, this.formatNumber(timestampMs / 1000));
    this.item(RUNTIME_KEY, this.formatNumber(Math.max(0, timestampMs - this.startTimeMs) / 1000));
    this.timeItems = this.buf.slice(start, this.len);
    this.timeItemsFor = timestampMs;
    this.len = start;
  }

  /** One HistoryItem (field 1): the nested key's bytes, then `value_json` from `digits`. */
  private item(keyBytes: Uint8Array, valueLength: number): void {
    const inner = keyBytes.length + 3 + valueLength;
    this.reserve(inner + 11);
    const buf = this.buf;
    let at = this.len;
    buf[at++] = (F.HistoryRecord.item << 3) | 2;
    at = writeVarint(buf, at, inner);
    buf.set(keyBytes, at);
    at += keyBytes.length;
    // value_json is field 16: a two-byte tag.
    buf[at++] = 0x82;
    buf[at++] = 0x01;
    buf[at++] = valueLength;
    const digits = this.digits;
    for (let i = 0; i < valueLength; i++) buf[at++] = digits[i]!;
    this.len = at;
  }

  private raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** formatWandbNumber(x)'s ASCII into `digits`; returns its length. */
  private formatNumber(x: number): number {
    const magnitude = Math.abs(x);
    if (magnitude < 1e6 && Number.isInteger(x) && !(x === 0 && 1 / x < 0)) {
      return this.formatInteger(x);
    }
    if (magnitude >= 1e-4 && magnitude < 1e6) {
      const length = this.formatShort(x, magnitude);
      return length > 0 ? length : this.ascii(String(x));
    }
    return this.ascii(formatWandbNumber(x));
  }

  /**
   * String(x) for 1e-4 ≤ |x| < 1e6 when x round-trips through a decimal of
   * at most 15 significant digits, without making the string; 0 otherwise.
   * Such a decimal is the only one of ≤ 15 digits that reads back as x (15
   * digits always survive decimal → double → decimal), so it is also the
   * shortest, which is what String(x) prints. `r / 10^k === x` is the exact
   * read-back test: r and 10^k are exact doubles and division rounds
   * correctly, as reading the decimal does.
   */
  private formatShort(x: number, magnitude: number): number {
    // e: the decimal exponent of the leading digit, -4..5.
    let e = 5;
    while (e > -4 && magnitude < POWERS_OF_TEN[e + 4]!) e -= 1;
    const scale = EXACT_POWERS[14 - e]!;
    const r = Math.round(magnitude * scale);
    if (r < 1e14 || r >= 1e15 || r / scale !== magnitude) return 0;
    // r's 15 digits, most significant first, as two integer halves.
    const high = Math.floor(r / 1e8); // 7 digits
    let low = r - high * 1e8; // 8 digits
    const all = this.all;
    let h = high;
    for (let i = 6; i >= 0; i--) {
      const q = (h / 10) | 0;
      all[i] = h - q * 10;
      h = q;
    }
    for (let i = 14; i >= 7; i--) {
      const q = (low / 10) | 0;
      all[i] = low - q * 10;
      low = q;
    }
    let last = 14;
    while (all[last] === 0) last -= 1;
    const digits = this.digits;
    let at = 0;
    if (x < 0) digits[at++] = 0x2d;
    if (e >= 0) {
      // e + 1 digits before the point.
      for (let i = 0; i <= e; i++) digits[at++] = 0x30 + all[i]!;
      if (last > e) {
        digits[at++] = 0x2e;
        for (let i = e + 1; i <= last; i++) digits[at++] = 0x30 + all[i]!;
      }
    } else {
      digits[at++] = 0x30;
      digits[at++] = 0x2e;
      for (let i = -1; i > e; i--) digits[at++] = 0x30;
      for (let i = 0; i <= last; i++) digits[at++] = 0x30 + all[i]!;
    }
    return at;
  }

  /** A safe integer's decimal digits into `digits`. */
  private formatInteger(x: number): number {
    const digits = this.digits;
    let at = 0;
    if (x < 0) {
      digits[at++] = 0x2d;
      x = -x;
    }
    if (x < 10) {
      digits[at++] = 0x30 + x;
      return at;
    }
    let end = at;
    for (let v = x; v >= 10; v = Math.floor(v / 10)) end += 1;
    const length = end + 1;
    for (let v = x; end >= at; end--) {
      const q = Math.floor(v / 10);
      digits[end] = 0x30 + (v - q * 10);
      v = q;
    }
    return length;
  }

  private ascii(text: string): number {
    const digits = this.digits;
    const n = text.length;
    for (let i = 0; i < n; i++) digits[i] = text.charCodeAt(i);
    return n;
  }

  private reserve(n: number): void {
    this.buf = grownBuffer(this.buf, this.len, n);
  }
}

/** `HistoryItem.nested_key` with one element: tag, length, UTF-8 bytes. */
function nestedKeyBytes(name: string): Uint8Array {
  const text = utf8.encode(name);
  const out = new Uint8Array(1 + varintSize(text.length) + text.length);
  out[0] = (F.HistoryItem.nested_key << 3) | 2;
  const at = writeVarint(out, 1, text.length);
  out.set(text, at);
  return out;
}

/** 1e-4 .. 1e5 (the leading-digit bounds formatShort compares with). */
const POWERS_OF_TEN = [1e-4, 1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4, 1e5];
/** 10^0 .. 10^18: every one an exact double. */
const EXACT_POWERS = Array.from({ length: 19 }, (_, i) => 10 ** i);

const STEP_KEY = nestedKeyBytes('_step');
const TIMESTAMP_KEY = nestedKeyBytes('_timestamp');
const RUNTIME_KEY = nestedKeyBytes('_runtime');

/** A non-negative safe integer's varint at `at`; returns the offset after it. */
function writeVarint(buf: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    buf[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buf[at++] = value;
  return at;
}
