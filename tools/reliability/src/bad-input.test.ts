/**
 * Promise: bad input throws at once, with a typed error that says which key and why; a
 * documented normalization otherwise; no crash, and nothing accepted before is lost.
 *
 * Three tables: the run API (validation, artifacts, flavors), the built CLI (flags, commands,
 * corrupt store files, wrong config values) and config (MLflow's config rules, TLS, and wrong
 * credentials against a real basic-auth MLflow server). Each row says what goes in and which
 * error code and rule (or normalization) comes out; after each table, everything accepted
 * before and between the bad calls is read back.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  type BackendError,
  createTracker,
  defineFlavor,
  getTracker,
  image,
  LocalExperimentTracker,
  LocalRuns,
  loadFlavorSource,
  parseConfig,
  type Run,
  type RunSnapshot,
  silentLogger,
  TrackstackError,
  type TrackstackErrorCode,
  ValidationError,
  type ValidationRule,
} from '@trackstack/core';
import { TEST_JPEG, TEST_PNG } from '@trackstack/core/testing';
import { type MlflowServer, startMlflowServer } from '@trackstack/test-harness';
import { MlflowExperimentTracker } from '@trackstack/tracker-mlflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startSelfSignedMlflow, type TlsServer } from './support/tls.js';
import { type CliResult, recordingLogger, runCli } from './support/util.js';

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'trackstack-bad-input-'));
});

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

interface Expected {
  code: TrackstackErrorCode;
  rule?: ValidationRule;
  /** The key the ValidationError must name. */
  key?: string;
  message?: RegExp;
}

/** Runs `fn` (sync or async); it must throw a TrackstackError with these fields. */
async function expectError(fn: () => unknown, expected: Expected): Promise<TrackstackError> {
  let thrown: unknown;
  try {
    await fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected a typed error').toBeDefined();
  expect(TrackstackError.isInstance(thrown), `not a TrackstackError: ${String(thrown)}`).toBe(true);
  const error = thrown as TrackstackError;
  expect(error.code).toBe(expected.code);
  if (expected.rule !== undefined || expected.key !== undefined) {
    expect(ValidationError.isInstance(error)).toBe(true);
    if (expected.rule !== undefined) expect((error as ValidationError).rule).toBe(expected.rule);
    if (expected.key !== undefined) expect((error as ValidationError).key).toBe(expected.key);
  }
  if (expected.message !== undefined) expect(error.message).toMatch(expected.message);
  return error;
}

const nest = (levels: number): Record<string, unknown> =>
  levels <= 1 ? { leaf: 1 } : { a: nest(levels - 1) };
const deepKey = (levels: number) => `${'a.'.repeat(levels - 1)}leaf`;
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

// ---- the run API -------------------------------------------------------------------------

interface View {
  snapshot: RunSnapshot;
  histories: Record<string, { value: number; step: number; timestamp: number }[]>;
}

interface ApiCase {
  name: string;
  call: (run: Run) => unknown;
  /** An error, or undefined when the call is accepted. */
  error?: Expected;
  /** Checked on what the run holds once it ended. */
  check?: (view: View) => void;
  /** Keys the call must not have logged (metrics, params or tags). */
  absent?: string[];
}

let files: string;
const artifactLogger = recordingLogger();

function fixtureFiles(): string {
  const dir = join(work, 'files');
  mkdirSync(join(dir, 'tree', 'sub'), { recursive: true });
  mkdirSync(join(dir, 'elsewhere'), { recursive: true });
  writeFileSync(join(dir, 'model.json'), '{"w":[1,2,3]}');
  writeFileSync(join(dir, 'target.txt'), 'the target of a link');
  writeFileSync(join(dir, 'tree', 'real.txt'), 'real');
  writeFileSync(join(dir, 'tree', 'sub', 'deep.txt'), 'deep');
  writeFileSync(join(dir, 'elsewhere', 'secret.txt'), 'outside the logged directory');
  symlinkSync(join(dir, 'target.txt'), join(dir, 'link-to-file'));
  symlinkSync(join(dir, 'target.txt'), join(dir, 'tree', 'link-to-file.txt'));
  symlinkSync(join(dir, 'elsewhere'), join(dir, 'tree', 'link-to-dir'));
  symlinkSync(join(dir, 'tree'), join(dir, 'tree', 'sub', 'loop'));
  symlinkSync(join(dir, 'missing-target'), join(dir, 'tree', 'dangling'));
  writeFileSync(join(dir, 'truncated.jpg'), TEST_JPEG.subarray(0, TEST_JPEG.length - 40));
  // 100 MB that starts as a real PNG (sparse: no disk used).
  writeFileSync(join(dir, 'huge.png'), TEST_PNG);
  truncateSync(join(dir, 'huge.png'), 100 * 1024 * 1024);
  writeFileSync(join(work, 'outside.png'), TEST_PNG);
  return dir;
}

const circular: Record<string, unknown> = { x: 1 };
circular.self = circular;
const circularArray: unknown[] = [1];
circularArray.push(circularArray);
class Opaque {
  readonly field = 1;
}

const API_CASES: ApiCase[] = [
  // keys
  {
    name: 'empty metric key',
    call: (r) => r.logMetric('', 1),
    error: { code: 'INVALID_KEY', rule: 'key-empty' },
  },
  {
    name: 'metric key of 251 characters',
    call: (r) => r.logMetric('k'.repeat(251), 1),
    error: { code: 'INVALID_KEY', rule: 'key-too-long' },
    absent: ['k'.repeat(251)],
  },
  {
    name: 'metric key of 250 characters',
    call: (r) => r.logMetric('k'.repeat(250), 1),
    check: (v) => expect(v.histories['k'.repeat(250)]).toHaveLength(1),
  },
  {
    name: "key with '!'",
    call: (r) => r.logMetric('a b!', 1),
    error: { code: 'INVALID_KEY', rule: 'key-characters', key: 'a b!' },
  },
  {
    name: 'key with a tab',
    call: (r) => r.logMetric('a\tb', 1),
    error: { code: 'INVALID_KEY', rule: 'key-characters' },
  },
  {
    name: 'key with a backslash',
    call: (r) => r.logMetric('a\\b', 1),
    error: { code: 'INVALID_KEY', rule: 'key-characters' },
  },
  {
    name: 'key that is a number',
    call: (r) => r.logMetric(1 as unknown as string, 1),
    error: { code: 'INVALID_KEY', rule: 'key-characters' },
  },
  {
    name: "key starting with '/'",
    call: (r) => r.logMetric('/a', 1),
    error: { code: 'INVALID_KEY', rule: 'key-path' },
  },
  {
    name: "key with a '..' segment",
    call: (r) => r.logMetric('a/../b', 1),
    error: { code: 'INVALID_KEY', rule: 'key-path' },
  },
  {
    name: "key '..'",
    call: (r) => r.logMetric('..', 1),
    error: { code: 'INVALID_KEY', rule: 'key-path' },
  },
  {
    name: 'unicode key with spaces and colons',
    call: (r) => r.logMetric('ü-ß:1 2/日本', 3),
    check: (v) => expect(v.histories['ü-ß:1 2/日本']?.[0]?.value).toBe(3),
  },
  // values
  {
    name: 'metric value a string',
    call: (r) => r.logMetric('v', '1' as unknown as number),
    error: { code: 'INVALID_VALUE', rule: 'value-type', key: 'v' },
    absent: ['v'],
  },
  {
    name: 'metric value a boolean',
    call: (r) => r.logMetric('v', true as unknown as number),
    error: { code: 'INVALID_VALUE', rule: 'value-type' },
    absent: ['v'],
  },
  {
    name: 'metric value undefined',
    call: (r) => r.logMetric('v', undefined as unknown as number),
    error: { code: 'INVALID_VALUE', rule: 'value-type' },
    absent: ['v'],
  },
  {
    name: 'metric values NaN, Infinity, -Infinity, -0 are kept exactly',
    call: (r) => {
      r.logMetric('nonfinite', Number.NaN, { step: 0 });
      r.logMetric('nonfinite', Number.POSITIVE_INFINITY, { step: 1 });
      r.logMetric('nonfinite', Number.NEGATIVE_INFINITY, { step: 2 });
      r.logMetric('nonfinite', -0, { step: 3 });
    },
    check: (v) => {
      const values = v.histories.nonfinite!.map((p) => p.value);
      expect(values[0]).toBeNaN();
      expect(values.slice(1, 3)).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
      expect(Object.is(values[3], -0)).toBe(true);
    },
  },
  {
    name: 'metric value 5n',
    call: (r) => r.logMetric('big', 5n as unknown as number),
    check: (v) => expect(v.histories.big?.[0]?.value).toBe(5),
  },
  {
    name: 'metric value 2n ** 60n',
    call: (r) => r.logMetric('huge', (2n ** 60n) as unknown as number),
    error: { code: 'INVALID_VALUE', rule: 'value-type' },
    absent: ['huge'],
  },
  {
    name: 'step -1',
    call: (r) => r.logMetric('s', 1, { step: -1 }),
    error: { code: 'INVALID_VALUE', rule: 'step' },
    absent: ['s'],
  },
  {
    name: 'step 1.5',
    call: (r) => r.logMetric('s', 1, { step: 1.5 }),
    error: { code: 'INVALID_VALUE', rule: 'step' },
    absent: ['s'],
  },
  {
    name: 'step NaN',
    call: (r) => r.logMetric('s', 1, { step: Number.NaN }),
    error: { code: 'INVALID_VALUE', rule: 'step' },
    absent: ['s'],
  },
  {
    name: 'step 2 ** 53',
    call: (r) => r.logMetric('s', 1, { step: 2 ** 53 }),
    error: { code: 'INVALID_VALUE', rule: 'step' },
    absent: ['s'],
  },
  {
    name: 'step 7n',
    call: (r) => r.logMetric('s7', 1, { step: 7n as unknown as number }),
    check: (v) => expect(v.histories.s7?.[0]?.step).toBe(7),
  },
  {
    name: 'timestamp -1',
    call: (r) => r.logMetric('t', 1, { timestamp: -1 }),
    error: { code: 'INVALID_VALUE', rule: 'timestamp' },
    absent: ['t'],
  },
  {
    name: 'timestamp an invalid Date',
    call: (r) => r.logMetric('t', 1, { timestamp: new Date('nope') }),
    error: { code: 'INVALID_VALUE', rule: 'timestamp' },
    absent: ['t'],
  },
  {
    name: 'timestamp 1000.9 is floored',
    call: (r) => r.logMetric('tf', 1, { timestamp: 1000.9 }),
    check: (v) => expect(v.histories.tf?.[0]?.timestamp).toBe(1000),
  },
  {
    name: 'timestamp a Date',
    call: (r) => r.logMetric('td', 1, { timestamp: new Date(5000) }),
    check: (v) => expect(v.histories.td?.[0]?.timestamp).toBe(5000),
  },
  {
    name: 'logMetrics(null)',
    call: (r) => r.logMetrics(null as unknown as Record<string, number>),
    error: { code: 'INVALID_VALUE', rule: 'value-type', key: '(metrics)' },
  },
  {
    name: 'logMetrics with one bad value logs none of the others',
    call: (r) => r.logMetrics({ good_a: 1, bad_b: 'x' as unknown as number }),
    error: { code: 'INVALID_VALUE', key: 'bad_b' },
    absent: ['good_a', 'bad_b'],
  },
  {
    name: 'logMetrics with one bad key logs none of the others',
    call: (r) => r.logMetrics({ good_c: 1, 'bad key!': 2 }),
    error: { code: 'INVALID_KEY', key: 'bad key!' },
    absent: ['good_c'],
  },
  // params
  {
    name: 'param value of 6001 characters',
    call: (r) => r.logParams({ long: 'x'.repeat(6001) }),
    error: { code: 'INVALID_VALUE', rule: 'value-too-long', key: 'long' },
    absent: ['long'],
  },
  {
    name: 'param value of 6000 characters',
    call: (r) => r.logParams({ long6000: 'x'.repeat(6000) }),
    check: (v) => expect(v.snapshot.params.long6000).toHaveLength(6000),
  },
  {
    name: 'a 5 MB param value',
    call: (r) => r.logParam('blob', 'y'.repeat(5 * 1024 * 1024)),
    error: { code: 'INVALID_VALUE', rule: 'value-too-long', key: 'blob' },
    absent: ['blob'],
  },
  {
    name: '5000 params in one call',
    call: (r) =>
      r.logParams(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`many.p${i}`, i]))),
    check: (v) => {
      expect(Object.keys(v.snapshot.params).filter((k) => k.startsWith('many.'))).toHaveLength(
        5000,
      );
      expect(v.snapshot.params['many.p4999']).toBe('4999');
    },
  },
  {
    name: 'params nested 16 levels',
    call: (r) => r.logParams({ deep16: nest(15) }),
    check: (v) => expect(v.snapshot.params[`deep16.${deepKey(15)}`]).toBe('1'),
  },
  {
    name: 'params nested 17 levels',
    call: (r) => r.logParams({ deep17: nest(16), sibling17: 1 }),
    error: { code: 'INVALID_VALUE', rule: 'too-deep' },
    absent: ['sibling17'],
  },
  {
    name: 'a circular object',
    call: (r) => r.logParams({ c: circular }),
    error: { code: 'INVALID_VALUE', rule: 'value-circular', key: 'c.self' },
    absent: ['c.x'],
  },
  {
    name: 'a circular array',
    call: (r) => r.logParams({ ca: circularArray }),
    error: { code: 'INVALID_VALUE', rule: 'value-circular', key: 'ca' },
    absent: ['ca'],
  },
  {
    name: 'the same object under two keys',
    call: (r) => {
      const shared = { k: 1 };
      r.logParams({ s1: shared, s2: shared });
    },
    check: (v) =>
      expect([v.snapshot.params['s1.k'], v.snapshot.params['s2.k']]).toEqual(['1', '1']),
  },
  {
    name: 'a function param',
    call: (r) => r.logParams({ fn: () => 1 }),
    error: { code: 'INVALID_VALUE', rule: 'value-type' },
    absent: ['fn'],
  },
  {
    name: 'a Map param',
    call: (r) => r.logParams({ map: new Map([[1, 2]]) }),
    error: { code: 'INVALID_VALUE', rule: 'value-type' },
    absent: ['map'],
  },
  {
    name: 'a class instance param',
    call: (r) => r.logParams({ inst: new Opaque() }),
    error: { code: 'INVALID_VALUE', rule: 'value-type' },
    absent: ['inst'],
  },
  {
    name: 'a symbol param',
    call: (r) => r.logParams({ sym: Symbol('s') }),
    error: { code: 'INVALID_VALUE', rule: 'value-type' },
    absent: ['sym'],
  },
  {
    name: 'params an array',
    call: (r) => r.logParams([1, 2] as unknown as Record<string, unknown>),
    error: { code: 'INVALID_VALUE', rule: 'value-type', key: '(params)' },
  },
  {
    name: 'params normalized: NaN, Infinity, 1e21, -0, true, 10n, null, Date, arrays, {}, undefined',
    call: (r) =>
      r.logParams({
        n: { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, big: 1e21, negzero: -0 },
        b: true,
        bi: 10n,
        nul: null,
        date: new Date(0),
        arr: [1, Number.NaN, Number.POSITIVE_INFINITY, 2n, undefined],
        empty: {},
        skipped: undefined,
      }),
    check: (v) =>
      expect(v.snapshot.params).toMatchObject({
        'n.nan': 'NaN',
        'n.inf': 'Infinity',
        'n.big': '1e+21',
        'n.negzero': '0',
        b: 'true',
        bi: '10',
        nul: 'null',
        date: '1970-01-01T00:00:00.000Z',
        arr: '[1,"NaN","Infinity","2",null]',
        empty: '{}',
      }),
    absent: ['skipped'],
  },
  {
    name: 'param logged first',
    call: (r) => r.logParams({ lr: 0.1 }),
    check: (v) => expect(v.snapshot.params.lr).toBe('0.1'),
  },
  { name: 'param logged again, same value', call: (r) => r.logParams({ lr: 0.1 }) },
  {
    name: 'param logged again, another value (with a fresh one beside it)',
    call: (r) => r.logParams({ fresh: 1, lr: 0.2 }),
    error: { code: 'PARAM_CONFLICT', rule: 'param-conflict', key: 'lr' },
    absent: ['fresh'],
  },
  {
    name: 'param conflict within one call',
    call: (r) => r.logParams({ 'x.y': 1, x: { y: 2 } }),
    error: { code: 'PARAM_CONFLICT', rule: 'param-conflict', key: 'x.y' },
    absent: ['x.y'],
  },
  // tags
  {
    name: 'reserved tag trackstack.uid',
    call: (r) => r.setTag('trackstack.uid', 'forged'),
    error: { code: 'INVALID_KEY', rule: 'key-reserved' },
  },
  {
    name: 'tag value an object',
    call: (r) => r.setTags({ obj: {} as unknown as string }),
    error: { code: 'INVALID_VALUE', rule: 'value-type', key: 'obj' },
    absent: ['obj'],
  },
  {
    name: 'tag value null',
    call: (r) => r.setTag('nultag', null as unknown as string),
    error: { code: 'INVALID_VALUE', rule: 'value-type' },
    absent: ['nultag'],
  },
  {
    name: 'tag value of 8001 characters',
    call: (r) => r.setTag('longtag', 't'.repeat(8001)),
    error: { code: 'INVALID_VALUE', rule: 'value-too-long' },
    absent: ['longtag'],
  },
  {
    name: 'setTags not an object',
    call: (r) => r.setTags('x' as unknown as Record<string, string>),
    error: { code: 'INVALID_VALUE', rule: 'value-type', key: '(tags)' },
  },
  {
    name: 'tags normalized: number, boolean; last value wins',
    call: (r) => {
      r.setTags({ num: 5, flag: false, again: 'first' });
      r.setTag('again', 'second');
    },
    check: (v) =>
      expect(v.snapshot.tags).toMatchObject({ num: '5', flag: 'false', again: 'second' }),
  },
  // artifacts
  {
    name: "artifactPath '../../etc/passwd'",
    call: (r) => r.logArtifact(join(files, 'model.json'), { artifactPath: '../../etc/passwd' }),
    error: { code: 'INVALID_VALUE', rule: 'key-path' },
  },
  {
    name: "artifactPath '/etc/passwd'",
    call: (r) => r.logArtifact(join(files, 'model.json'), { artifactPath: '/etc/passwd' }),
    error: { code: 'INVALID_VALUE', rule: 'key-path' },
  },
  {
    name: "artifactPath 'C:/x'",
    call: (r) => r.logArtifact(join(files, 'model.json'), { artifactPath: 'C:/x' }),
    error: { code: 'INVALID_VALUE', rule: 'key-path' },
  },
  {
    name: "artifactPath 'a//b'",
    call: (r) => r.logArtifact(join(files, 'model.json'), { artifactPath: 'a//b' }),
    error: { code: 'INVALID_VALUE', rule: 'key-path' },
  },
  {
    name: "artifactPath 'a/./b'",
    call: (r) => r.logArtifact(join(files, 'model.json'), { artifactPath: 'a/./b' }),
    error: { code: 'INVALID_VALUE', rule: 'key-path' },
  },
  {
    name: 'artifactPath empty',
    call: (r) => r.logArtifact(join(files, 'model.json'), { artifactPath: '' }),
    error: { code: 'INVALID_VALUE', rule: 'key-path' },
  },
  {
    name: "source '../../..' up to /etc/passwd: read where it is, stored under its base name",
    call: (r) => r.logArtifact(relative(process.cwd(), '/etc/passwd')),
    check: (v) =>
      expect(v.snapshot.artifacts.find((a) => a.path === 'passwd')?.sha256).toBe(
        sha256(readFileSync('/etc/passwd')),
      ),
  },
  {
    name: 'a missing file',
    call: (r) => r.logArtifact(join(files, 'no-such-file')),
    error: { code: 'ARTIFACT_NOT_FOUND' },
  },
  {
    name: '/dev/null (not a regular file)',
    call: (r) => r.logArtifact('/dev/null'),
    error: { code: 'ARTIFACT_NOT_FOUND' },
  },
  {
    name: 'a link to a file is followed',
    call: (r) => r.logArtifact(join(files, 'link-to-file')),
    check: (v) =>
      expect(v.snapshot.artifacts.find((a) => a.path === 'link-to-file')?.sha256).toBe(
        sha256('the target of a link'),
      ),
  },
  {
    name: 'a directory: links to files followed, links to directories (and loops, dangling links) skipped',
    call: (r) => r.logArtifact(join(files, 'tree'), { artifactPath: 'tree' }),
    check: (v) => {
      expect(
        v.snapshot.artifacts
          .map((a) => a.path)
          .filter((p) => p.startsWith('tree/'))
          .sort(),
      ).toEqual(['tree/link-to-file.txt', 'tree/real.txt', 'tree/sub/deep.txt']);
      expect(artifactLogger.lines.filter((l) => /skipped a link/.test(l))).toHaveLength(3);
    },
  },
  {
    name: 'an unreadable file',
    call: (r) => {
      const path = join(files, 'unreadable.txt');
      writeFileSync(path, 'x');
      chmodSync(path, 0o000);
      // root reads anything: then the file is simply logged.
      if (process.getuid?.() === 0) return r.logArtifact(path, { artifactPath: 'unreadable.txt' });
      return expectError(() => r.logArtifact(path), { code: 'ARTIFACT_NOT_FOUND' }).then(() => {});
    },
  },
  // media
  {
    name: 'a truncated PNG',
    call: (r) => r.logImage('media/truncated', TEST_PNG.subarray(0, TEST_PNG.length - 12)),
    error: {
      code: 'INVALID_VALUE',
      rule: 'image-format',
      key: 'media/truncated',
      message: /truncated PNG/,
    },
  },
  {
    name: 'a truncated JPEG file',
    call: (r) => r.logImage('media/truncated', join(files, 'truncated.jpg')),
    error: {
      code: 'INVALID_VALUE',
      rule: 'image-format',
      key: 'media/truncated',
      message: /truncated JPEG/,
    },
  },
  {
    name: 'a GIF',
    call: (r) =>
      r.logImage('media/gif', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1')),
    error: {
      code: 'INVALID_VALUE',
      rule: 'image-format',
      key: 'media/gif',
      message: /GIF images are not supported/,
    },
  },
  {
    name: 'a 100 MB image',
    call: (r) => r.logImage('media/huge', join(files, 'huge.png')),
    error: {
      code: 'INVALID_VALUE',
      rule: 'too-large',
      key: 'media/huge',
      message: /at most 52428800/,
    },
  },
  {
    name: 'an image path that does not exist',
    call: (r) => r.logImage('media/missing', join(files, 'missing.png')),
    error: { code: 'INVALID_VALUE', rule: 'value-type', key: 'media/missing' },
  },
  {
    name: 'an image from outside the working tree: read and staged, named by its key',
    call: (r) => r.logImage('media/outside', join(work, 'outside.png'), { step: 2 }),
    check: (v) =>
      expect(v.snapshot.media.find((m) => m.key === 'media/outside')).toMatchObject({
        kind: 'image',
        step: 2,
        image: { sha256: sha256(Buffer.from(TEST_PNG)), format: 'png', width: 24, height: 16 },
      }),
  },
  {
    name: "logText to '../outside.txt' (outside the run's artifacts)",
    call: (r) => r.logText('../outside.txt', 'x'),
    error: { code: 'INVALID_VALUE', rule: 'key-path', key: '../outside.txt' },
  },
  {
    name: 'a table with ragged rows',
    call: (r) => r.logTable('media/ragged', { columns: ['a', 'b'], rows: [[1, 2], [3]] }),
    error: {
      code: 'INVALID_VALUE',
      rule: 'table-shape',
      key: 'media/ragged',
      message: /row 1 has 1 cells/,
    },
  },
  {
    name: 'a table with an object cell',
    call: (r) => r.logTable('media/object', { columns: ['a'], rows: [[{ x: 1 } as never]] }),
    error: { code: 'INVALID_VALUE', rule: 'value-type', key: 'media/object' },
  },
  {
    name: 'a table with a truncated image cell (named by row and column)',
    call: (r) =>
      r.logTable('media/cells', {
        columns: ['id', 'img'],
        rows: [[1, image(TEST_PNG.subarray(0, 30))]],
      }),
    error: { code: 'INVALID_VALUE', rule: 'image-format', key: 'media/cells[0]["img"]' },
  },
  {
    name: 'NaN in a histogram',
    call: (r) => r.logHistogram('media/hist', [1, 2, Number.NaN]),
    error: {
      code: 'INVALID_VALUE',
      rule: 'value-type',
      key: 'media/hist',
      message: /value 2 is NaN/,
    },
  },
  {
    name: 'a histogram of 513 bins',
    call: (r) => r.logHistogram('media/hist', [1, 2, 3], { bins: 513 }),
    error: { code: 'INVALID_VALUE', rule: 'bins', key: 'media/hist' },
  },
  {
    name: 'a table and a histogram that are good: kept, and no refused media left anything',
    call: async (r) => {
      await r.logTable('media/good', { columns: ['id', 'img'], rows: [[1, image(TEST_PNG)]] });
      r.logHistogram('media/hist', [1, 2, 3], { bins: 3 });
    },
    check: (v) =>
      expect(v.snapshot.media.map((m) => `${m.kind} ${m.key}`).sort()).toEqual([
        'histogram media/hist',
        'image media/outside',
        'table media/good',
      ]),
  },
];

describe('bad input to the run API', () => {
  let run: Run;
  let step = 0;
  const refused = new Set<string>();

  beforeAll(async () => {
    files = fixtureFiles();
    const tracker = createTracker(
      new LocalExperimentTracker({}, { storeDir: join(work, 'api-store'), logger: silentLogger }),
    );
    run = await tracker.startRun({
      experiment: 'bad-input',
      logger: artifactLogger,
      flushIntervalMs: 0,
    });
  });

  it.each(API_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    // Something accepted right before every case: it must survive whatever the case does.
    run.logMetric('sentinel', step, { step });
    step += 1;
    if (c.error !== undefined) {
      await expectError(() => c.call(run), c.error);
      for (const key of c.absent ?? []) refused.add(key);
    } else {
      await c.call(run);
    }
  });

  it('kept everything accepted, and nothing of a call that threw', async () => {
    const report = await run.end();
    expect(report.status).toBe('FINISHED');
    const runs = new LocalRuns(join(work, 'api-store'));
    const view: View = {
      snapshot: await runs.get(run.uid),
      histories: await runs.metricHistories(run.uid),
    };
    expect(view.histories.sentinel?.map((p) => p.step)).toEqual(
      Array.from({ length: API_CASES.length }, (_, i) => i),
    );
    for (const c of API_CASES) c.check?.(view);
    for (const key of refused) {
      expect(view.histories[key], `metric ${key}`).toBeUndefined();
      expect(view.snapshot.params[key], `param ${key}`).toBeUndefined();
      expect(view.snapshot.tags[key], `tag ${key}`).toBeUndefined();
    }
    // A refused call left no partial state behind either: the conflicting param kept its value.
    expect(view.snapshot.params.lr).toBe('0.1');
    expect(Object.keys(view.snapshot.tags)).not.toContain('trackstack.uid');
  });

  it('refuses logging after end() and keeps the ended run as it was', async () => {
    const tracker = createTracker(
      new LocalExperimentTracker({}, { storeDir: join(work, 'api-store'), logger: silentLogger }),
    );
    const ended = await tracker.startRun({ logger: silentLogger });
    ended.logMetric('kept', 1);
    await ended.end();
    await expectError(() => ended.logMetric('late', 1), { code: 'RUN_ENDED' });
    await expectError(() => ended.logParams({ late: 1 }), { code: 'RUN_ENDED' });
    await expectError(() => ended.logArtifact(join(files, 'model.json')), { code: 'RUN_ENDED' });
    const histories = await new LocalRuns(join(work, 'api-store')).metricHistories(ended.uid);
    expect(Object.keys(histories)).toEqual(['kept']);
  });

  it('refuses bad run ids, existing ids, bad start tags and params, before touching the store', async () => {
    const store = join(work, 'api-store');
    const tracker = createTracker(
      new LocalExperimentTracker({}, { storeDir: store, logger: silentLogger }),
    );
    await expectError(() => tracker.startRun({ id: '../escape' }), {
      code: 'INVALID_RUN_ID',
      message: /not a valid run id/,
    });
    await expectError(() => tracker.startRun({ id: 'bad id!' }), { code: 'INVALID_RUN_ID' });
    const first = await tracker.startRun({ id: 'fixed-id-1', logger: silentLogger });
    await first.end();
    await expectError(() => tracker.startRun({ id: 'fixed-id-1' }), { code: 'RUN_EXISTS' });
    await expectError(() => tracker.startRun({ id: 'no-such-run', resume: 'must' }), {
      code: 'RUN_NOT_FOUND',
    });
    const before = (await new LocalRuns(store).list()).length;
    await expectError(() => tracker.startRun({ tags: { 'trackstack.x': 'y' } }), {
      code: 'INVALID_KEY',
      rule: 'key-reserved',
    });
    await expectError(() => tracker.startRun({ params: { c: circular } }), {
      code: 'INVALID_VALUE',
      rule: 'value-circular',
    });
    expect((await new LocalRuns(store).list()).length).toBe(before);
  });

  it('refuses unknown flavors and bad flavor sources, each with its own code', async () => {
    const store = join(work, 'flavor-store');
    mkdirSync(store, { recursive: true });
    writeFileSync(
      join(store, 'trackers.json'),
      JSON.stringify({
        version: 1,
        trackers: { t: { flavor: 'nope', config: {} } },
        active: ['t'],
      }),
    );
    await expectError(() => getTracker({ storeDir: store }), { code: 'UNKNOWN_FLAVOR' });
    const sources = join(work, 'sources');
    mkdirSync(sources, { recursive: true });
    writeFileSync(join(sources, 'nothing.mjs'), 'export const x = 1;\n');
    writeFileSync(join(sources, 'throws.mjs'), "throw new Error('boom at import');\n");
    writeFileSync(join(sources, 'syntax.mjs'), 'export const = ;\n');
    writeFileSync(
      join(sources, 'loose.mjs'),
      "import { BaseExperimentTracker } from '@trackstack/core';\nimport { z } from 'zod';\nexport class Loose extends BaseExperimentTracker { static flavorName = 'loose'; static configSchema = z.object({}); }\n",
    );
    await expectError(() => loadFlavorSource(join(sources, 'missing.ts')), {
      code: 'FLAVOR_LOAD_FAILED',
    });
    await expectError(() => loadFlavorSource(join(sources, 'nothing.mjs')), {
      code: 'INVALID_FLAVOR',
    });
    await expectError(() => loadFlavorSource(join(sources, 'throws.mjs')), {
      code: 'FLAVOR_LOAD_FAILED',
      message: /boom at import/,
    });
    await expectError(() => loadFlavorSource(join(sources, 'syntax.mjs')), {
      code: 'FLAVOR_LOAD_FAILED',
    });
    await expectError(() => loadFlavorSource('@trackstack/not-installed'), {
      code: 'FLAVOR_LOAD_FAILED',
    });
    await expectError(() => loadFlavorSource(`${join(sources, 'nothing.mjs')}#Missing`), {
      code: 'INVALID_FLAVOR',
    });
    await expectError(() => defineFlavor({ name: 'Bad Name', configSchema: z.object({}) }), {
      code: 'INVALID_FLAVOR',
    });
    await expectError(() => defineFlavor({ name: 'ok', configSchema: {} as never }), {
      code: 'INVALID_FLAVOR',
    });
  });
});

// ---- the CLI ---------------------------------------------------------------------------

interface CliCase {
  name: string;
  args: string[];
  /** Prepares the store (files written before the command). */
  setup?: (store: string) => void;
  input?: string;
  exit: number;
  stderr?: RegExp;
  stdout?: RegExp;
  /** Checked after the command (e.g. that a file was not overwritten). */
  after?: (store: string, result: CliResult) => void;
}

const corruptTrackers = '{"version": 1, "trackers": {';
const CLI_CASES: CliCase[] = [
  {
    name: 'an unknown command',
    args: ['frobnicate'],
    exit: 2,
    stderr: /unknown command 'frobnicate'/,
  },
  {
    name: 'an unknown flag',
    args: ['runs', 'list', '--bogus'],
    exit: 2,
    stderr: /unknown option '--bogus'/,
  },
  {
    name: 'a missing argument',
    args: ['runs', 'show'],
    exit: 2,
    stderr: /missing required argument/,
  },
  {
    name: '--limit abc',
    args: ['runs', 'list', '--limit', 'abc'],
    exit: 2,
    stderr: /--limit must be a positive whole number/,
  },
  {
    name: '--status DONE',
    args: ['runs', 'list', '--status', 'DONE'],
    exit: 2,
    stderr: /unknown status "DONE"/,
  },
  {
    name: 'sync with neither a run nor --all',
    args: ['sync'],
    exit: 2,
    stderr: /give a run id or --all/,
  },
  {
    name: 'sync --timeout -1',
    args: ['sync', '--all', '--timeout', '-1'],
    exit: 2,
    stderr: /--timeout must be a positive number/,
  },
  {
    name: 'a run id that is too short',
    args: ['runs', 'show', 'abc'],
    exit: 2,
    stderr: /too short/,
  },
  {
    name: 'a run that does not exist',
    args: ['runs', 'show', 'ffffffff-ffff'],
    exit: 1,
    stderr: /RUN_NOT_FOUND/,
  },
  {
    name: 'an unknown flavor',
    args: ['experiment-tracker', 'register', 'x', '--flavor', 'nope'],
    exit: 1,
    stderr: /UNKNOWN_FLAVOR/,
  },
  {
    name: 'a tracker name with a slash',
    args: ['experiment-tracker', 'register', '../x', '--flavor', 'local'],
    exit: 1,
    stderr: /INVALID_CONFIG/,
  },
  {
    name: 'a config field the flavor does not have',
    args: [
      'experiment-tracker',
      'register',
      'm1',
      '--flavor',
      'mlflow',
      '--tracking_uri=http://127.0.0.1:5000',
      '--no_such_field=1',
    ],
    exit: 2,
    stderr: /flavor 'mlflow' has no config field 'no_such_field'/,
  },
  {
    name: 'a number field given text',
    args: ['experiment-tracker', 'register', 'm2', '--flavor', 'mlflow', '--request_timeout_s=abc'],
    exit: 1,
    stderr: /INVALID_CONFIG/,
  },
  {
    name: 'a boolean field given "maybe"',
    args: ['experiment-tracker', 'register', 'm3', '--flavor', 'mlflow', '--nested=maybe'],
    exit: 1,
    stderr: /invalid config for flavor 'mlflow': nested/,
  },
  {
    name: 'a JSON field given bad JSON',
    args: ['experiment-tracker', 'register', 'm4', '--flavor', 'mlflow', '--tags={nope'],
    exit: 2,
    stderr: /--tags must be JSON/,
  },
  {
    name: 'a field given as @file that does not exist',
    args: [
      'experiment-tracker',
      'register',
      'm5',
      '--flavor',
      'mlflow',
      '--tracking_token=@/no/such/file',
    ],
    exit: 2,
    stderr: /cannot read/,
  },
  {
    name: 'kebab-case and yes/no values are normalized',
    args: [
      'experiment-tracker',
      'register',
      'm6',
      '--flavor',
      'mlflow',
      '--tracking-uri=http://127.0.0.1:5000',
      '--tracking-insecure-tls=yes',
      '--request-timeout-s=7',
    ],
    exit: 0,
    after: (store) =>
      expect(
        JSON.parse(readFileSync(join(store, 'trackers.json'), 'utf8')).trackers.m6.config,
      ).toEqual({
        tracking_uri: 'http://127.0.0.1:5000',
        tracking_insecure_tls: true,
        request_timeout_s: 7,
      }),
  },
  {
    name: 'a tracker that exists already',
    args: ['experiment-tracker', 'register', 'm6', '--flavor', 'local'],
    exit: 2,
    stderr: /already exists/,
  },
  {
    name: 'a secret with a bad name',
    args: ['secret', 'create', 'bad/name', '--value=x'],
    exit: 2,
    stderr: /may hold only/,
  },
  {
    name: 'an empty secret',
    args: ['secret', 'create', 'empty'],
    input: '',
    exit: 2,
    stderr: /must not be empty/,
  },
  {
    name: 'a flavor source that does not exist',
    args: ['experiment-tracker', 'flavor', 'register', './no-such-flavor.ts'],
    exit: 1,
    stderr: /FLAVOR_LOAD_FAILED/,
  },
  {
    name: 'describe an unknown flavor',
    args: ['experiment-tracker', 'flavor', 'describe', 'nope'],
    exit: 1,
    stderr: /UNKNOWN_FLAVOR/,
  },
  {
    name: 'a corrupt trackers.json is named and never overwritten',
    args: ['experiment-tracker', 'register', 'x', '--flavor', 'local'],
    setup: (store) => writeFileSync(join(store, 'trackers.json'), corruptTrackers),
    exit: 1,
    stderr: /trackers\.json is not valid JSON.*CORRUPT_FILE/,
    after: (store) => {
      expect(readFileSync(join(store, 'trackers.json'), 'utf8')).toBe(corruptTrackers);
      writeFileSync(
        join(store, 'trackers.json'),
        JSON.stringify({ version: 1, trackers: {}, active: [] }),
      );
    },
  },
  {
    name: 'a trackers.json of the wrong shape',
    args: ['experiment-tracker', 'list'],
    setup: (store) =>
      writeFileSync(
        join(store, 'trackers.json'),
        JSON.stringify({ version: 2, trackers: {}, active: [] }),
      ),
    exit: 1,
    stderr: /is not a trackstack trackers\.json: version.*CORRUPT_FILE/,
    after: (store) =>
      writeFileSync(
        join(store, 'trackers.json'),
        JSON.stringify({ version: 1, trackers: {}, active: [] }),
      ),
  },
  {
    name: 'a corrupt secrets.json',
    args: ['secret', 'list'],
    setup: (store) => writeFileSync(join(store, 'secrets.json'), 'not json', { mode: 0o600 }),
    exit: 1,
    stderr: /secrets\.json is not valid JSON.*CORRUPT_FILE/,
    after: (store) => expect(readFileSync(join(store, 'secrets.json'), 'utf8')).toBe('not json'),
  },
  {
    name: 'a corrupt flavors.json',
    args: ['experiment-tracker', 'flavor', 'list'],
    setup: (store) => writeFileSync(join(store, 'flavors.json'), '[]'),
    exit: 1,
    stderr: /flavors\.json.*CORRUPT_FILE/,
    after: (store) =>
      writeFileSync(join(store, 'flavors.json'), JSON.stringify({ version: 1, flavors: {} })),
  },
];

describe('bad input to the CLI', () => {
  const store = () => join(work, 'cli-store');
  let good: string;

  beforeAll(async () => {
    mkdirSync(store(), { recursive: true, mode: 0o700 });
    // A run accepted before any bad command: it must still be readable after all of them.
    const tracker = createTracker(
      new LocalExperimentTracker({}, { storeDir: store(), logger: silentLogger }),
    );
    const run = await tracker.startRun({ experiment: 'cli', name: 'good', logger: silentLogger });
    for (let step = 0; step < 50; step++) run.logMetric('loss', 1 / (step + 1), { step });
    run.logParams({ lr: 0.5 });
    await run.end();
    good = run.uid;
  });

  it.each(CLI_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    c.setup?.(store());
    const result = await runCli(c.args, {
      env: { TRACKSTACK_HOME: store(), TRACKSTACK_LOG: 'warn' },
      ...(c.input === undefined ? {} : { input: c.input }),
    });
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).toBe(c.exit);
    if (c.stderr !== undefined) expect(result.stderr).toMatch(c.stderr);
    if (c.stdout !== undefined) expect(result.stdout).toMatch(c.stdout);
    // Errors are one line (plus a hint), never a stack trace.
    expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    c.after?.(store(), result);
  });

  it('reads a journal with a torn last line (a killed writer), and names a corrupt line', async () => {
    const env = { TRACKSTACK_HOME: store() };
    const journalDir = join(store(), 'runs', good, 'journal');
    const [segment] = (await import('node:fs')).readdirSync(journalDir);
    const path = join(journalDir, segment!);
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, `${original}{"t":"b","q":99,"m":{"n":1,`);
    const torn = await runCli(['runs', 'show', good, '--json'], { env });
    expect(torn.code, torn.stderr).toBe(0);
    expect(JSON.parse(torn.stdout).summaries.loss.count).toBe(50);
    const exported = await runCli(['runs', 'export', good], { env });
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout.trim().split('\n')).toHaveLength(50);
    const lines = original.split('\n');
    lines.splice(2, 0, '{"t":"b", this is not json');
    writeFileSync(path, lines.join('\n'));
    const corrupt = await runCli(['runs', 'show', good], { env });
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/line 3 is not valid JSON.*CORRUPT_FILE/);
    writeFileSync(path, original);
  });

  it('names a corrupt run.json, and every other run stays readable', async () => {
    const env = { TRACKSTACK_HOME: store() };
    const tracker = createTracker(
      new LocalExperimentTracker({}, { storeDir: store(), logger: silentLogger }),
    );
    const broken = await tracker.startRun({
      experiment: 'cli',
      name: 'broken',
      logger: silentLogger,
    });
    await broken.end();
    writeFileSync(join(broken.dir, 'run.json'), '{"v":1,');
    // Nothing accepted before is lost: the good run reads back whole.
    const good2 = await runCli(['runs', 'show', good, '--json'], { env });
    expect(good2.code, good2.stderr).toBe(0);
    const json = JSON.parse(good2.stdout);
    expect(json.params).toEqual({ lr: '0.5' });
    expect(json.status).toBe('FINISHED');
    const history = await new LocalRuns(store()).metricHistory(good, 'loss');
    expect(history.map((p) => p.step)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // `runs show <full uid>` must report the damaged file (CORRUPT_FILE), not RUN_NOT_FOUND.
    const shown = await runCli(['runs', 'show', broken.uid], { env });
    expect(shown.code).toBe(1);
    expect(shown.stderr).toMatch(/error: .*run\.json is not valid JSON.*\[CORRUPT_FILE\]/);
  });
});

// ---- config --------------------------------------------------------------------------------

const mlflowFlavor = MlflowExperimentTracker.FLAVOR;

/** Builds the MLflow tracker from a raw config, as getTracker does, and verifies it. */
async function verifyMlflow(raw: Record<string, unknown>): Promise<void> {
  const config = parseConfig(mlflowFlavor, raw);
  await new MlflowExperimentTracker(config, {
    storeDir: join(work, 'cfg-store'),
    logger: silentLogger,
  }).validateConnection();
}

const CONFIG_CASES: { name: string; raw: Record<string, unknown>; message: RegExp }[] = [
  { name: 'no tracking_uri', raw: {}, message: /tracking_uri is required/ },
  {
    name: 'a file store',
    raw: { tracking_uri: 'file:///tmp/mlruns' },
    message: /file stores are not supported/,
  },
  { name: 'not a URL', raw: { tracking_uri: 'not a url' }, message: /must be an http\(s\) URL/ },
  {
    name: 'credentials in the URL',
    raw: { tracking_uri: 'https://u:p@mlflow.example.com' },
    message: /never in the URL/,
  },
  {
    name: 'a user without a password',
    raw: { tracking_uri: 'http://127.0.0.1:5000', tracking_username: 'u' },
    message: /needs tracking_password/,
  },
  {
    name: 'both a token and basic auth',
    raw: {
      tracking_uri: 'http://127.0.0.1:5000',
      tracking_username: 'u',
      tracking_password: 'p',
      tracking_token: 't',
    },
    message: /not both/,
  },
  {
    name: 'a remote server without credentials',
    raw: { tracking_uri: 'https://mlflow.example.com' },
    message: /needs credentials/,
  },
  {
    name: 'databricks without a host',
    raw: { tracking_uri: 'databricks' },
    message: /needs databricks_host/,
  },
  {
    name: 'an unknown field',
    raw: { tracking_uri: 'http://127.0.0.1:5000', trackinguri: 'x' },
    message: /trackinguri|Unrecognized/,
  },
  {
    name: 'a negative timeout',
    raw: { tracking_uri: 'http://127.0.0.1:5000', request_timeout_s: -1 },
    message: /request_timeout_s/,
  },
  {
    name: 'a CA file that does not exist',
    raw: { tracking_uri: 'https://127.0.0.1:5000', tracking_server_cert_path: '/no/such/ca.pem' },
    message: /tracking_server_cert_path/,
  },
];

describe('bad MLflow config', () => {
  it.each(CONFIG_CASES.map((c) => [c.name, c] as const))(
    '%s -> INVALID_CONFIG',
    async (_name, c) => {
      const secretValue = 'p-should-not-show';
      const raw = JSON.parse(JSON.stringify(c.raw).replaceAll('"p"', `"${secretValue}"`));
      const error = await expectError(() => verifyMlflow(raw), {
        code: 'INVALID_CONFIG',
        message: c.message,
      });
      // Messages name fields, never values.
      expect(`${error.message} ${error.hint ?? ''}`).not.toContain(secretValue);
    },
  );
});

describe('TLS and credentials against real peers', () => {
  let tls: TlsServer;
  let auth: MlflowServer;
  const password = 'reliability-admin-pw-123';

  beforeAll(async () => {
    tls = await startSelfSignedMlflow();
    auth = await startMlflowServer({ auth: { adminPassword: password } });
  });
  afterAll(async () => {
    await tls?.close();
    await auth?.stop();
  });

  it('refuses a self-signed server by default with a typed, final error and a hint', async () => {
    // No answer came (the handshake failed): unreachable, and final.
    const error = await expectError(() => verifyMlflow({ tracking_uri: tls.url }), {
      code: 'BACKEND_UNREACHABLE',
      message: /TLS certificate was not accepted/,
    });
    expect((error as BackendError).retryable).toBe(false);
    expect(error.hint).toMatch(/tracking_server_cert_path|tracking_insecure_tls/);
  });

  it('refuses it when the CA given is another one', async () => {
    const error = await expectError(
      () => verifyMlflow({ tracking_uri: tls.url, tracking_server_cert_path: tls.otherCertPath }),
      { code: 'BACKEND_UNREACHABLE', message: /TLS certificate was not accepted/ },
    );
    expect((error as BackendError).retryable).toBe(false);
  });

  it('accepts it with tracking_insecure_tls, or with its certificate as the CA', async () => {
    await expect(
      verifyMlflow({ tracking_uri: tls.url, tracking_insecure_tls: true }),
    ).resolves.toBeUndefined();
    await expect(
      verifyMlflow({ tracking_uri: tls.url, tracking_server_cert_path: tls.certPath }),
    ).resolves.toBeUndefined();
  });

  it('refuses wrong credentials with a typed 401 that is final, and a run still keeps its data in the journal', async () => {
    const wrong = 'wrong-password-456';
    const error = await expectError(
      () =>
        verifyMlflow({
          tracking_uri: auth.url,
          tracking_username: 'admin',
          tracking_password: wrong,
        }),
      { code: 'BACKEND_REJECTED' },
    );
    expect(error).toMatchObject({ statusCode: 401, retryable: false });
    expect(`${error.message} ${error.hint}`).toMatch(/credentials/);
    const tracker = createTracker(
      new MlflowExperimentTracker(
        parseConfig(mlflowFlavor, {
          tracking_uri: auth.url,
          tracking_username: 'admin',
          tracking_password: wrong,
        }),
        { storeDir: join(work, 'cfg-store'), logger: silentLogger },
      ),
    );
    const run = await tracker.startRun({
      experiment: 'wrong-creds',
      logger: silentLogger,
      startTimeoutMs: 5_000,
    });
    for (let step = 0; step < 10; step++) run.logMetric('kept', step, { step });
    const report = await run.end('FINISHED', { timeoutMs: 2_000 });
    expect(report.destinations[0]?.errors.map((e) => (e as BackendError).statusCode)).toEqual([
      401,
    ]);
    expect(report.hint).toContain(`trackstack sync ${run.uid}`);
    const history = await new LocalRuns(join(work, 'cfg-store')).metricHistory(run.uid, 'kept');
    expect(history).toHaveLength(10);
    // The right credentials work (so the 401 was about the password).
    await expect(
      verifyMlflow({
        tracking_uri: auth.url,
        tracking_username: 'admin',
        tracking_password: password,
      }),
    ).resolves.toBeUndefined();
    expect(statSync(join(work, 'cfg-store')).isDirectory()).toBe(true);
  });
});
