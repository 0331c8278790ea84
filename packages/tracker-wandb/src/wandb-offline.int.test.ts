/**
 * Offline runs written by WandbOfflineRun, read back by the real W&B SDK
 * (wandb 0.30.0, pinned, from PyPI, in a cached virtual environment): its Go
 * core's transaction-log reader (`wandb leet inspect`, the reader `wandb sync`
 * uses) and its protobuf classes, through `__fixtures__/wandb_read_offline.py`.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import {
  ensurePythonEnv,
  type PythonEnv,
  runPython,
  WANDB_REQUIREMENTS,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WandbOfflineRun } from './wandb-offline-run.js';
import {
  encodeRecord,
  WANDB_FIELDS,
  WANDB_FILE_POLICY,
  WANDB_FILE_TYPE,
  WANDB_OUTPUT_TYPE,
} from './wandb-records.js';
import {
  WANDB_LOG_BLOCK_SIZE as BLOCK,
  CHUNK_FIRST,
  CHUNK_FULL,
  CHUNK_LAST,
  CHUNK_MIDDLE,
  frameRecord,
  scanWandbTransactionLog,
  WandbTransactionLogWriter,
} from './wandb-transaction-log.js';

const READER = join(import.meta.dirname, '__fixtures__', 'wandb_read_offline.py');

interface Item {
  key: string;
  nested_key: string[];
  value_json: string;
}
interface SdkRecord {
  type: string;
  num: number;
  stream_id: string;
  [field: string]: unknown;
}
interface SdkReport {
  ok: boolean;
  error?: string;
  size: number;
  header: { ident: string; magic: number; version: number };
  chunks: [offset: number, type: number, length: number][];
  records: SdkRecord[];
  view: {
    config: Record<string, unknown>;
    history: Record<string, unknown>[];
    summary: Record<string, unknown>;
    files: string[];
    exit: { exit_code: number; runtime: number } | null;
  };
}

let env: PythonEnv;
let dir: string;

beforeAll(async () => {
  env = await ensurePythonEnv({ name: 'wandb', requirements: WANDB_REQUIREMENTS });
  dir = await mkdtemp(join(tmpdir(), 'trackstack-wandb-offline-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function readWithSdk(path: string): Promise<SdkReport> {
  const result = await runPython(env, READER, [path]);
  if (result.code !== 0) throw new Error(`wandb_read_offline.py failed:\n${result.stderr}`);
  const report = JSON.parse(result.stdout) as SdkReport;
  if (!report.ok) throw new Error(`the W&B SDK could not read ${path}: ${report.error}`);
  return report;
}

/** Non-finite numbers as the reader spells them (JSON has no NaN). */
function plain(x: number): number | string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  return x;
}

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0, 250);

/** The protobuf type of every field in WANDB_FIELDS, from wandb_internal.proto. */
const FIELD_TYPES: {
  [M in keyof typeof WANDB_FIELDS]: Record<keyof (typeof WANDB_FIELDS)[M], string>;
} = {
  Record: {
    num: 'int64',
    history: 'message',
    summary: 'message',
    config: 'message',
    files: 'message',
    stats: 'message',
    artifact: 'message',
    output_raw: 'message',
    control: 'message',
    run: 'message',
    exit: 'message',
    uuid: 'string',
    header: 'message',
    environment: 'message',
    _info: 'message',
  },
  _RecordInfo: { stream_id: 'string' },
  Control: { always_send: 'bool' },
  StatsRecord: { stats_type: 'enum', timestamp: 'message', item: 'message' },
  StatsItem: { key: 'string', value_json: 'string' },
  HeaderRecord: { version_info: 'message' },
  VersionInfo: { producer: 'string', min_consumer: 'string' },
  RunRecord: {
    run_id: 'string',
    entity: 'string',
    project: 'string',
    config: 'message',
    run_group: 'string',
    job_type: 'string',
    display_name: 'string',
    notes: 'string',
    tags: 'string',
    host: 'string',
    starting_step: 'int64',
    start_time: 'message',
    git: 'message',
  },
  GitRepoRecord: { remote_url: 'string', commit: 'string' },
  EnvironmentRecord: {
    os: 'string',
    started_at: 'message',
    args: 'string',
    program: 'string',
    code_path: 'string',
    code_path_local: 'string',
    git: 'message',
    root: 'string',
    host: 'string',
    username: 'string',
    executable: 'string',
    writer_id: 'string',
  },
  Timestamp: { seconds: 'int64', nanos: 'int32' },
  ConfigRecord: { update: 'message', remove: 'message' },
  ConfigItem: { key: 'string', nested_key: 'string', value_json: 'string' },
  SummaryRecord: { update: 'message', remove: 'message' },
  SummaryItem: { key: 'string', nested_key: 'string', value_json: 'string' },
  HistoryRecord: { item: 'message', step: 'message' },
  HistoryItem: { key: 'string', nested_key: 'string', value_json: 'string' },
  HistoryStep: { num: 'int64' },
  FilesRecord: { files: 'message' },
  FilesItem: { path: 'string', policy: 'enum', type: 'enum' },
  ArtifactRecord: {
    run_id: 'string',
    project: 'string',
    entity: 'string',
    type: 'string',
    name: 'string',
    digest: 'string',
    aliases: 'string',
    manifest: 'message',
    finalize: 'bool',
    client_id: 'string',
    sequence_client_id: 'string',
    digest_algorithm: 'string',
  },
  ArtifactManifest: {
    version: 'int32',
    storage_policy: 'string',
    storage_policy_config: 'message',
    contents: 'message',
  },
  StoragePolicyConfigItem: { key: 'string', value_json: 'string' },
  ArtifactManifestEntry: { path: 'string', digest: 'string', size: 'int64', local_path: 'string' },
  RunExitRecord: { exit_code: 'int32', runtime: 'int32' },
  OutputRawRecord: { output_type: 'enum', timestamp: 'message', line: 'string' },
};
const REPEATED = new Set([
  'RunRecord.tags',
  'EnvironmentRecord.args',
  'StatsRecord.item',
  'ConfigRecord.update',
  'ConfigRecord.remove',
  'ConfigItem.nested_key',
  'SummaryRecord.update',
  'SummaryRecord.remove',
  'SummaryItem.nested_key',
  'HistoryRecord.item',
  'HistoryItem.nested_key',
  'FilesRecord.files',
  'ArtifactRecord.aliases',
  'ArtifactManifest.storage_policy_config',
  'ArtifactManifest.contents',
]);

describe('the SDK descriptors', () => {
  it('give every field trackstack writes the number, type and cardinality in WANDB_FIELDS', async () => {
    const result = await runPython(env, READER, ['--fields']);
    expect(result.code, result.stderr).toBe(0);
    const sdk = JSON.parse(result.stdout) as {
      messages: Record<string, Record<string, { number: number; type: string; repeated: boolean }>>;
      enums: Record<string, Record<string, number>>;
    };
    const ours: Record<string, unknown> = {};
    const theirs: Record<string, unknown> = {};
    for (const [message, fields] of Object.entries(WANDB_FIELDS)) {
      const types = FIELD_TYPES[message as keyof typeof WANDB_FIELDS] as Record<string, string>;
      for (const [name, number] of Object.entries(fields)) {
        const id = `${message}.${name}`;
        ours[id] = { number, type: types[name], repeated: REPEATED.has(id) };
        const field = sdk.messages[message]?.[name];
        theirs[id] = field && { number: field.number, type: field.type, repeated: field.repeated };
      }
    }
    expect(ours).toEqual(theirs);
    expect(sdk.enums.PolicyType).toEqual({ NOW: 0, END: 1, LIVE: 2 });
    expect(sdk.enums.FileType).toEqual({ OTHER: 0, WANDB: 1, MEDIA: 2, ARTIFACT: 3 });
    expect(WANDB_FILE_POLICY).toEqual({ now: 0, end: 1, live: 2 });
    expect(sdk.enums.OutputType).toEqual({ STDERR: 0, STDOUT: 1 });
    expect(WANDB_OUTPUT_TYPE).toEqual({ stdout: 1, stderr: 0 });
    expect(WANDB_FILE_TYPE).toEqual({ other: 0, wandb: 1, media: 2, artifact: 3 });
  });
});

describe('WandbOfflineRun, read back by the W&B SDK', () => {
  it('writes header, run, config, history (NaN, ±Infinity), summary, files and exit exactly', async () => {
    const source = join(dir, 'model.json');
    await writeFile(source, '{"weights":[1,2,3]}');
    const run = WandbOfflineRun.create({
      dir,
      project: 'iris',
      entity: 'team',
      runId: 'abc123xy',
      displayName: 'baseline λ',
      group: 'pipeline-1',
      jobType: 'train',
      notes: 'first try 🚀',
      tags: ['a', 'trackstack.uid=0190'],
      config: { lr: 0.001, layers: [64, 32], optimizer: { name: 'adam' }, nan: Number.NaN },
      host: 'box',
      startTimeMs: T0,
      producer: 'test',
    });
    expect(basename(run.runDir)).toMatch(/^offline-run-\d{8}_\d{6}-abc123xy$/);
    expect(readFileSync(`${run.logPath}.syncstate`, 'utf8')).toBe(
      '{"starting_step":0,"starting_runtime":0}',
    );

    expect(run.history(0, { loss: 1.5, acc: 0.25 }, T0 + 1000)).toBe(true);
    expect(run.history(0, { 'val/loss': 2 }, T0 + 1500)).toBe(true); // merged into step 0
    expect(run.history(1, { loss: Number.NaN, acc: Number.POSITIVE_INFINITY }, T0 + 2000)).toBe(
      true,
    );
    run.config({ batch: 32, optimizer: { name: 'sgd', momentum: 0.9 } });
    expect(run.history(0, { loss: 9 }, T0 + 2500)).toBe(false); // lower step: dropped
    expect(run.history(5, { loss: Number.NEGATIVE_INFINITY, λ: -0 }, T0 + 3000)).toBe(true);
    run.summary({ best: 0.5, note: 'ok', bad: Number.NaN });
    run.file('model.json', source);
    run.file('nested/dir/model.json', source, 'end');
    run.exit(0, T0 + 65_000);
    run.close();

    const report = await readWithSdk(run.logPath);
    expect(report.header).toEqual({ ident: ':W&B', magic: 0xbee1, version: 0 });
    expect(report.records.map((r) => r.type)).toEqual([
      'header',
      'run',
      'summary',
      'history',
      'config',
      'summary',
      'history',
      'summary',
      'files',
      'files',
      'summary',
      'history',
      'summary',
      'exit',
    ]);
    expect(report.records.map((r) => r.num)).toEqual(report.records.map((_, i) => i + 1));
    expect(report.records[0]).toMatchObject({ producer: 'test', stream_id: 'abc123xy' });
    expect(report.records[1]).toEqual({
      type: 'run',
      num: 2,
      stream_id: 'abc123xy',
      run_id: 'abc123xy',
      entity: 'team',
      project: 'iris',
      display_name: 'baseline λ',
      run_group: 'pipeline-1',
      job_type: 'train',
      notes: 'first try 🚀',
      tags: ['a', 'trackstack.uid=0190'],
      host: 'box',
      starting_step: 0,
      start_time: { seconds: Math.floor(T0 / 1000), nanos: 250_000_000 },
      config: [
        { key: '_wandb', nested_key: [], value_json: '{}' },
        { key: 'lr', nested_key: [], value_json: '0.001' },
        { key: 'layers', nested_key: [], value_json: '[64,32]' },
        { key: 'optimizer', nested_key: [], value_json: '{"name":"adam"}' },
        { key: 'nan', nested_key: [], value_json: 'null' },
      ],
    });

    // History rows are the SDK's shape: nested_key items, _step also as HistoryRecord.step.
    const step0 = report.records[3]!;
    expect(step0.step).toBe(0);
    expect(step0.stream_id).toBe('');
    expect(step0.items).toEqual([
      { key: '', nested_key: ['loss'], value_json: '1.5' },
      { key: '', nested_key: ['acc'], value_json: '0.25' },
      { key: '', nested_key: ['val/loss'], value_json: '2' },
      { key: '', nested_key: ['_timestamp'], value_json: '1.76847840175e+09' },
      { key: '', nested_key: ['_runtime'], value_json: '1.5' },
      { key: '', nested_key: ['_step'], value_json: '0' },
    ]);
    expect(report.records[2]!.update).toEqual(step0.items);
    expect((report.records[6]!.items as Item[]).slice(0, 2)).toEqual([
      { key: '', nested_key: ['loss'], value_json: 'NaN' },
      { key: '', nested_key: ['acc'], value_json: 'Infinity' },
    ]);
    expect(report.records[6]!.step).toBe(1);
    expect(report.records[11]!.step).toBe(5);
    // JSON has only one zero; the SDK's text keeps the sign, as wandb-core writes it.
    expect((report.records[11]!.items as Item[])[1]).toEqual({
      key: '',
      nested_key: ['λ'],
      value_json: '-0',
    });

    expect(report.view.history).toEqual([
      {
        loss: 1.5,
        acc: 0.25,
        'val/loss': 2,
        _timestamp: (T0 + 1500) / 1000,
        _runtime: 1.5,
        _step: 0,
      },
      { loss: 'NaN', acc: 'Infinity', _timestamp: (T0 + 2000) / 1000, _runtime: 2, _step: 1 },
      { loss: '-Infinity', λ: 0, _timestamp: (T0 + 3000) / 1000, _runtime: 3, _step: 5 },
    ]);
    expect(report.view.config).toEqual({
      _wandb: {},
      lr: 0.001,
      layers: [64, 32],
      optimizer: { name: 'sgd', momentum: 0.9 },
      nan: null,
      batch: 32,
    });
    expect(report.view.summary).toEqual({
      loss: '-Infinity',
      acc: 'Infinity',
      'val/loss': 2,
      λ: 0,
      _timestamp: (T0 + 3000) / 1000,
      _runtime: 65,
      _step: 5,
      _wandb: { runtime: 65 },
      best: 0.5,
      note: 'ok',
      bad: null,
    });
    expect(report.records.filter((r) => r.type === 'files').map((r) => r.files)).toEqual([
      [{ path: 'model.json', policy: 'NOW', type: 'OTHER' }],
      [{ path: 'nested/dir/model.json', policy: 'END', type: 'OTHER' }],
    ]);
    expect(readFileSync(join(run.filesDir, 'nested', 'dir', 'model.json'), 'utf8')).toBe(
      '{"weights":[1,2,3]}',
    );
    expect(report.view.exit).toEqual({ exit_code: 0, runtime: 65 });
    expect(report.records.at(-1)).toMatchObject({ type: 'exit', stream_id: 'abc123xy' });
  });

  it('carries a config value larger than a block (a 100 KB string) through FIRST/MIDDLE/LAST chunks', async () => {
    const big = 'x'.repeat(50_000) + 'é'.repeat(25_000); // 100 KB of UTF-8
    const run = WandbOfflineRun.create({ dir, project: 'p', config: { big }, startTimeMs: T0 });
    run.config({ big2: big.split('').reverse().join('') });
    run.history(0, { loss: 1 }, T0);
    run.exit(1, T0);
    run.close();

    const report = await readWithSdk(run.logPath);
    expect(report.view.config.big).toBe(big);
    expect(report.view.config.big2).toBe(big.split('').reverse().join(''));
    expect(report.view.exit).toEqual({ exit_code: 1, runtime: 0 });
    const types = report.chunks.map((c) => c[1]);
    expect(types.filter((t) => t === CHUNK_FIRST)).toHaveLength(2);
    expect(types.filter((t) => t === CHUNK_MIDDLE).length).toBeGreaterThanOrEqual(4);
    expect(types.filter((t) => t === CHUNK_LAST)).toHaveLength(2);
    expect(report.size).toBe(readFileSync(run.logPath).length);
  });

  it('writes thousands of history rows across many blocks, every row exact', async () => {
    const run = WandbOfflineRun.create({ dir, project: 'p', runId: 'manyrows', startTimeMs: T0 });
    const expected: Record<string, unknown>[] = [];
    const rows = 3000;
    for (let step = 0; step < rows; step++) {
      const values: Record<string, number> = { loss: 1 / (step + 1), step_x2: step * 2 };
      // Vary the row size so that records land on every offset within a block.
      for (let k = 0; k < step % 7; k++) values[`metric_${k}`] = Math.sin(step + k) * 1e6;
      if (step % 101 === 0) values.loss = Number.NaN;
      const ts = T0 + step * 37;
      run.history(step, values, ts);
      const row: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(values)) row[key] = plain(value);
      expected.push({ ...row, _timestamp: ts / 1000, _runtime: (step * 37) / 1000, _step: step });
    }
    run.exit(0, T0 + rows * 37);
    run.close();

    const report = await readWithSdk(run.logPath);
    expect(report.view.history).toEqual(expected);
    expect(report.size).toBeGreaterThan(20 * BLOCK);
    expect(report.records.filter((r) => r.type === 'history')).toHaveLength(rows);
    const ours = scanWandbTransactionLog(readFileSync(run.logPath)).chunks;
    expect(report.chunks).toEqual(ours.map((c) => [c.offset, c.type, c.length]));
  });

  it('leaves a readable file when the process stops without exit (wandb sync marks it failed)', async () => {
    const run = WandbOfflineRun.create({ dir, project: 'p', startTimeMs: T0 });
    run.history(0, { loss: 1 }, T0);
    run.history(1, { loss: 2 }, T0 + 1); // step 1 stays open, as in the SDK
    run.flush();
    const report = await readWithSdk(run.logPath);
    expect(report.view.history).toEqual([
      { loss: 1, _timestamp: T0 / 1000, _runtime: 0, _step: 0 },
    ]);
    expect(report.view.exit).toBeNull();
    run.close();
    const closed = await readWithSdk(run.logPath);
    expect(closed.view.history.map((r) => r._step)).toEqual([0, 1]);
    expect(closed.view.exit).toBeNull();
  });
});

describe('block edge cases, read by wandb-core', () => {
  it('accepts a zero-length FIRST chunk in the last 7 bytes and zero fill of 1-6 bytes', async () => {
    const path = join(dir, 'run-edges.wandb');
    const log = WandbTransactionLogWriter.create(path);
    let num = 0;
    const append = (record: Parameters<typeof encodeRecord>[0]) => log.append(encodeRecord(record));
    append({ num: ++num, header: { producer: 'edges' } });
    append({ num: ++num, run: { runId: 'edges', project: 'p', startTimeMs: T0 } });
    // A config record sized so that the next record starts `left` bytes before a block end.
    const padTo = (left: number) => {
      const pad = (n: number) =>
        encodeRecord({
          num: num + 1,
          config: { update: [{ key: `pad${left}`, valueJson: JSON.stringify('p'.repeat(n)) }] },
        });
      const endOf = (record: Uint8Array) => log.size + frameRecord(record, log.size).length;
      // One more character is one more byte, until a varint or a block boundary adds more.
      const shortfall = (BLOCK - left - (endOf(pad(0)) % BLOCK) + BLOCK) % BLOCK;
      for (let n = Math.max(0, shortfall - 16); n < shortfall + 2 * BLOCK; n++) {
        const record = pad(n);
        if (BLOCK - (endOf(record) % BLOCK) === left) {
          num += 1;
          log.append(record);
          return;
        }
      }
      throw new Error(`no config record leaves ${left} bytes`);
    };
    const expectedConfig: Record<string, unknown> = {};
    for (const left of [7, 3, 6, 1]) {
      padTo(left);
      expectedConfig[`pad${left}`] = expect.any(String);
      append({ num: ++num, summary: { update: [{ key: `after${left}`, valueJson: `${left}` }] } });
    }
    append({ num: ++num, exit: { exitCode: 0 } });
    log.close();

    const chunks = scanWandbTransactionLog(readFileSync(path)).chunks;
    const emptyFirst = chunks.find((c) => c.type === CHUNK_FIRST && c.length === 0);
    expect(emptyFirst && emptyFirst.offset % BLOCK).toBe(BLOCK - 7);
    expect(
      chunks.filter((c) => c.offset % BLOCK === 0 && c.type === CHUNK_FULL).length,
    ).toBeGreaterThanOrEqual(3);

    const report = await readWithSdk(path);
    expect(report.records.map((r) => r.num)).toEqual(report.records.map((_, i) => i + 1));
    expect(report.view.config).toEqual(expectedConfig);
    expect(report.view.summary).toEqual({ after7: 7, after3: 3, after6: 6, after1: 1 });
    expect(report.view.exit).toEqual({ exit_code: 0, runtime: 0 });
  });

  it('is refused by wandb-core when a chunk is corrupt (the oracle does check)', async () => {
    const run = WandbOfflineRun.create({ dir, project: 'p', startTimeMs: T0 });
    run.exit(0, T0);
    run.close();
    const bytes = readFileSync(run.logPath);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
    const corrupt = join(dir, 'run-corrupt.wandb');
    await writeFile(corrupt, bytes);
    const result = await runPython(env, READER, [corrupt]);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^wandb-core: .*checksum mismatch/),
    });
  });
});

describe('the SDK install', () => {
  it('has `wandb sync` (for the upload test)', async () => {
    const { stdout } = await promisify(execFile)(env.bin('wandb'), ['sync', '--help'], {
      env: { ...process.env, WANDB_MODE: 'offline' },
    });
    expect(stdout).toContain('Upload existing local W&B run data');
  });
});
