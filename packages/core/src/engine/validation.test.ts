import { describe, expect, it } from 'vitest';
import {
  type TrackstackErrorCode,
  ValidationError,
  type ValidationRule,
} from '../contract/errors.js';
import { DEFAULT_LIMITS, type LoggingLimits } from '../contract/limits.js';
import type { KeyValue } from '../contract/types.js';
import {
  checkParamConflict,
  flattenParams,
  MAX_PARAM_DEPTH,
  normalizeMetricValue,
  normalizeStep,
  normalizeTag,
  normalizeTags,
  normalizeTimestamp,
  paramValueToString,
  RESERVED_TAG_PREFIX,
  validateKey,
} from './validation.js';

const limits: LoggingLimits = { ...DEFAULT_LIMITS.logging };
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

interface Expected {
  code: TrackstackErrorCode;
  key: string;
  rule: ValidationRule;
}

/** Runs `fn`, which must throw a ValidationError with exactly this code, key and rule. */
function expectValidationError(fn: () => unknown, expected: Expected): ValidationError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected a ValidationError to be thrown').toBeDefined();
  expect(ValidationError.isInstance(thrown)).toBe(true);
  const error = thrown as ValidationError;
  expect({ code: error.code, key: error.key, rule: error.rule }).toEqual(expected);
  expect(error.name).toBe('ValidationError');
  return error;
}

describe('validateKey', () => {
  const accepted: [string, string][] = [
    ['a plain name', 'loss'],
    ['one character', 'a'],
    ['a digit only', '0'],
    ['a path', 'train/loss'],
    ['dots', 'val.acc'],
    ['every allowed punctuation', 'a-b_c d:e.f/g'],
    ['Unicode letters', 'größe/精度'],
    ['Cyrillic and Greek', 'точность/αβγ'],
    ['non-ASCII digits', 'epoch_٣'],
    ['a leading dot in a segment', '.hidden/x'],
    ['two dots inside a segment', 'a..b'],
    ['three dots as a segment', 'a/.../b'],
    ['exactly the key length limit', 'k'.repeat(DEFAULT_LIMITS.logging.maxKeyLength)],
  ];
  it.each(accepted)('accepts %s', (_name, key) => {
    expect(validateKey(key, 'metric', limits)).toBe(key);
  });

  const refused: [string, string, ValidationRule][] = [
    ['an empty key', '', 'key-empty'],
    [
      'one over the length limit',
      'k'.repeat(DEFAULT_LIMITS.logging.maxKeyLength + 1),
      'key-too-long',
    ],
    ['far over the length limit', 'k'.repeat(10_000), 'key-too-long'],
    ['!', 'a!b', 'key-characters'],
    ['#', 'a#b', 'key-characters'],
    ['a newline', 'a\nb', 'key-characters'],
    ['a trailing newline', 'loss\n', 'key-characters'],
    ['a tab', 'a\tb', 'key-characters'],
    ['a backslash', 'a\\b', 'key-characters'],
    ['@', 'a@b', 'key-characters'],
    ['a comma', 'a,b', 'key-characters'],
    ['an emoji', 'rocket🚀', 'key-characters'],
    ['a NUL character', 'a\u0000b', 'key-characters'],
    ['a leading /', '/a', 'key-path'],
    ['a trailing /', 'a/', 'key-path'],
    ['only /', '/', 'key-path'],
    ['//', 'a//b', 'key-path'],
    ['. alone', '.', 'key-path'],
    ['.. alone', '..', 'key-path'],
    ['a ./ prefix', './a', 'key-path'],
    ['a ../ prefix', '../a', 'key-path'],
    ['a /. suffix', 'a/.', 'key-path'],
    ['a . segment', 'a/./b', 'key-path'],
    ['a .. segment', 'a/../b', 'key-path'],
  ];
  it.each(refused)('refuses %s', (_name, key, rule) => {
    for (const kind of ['metric', 'param', 'tag'] as const) {
      const error = expectValidationError(() => validateKey(key, kind, limits), {
        code: 'INVALID_KEY',
        key,
        rule,
      });
      expect(error.message).toContain(kind);
    }
  });

  it('checks the length against the limits it is given', () => {
    const tight = { ...limits, maxKeyLength: 10 };
    expect(validateKey('k'.repeat(10), 'param', tight)).toBe('k'.repeat(10));
    expectValidationError(() => validateKey('k'.repeat(11), 'param', tight), {
      code: 'INVALID_KEY',
      key: 'k'.repeat(11),
      rule: 'key-too-long',
    });
  });

  it('clips very long keys in the message but keeps the whole key on the error', () => {
    const key = 'k'.repeat(300);
    const error = expectValidationError(() => validateKey(key, 'metric', limits), {
      code: 'INVALID_KEY',
      key,
      rule: 'key-too-long',
    });
    expect(error.message).toContain('300 characters');
    expect(error.message).toContain('at most 250');
    expect(error.message).not.toContain(key);
  });

  const nonStrings: [string, unknown, string][] = [
    ['a number', 42, '42'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['a boolean', true, 'true'],
    ['an object', {}, '[object Object]'],
    ['a symbol', Symbol('s'), 'Symbol(s)'],
  ];
  it.each(nonStrings)('refuses %s as a key', (_name, key, shown) => {
    const error = expectValidationError(() => validateKey(key, 'metric', limits), {
      code: 'INVALID_KEY',
      key: shown,
      rule: 'key-characters',
    });
    expect(error.message).toContain('must be strings');
  });
});

describe('normalizeMetricValue', () => {
  const kept: [string, unknown, number][] = [
    ['an integer', 3, 3],
    ['zero', 0, 0],
    ['a negative float', -1.5, -1.5],
    ['NaN', Number.NaN, Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY],
    ['the largest double', Number.MAX_VALUE, Number.MAX_VALUE],
    ['a small bigint', 42n, 42],
    ['a bigint at the safe maximum', BigInt(MAX_SAFE), MAX_SAFE],
    ['a bigint at the safe minimum', -BigInt(MAX_SAFE), -MAX_SAFE],
  ];
  it.each(kept)('keeps %s', (_name, value, expected) => {
    expect(normalizeMetricValue('m', value)).toBe(expected);
  });

  const refused: [string, unknown][] = [
    ['a bigint above the safe range', BigInt(MAX_SAFE) + 1n],
    ['a bigint below the safe range', -BigInt(MAX_SAFE) - 1n],
    ['a boolean', true],
    ['a numeric string', '1'],
    ['null', null],
    ['undefined', undefined],
    ['an object', { value: 1 }],
    ['an array', [1]],
    ['a Number object', Object(1)],
    ['a Date', new Date(0)],
  ];
  it.each(refused)('refuses %s', (_name, value) => {
    expectValidationError(() => normalizeMetricValue('train/loss', value), {
      code: 'INVALID_VALUE',
      key: 'train/loss',
      rule: 'value-type',
    });
  });
});

describe('normalizeStep', () => {
  const accepted: [string, unknown, number][] = [
    ['0', 0, 0],
    ['1', 1, 1],
    ['the largest safe integer', MAX_SAFE, MAX_SAFE],
    ['a bigint', 5n, 5],
    ['bigint 0', 0n, 0],
    ['the largest safe bigint', BigInt(MAX_SAFE), MAX_SAFE],
  ];
  it.each(accepted)('accepts %s', (_name, step, expected) => {
    expect(normalizeStep('m', step)).toBe(expected);
  });

  const refused: [string, unknown][] = [
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['2^53', 2 ** 53],
    ['a negative bigint', -1n],
    ['a bigint above the safe range', BigInt(MAX_SAFE) + 1n],
    ['a numeric string', '1'],
    ['null', null],
    ['undefined', undefined],
  ];
  it.each(refused)('refuses %s', (_name, step) => {
    expectValidationError(() => normalizeStep('m', step), {
      code: 'INVALID_VALUE',
      key: 'm',
      rule: 'step',
    });
  });
});

describe('normalizeTimestamp', () => {
  const accepted: [string, unknown, number][] = [
    ['a Date', new Date(1_700_000_000_123), 1_700_000_000_123],
    ['epoch milliseconds', 1_700_000_000_000, 1_700_000_000_000],
    ['0', 0, 0],
    ['a float, floored', 1_700_000_000_000.9, 1_700_000_000_000],
    ['a small float, floored', 1.9, 1],
  ];
  it.each(accepted)('accepts %s', (_name, timestamp, expected) => {
    expect(normalizeTimestamp('m', timestamp)).toBe(expected);
  });

  const refused: [string, unknown][] = [
    ['a negative number', -1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['an invalid Date', new Date('not a date')],
    ['a Date before 1970', new Date(-1000)],
    ['an ISO string', '2024-01-01T00:00:00Z'],
    ['null', null],
  ];
  it.each(refused)('refuses %s', (_name, timestamp) => {
    expectValidationError(() => normalizeTimestamp('m', timestamp), {
      code: 'INVALID_VALUE',
      key: 'm',
      rule: 'timestamp',
    });
  });
});

/** `{ k: { k: ... { k: 1 } } }`, whose one flattened key has `segments` segments. */
function nested(segments: number, leaf: unknown = 1): Record<string, unknown> {
  let value: unknown = leaf;
  for (let i = 0; i < segments; i++) value = { k: value };
  return value as Record<string, unknown>;
}

class Version {
  constructor(private readonly text: string) {}
  toJSON(): string {
    return this.text;
  }
}

class Optimizer {
  toJSON(): Record<string, unknown> {
    return { name: 'adam', lr: 0.001 };
  }
}

describe('flattenParams', () => {
  const kv = (entries: Record<string, string>): KeyValue[] =>
    Object.entries(entries).map(([key, value]) => ({ key, value }));

  const cases: [string, unknown, KeyValue[]][] = [
    ['an empty object', {}, []],
    [
      'strings as they are',
      { a: 'x', b: '', c: 'with space' },
      kv({ a: 'x', b: '', c: 'with space' }),
    ],
    [
      'numbers by String()',
      { i: 1, f: 0.5, neg: -2, big: 1e21, tiny: 1e-7 },
      kv({ i: '1', f: '0.5', neg: '-2', big: '1e+21', tiny: '1e-7' }),
    ],
    ['-0 as "0"', { z: -0 }, kv({ z: '0' })],
    [
      'non-finite numbers by name',
      {
        nan: Number.NaN,
        inf: Number.POSITIVE_INFINITY,
        ninf: Number.NEGATIVE_INFINITY,
      },
      kv({ nan: 'NaN', inf: 'Infinity', ninf: '-Infinity' }),
    ],
    ['booleans', { t: true, f: false }, kv({ t: 'true', f: 'false' })],
    ['bigints, whole', { n: 12_345_678_901_234_567_890n }, kv({ n: '12345678901234567890' })],
    ['null', { n: null }, kv({ n: 'null' })],
    [
      'a Date as ISO 8601',
      { d: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) },
      kv({ d: '2024-01-02T03:04:05.678Z' }),
    ],
    [
      'nested objects with "."',
      { opt: { lr: 0.01, betas: { b1: 0.9, b2: 0.999 } }, seed: 1 },
      kv({ 'opt.lr': '0.01', 'opt.betas.b1': '0.9', 'opt.betas.b2': '0.999', seed: '1' }),
    ],
    ['an empty nested object as "{}"', { opt: {} }, kv({ opt: '{}' })],
    ['a deeper empty object as "{}"', { a: { b: {} } }, kv({ 'a.b': '{}' })],
    ['an object of only undefined values as "{}"', { c: { d: undefined } }, kv({ c: '{}' })],
    [
      'a null-prototype object as a plain object',
      { o: Object.assign(Object.create(null) as object, { x: 1 }) },
      kv({ 'o.x': '1' }),
    ],
    ['arrays as JSON', { layers: [64, 32] }, kv({ layers: '[64,32]' })],
    ['an empty array', { a: [] }, kv({ a: '[]' })],
    [
      'non-finite numbers in arrays as strings',
      { a: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1] },
      kv({ a: '["NaN","Infinity","-Infinity",1]' }),
    ],
    ['bigints in arrays as strings', { a: [1n, 2] }, kv({ a: '["1",2]' })],
    [
      'objects and arrays inside arrays',
      { a: [{ x: 1, y: [2, 'z'] }, [true, null]] },
      kv({ a: '[{"x":1,"y":[2,"z"]},[true,null]]' }),
    ],
    [
      'a Date inside an array as ISO 8601',
      { a: [new Date(Date.UTC(2024, 0, 1))] },
      kv({ a: '["2024-01-01T00:00:00.000Z"]' }),
    ],
    [
      'undefined values skipped',
      { a: undefined, b: 1, c: { d: undefined, e: 2 } },
      kv({ b: '1', 'c.e': '2' }),
    ],
    [
      'a toJSON() object as what it returns',
      { version: new Version('1.2.3') },
      kv({ version: '1.2.3' }),
    ],
    [
      'a toJSON() object returning an object, flattened',
      { optimizer: new Optimizer() },
      kv({ 'optimizer.name': 'adam', 'optimizer.lr': '0.001' }),
    ],
    [
      'a URL by its toJSON()',
      { endpoint: new URL('https://example.com/a?b=1') },
      kv({ endpoint: 'https://example.com/a?b=1' }),
    ],
    [
      'the same object twice (shared, not circular)',
      (() => {
        const shared = { x: 1 };
        return { a: shared, b: shared };
      })(),
      kv({ 'a.x': '1', 'b.x': '1' }),
    ],
    ['Unicode keys', { größe: { 精度: 1 } }, kv({ 'größe.精度': '1' })],
  ];
  it.each(cases)('logs %s', (_name, params, expected) => {
    expect(flattenParams(params, limits)).toEqual(expected);
  });

  it('logs a plain object with toJSON() as what it returns, as JSON.stringify does', () => {
    const params = { version: { toJSON: () => '1.2.3' } };
    expect(JSON.parse(JSON.stringify(params))).toEqual({ version: '1.2.3' });
    expect(flattenParams(params, limits)).toEqual(kv({ version: '1.2.3' }));
  });

  const refusedTypes: [string, Record<string, unknown>, string][] = [
    ['a function', { f: () => 1 }, 'f'],
    ['a symbol', { s: Symbol('x') }, 's'],
    ['a Map', { m: new Map([['a', 1]]) }, 'm'],
    ['a Set', { s: new Set([1]) }, 's'],
    ['a class instance', { c: new (class Model {})() }, 'c'],
    ['a nested Map, by its full key', { opt: { sched: new Map() } }, 'opt.sched'],
    ['a function inside an array', { a: [1, () => 2] }, 'a'],
    ['a symbol inside an array', { a: [Symbol('x')] }, 'a'],
    [
      'a toJSON() that returns a Map',
      {
        t: new (class Weird {
          toJSON() {
            return new Map();
          }
        })(),
      },
      't',
    ],
  ];
  it.each(refusedTypes)('refuses %s', (_name, params, key) => {
    expectValidationError(() => flattenParams(params, limits), {
      code: 'INVALID_VALUE',
      key,
      rule: 'value-type',
    });
  });

  it('names the refused type in the message', () => {
    const error = expectValidationError(() => flattenParams({ m: new Map() }, limits), {
      code: 'INVALID_VALUE',
      key: 'm',
      rule: 'value-type',
    });
    expect(error.message).toContain('Map');
  });

  it('refuses an object that contains itself', () => {
    const params: Record<string, unknown> = { a: 1 };
    params.self = params;
    expectValidationError(() => flattenParams(params, limits), {
      code: 'INVALID_VALUE',
      key: 'self',
      rule: 'value-circular',
    });
  });

  it('refuses a cycle further down, by the key where it closes', () => {
    const root: Record<string, unknown> = {};
    const child: Record<string, unknown> = { parent: root };
    root.child = child;
    expectValidationError(() => flattenParams(root, limits), {
      code: 'INVALID_VALUE',
      key: 'child.parent',
      rule: 'value-circular',
    });
  });

  it('refuses an array that contains itself', () => {
    const array: unknown[] = [1];
    array.push(array);
    expectValidationError(() => flattenParams({ arr: array }, limits), {
      code: 'INVALID_VALUE',
      key: 'arr',
      rule: 'value-circular',
    });
  });

  it('refuses an array that holds the object that holds it', () => {
    const params: Record<string, unknown> = {};
    params.list = [params];
    expectValidationError(() => flattenParams(params, limits), {
      code: 'INVALID_VALUE',
      key: 'list',
      rule: 'value-circular',
    });
  });

  it(`accepts ${MAX_PARAM_DEPTH} levels of nesting and refuses ${MAX_PARAM_DEPTH + 1}`, () => {
    expect(MAX_PARAM_DEPTH).toBe(16);
    const deepest = Array.from({ length: MAX_PARAM_DEPTH }, () => 'k').join('.');
    expect(flattenParams(nested(MAX_PARAM_DEPTH), limits)).toEqual([{ key: deepest, value: '1' }]);
    const error = expectValidationError(() => flattenParams(nested(MAX_PARAM_DEPTH + 1), limits), {
      code: 'INVALID_VALUE',
      key: deepest,
      rule: 'too-deep',
    });
    expect(error.message).toContain(String(MAX_PARAM_DEPTH));
  });

  it('counts an empty object at the bottom as a level', () => {
    const deepest = Array.from({ length: MAX_PARAM_DEPTH }, () => 'k').join('.');
    expectValidationError(() => flattenParams(nested(MAX_PARAM_DEPTH, {}), limits), {
      code: 'INVALID_VALUE',
      key: deepest,
      rule: 'too-deep',
    });
  });

  it('accepts a value at the length limit and refuses one more character', () => {
    const max = DEFAULT_LIMITS.logging.maxParamValueLength;
    expect(flattenParams({ v: 'x'.repeat(max) }, limits)).toEqual([
      { key: 'v', value: 'x'.repeat(max) },
    ]);
    const error = expectValidationError(() => flattenParams({ v: 'x'.repeat(max + 1) }, limits), {
      code: 'INVALID_VALUE',
      key: 'v',
      rule: 'value-too-long',
    });
    expect(error.message).toContain(`at most ${max}`);
  });

  it('checks the length of an array after it is written as JSON', () => {
    const tight = { ...limits, maxParamValueLength: 7 };
    expect(flattenParams({ a: [1, 2, 3] }, tight)).toEqual([{ key: 'a', value: '[1,2,3]' }]);
    expectValidationError(() => flattenParams({ a: [1, 2, 30] }, tight), {
      code: 'INVALID_VALUE',
      key: 'a',
      rule: 'value-too-long',
    });
  });

  it('checks the flattened keys with the key rules', () => {
    expectValidationError(() => flattenParams({ 'bad!': 1 }, limits), {
      code: 'INVALID_KEY',
      key: 'bad!',
      rule: 'key-characters',
    });
    expectValidationError(() => flattenParams({ a: { 'b/': 1 } }, limits), {
      code: 'INVALID_KEY',
      key: 'a.b/',
      rule: 'key-path',
    });
    const long = { ['x'.repeat(200)]: { ['y'.repeat(60)]: 1 } };
    expectValidationError(() => flattenParams(long, limits), {
      code: 'INVALID_KEY',
      key: `${'x'.repeat(200)}.${'y'.repeat(60)}`,
      rule: 'key-too-long',
    });
  });

  const notObjects: [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', 'lr=0.1'],
    ['an array', [1, 2]],
    ['a Map', new Map()],
    ['a class instance', new Version('1')],
    ['a Date', new Date()],
  ];
  it.each(notObjects)('refuses %s as params', (_name, params) => {
    const error = expectValidationError(() => flattenParams(params, limits), {
      code: 'INVALID_VALUE',
      key: '(params)',
      rule: 'value-type',
    });
    expect(error.message).toContain('plain object');
  });
});

describe('paramValueToString', () => {
  it('converts single values the way flattenParams does', () => {
    expect(paramValueToString('k', 'x')).toBe('x');
    expect(paramValueToString('k', -0)).toBe('0');
    expect(paramValueToString('k', 10n)).toBe('10');
    expect(paramValueToString('k', null)).toBe('null');
    expect(paramValueToString('k', [1, 'a'])).toBe('[1,"a"]');
    expectValidationError(() => paramValueToString('k', undefined), {
      code: 'INVALID_VALUE',
      key: 'k',
      rule: 'value-type',
    });
  });
});

describe('normalizeTags', () => {
  it('keeps strings and writes numbers, booleans and bigints with String()', () => {
    expect(
      normalizeTags(
        { s: 'x', empty: '', n: 1.5, nan: Number.NaN, t: true, big: 10n, 'größe/精度': 'ok' },
        limits,
      ),
    ).toEqual([
      { key: 's', value: 'x' },
      { key: 'empty', value: '' },
      { key: 'n', value: '1.5' },
      { key: 'nan', value: 'NaN' },
      { key: 't', value: 'true' },
      { key: 'big', value: '10' },
      { key: 'größe/精度', value: 'ok' },
    ]);
  });

  it('accepts an empty object', () => {
    expect(normalizeTags({}, limits)).toEqual([]);
  });

  const refusedValues: [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['an object', { a: 1 }],
    ['an array', ['a']],
    ['a Date', new Date()],
    ['a function', () => 'x'],
    ['a symbol', Symbol('x')],
  ];
  it.each(refusedValues)('refuses %s as a value', (_name, value) => {
    expectValidationError(() => normalizeTags({ team: value }, limits), {
      code: 'INVALID_VALUE',
      key: 'team',
      rule: 'value-type',
    });
  });

  it.each(['trackstack.uid', 'trackstack.anything', 'trackstack.'])(
    'refuses the reserved key %s',
    (key) => {
      expect(RESERVED_TAG_PREFIX).toBe('trackstack.');
      const error = expectValidationError(() => normalizeTags({ [key]: 'x' }, limits), {
        code: 'INVALID_KEY',
        key,
        rule: 'key-reserved',
      });
      expect(error.message).toContain('trackstack.');
    },
  );

  it.each(['trackstack', 'trackstackx.uid', 'my.trackstack.uid'])(
    'accepts %s, which is outside the reserved prefix',
    (key) => {
      expect(normalizeTags({ [key]: 'x' }, limits)).toEqual([{ key, value: 'x' }]);
    },
  );

  it('applies the key rules to tag keys', () => {
    expectValidationError(() => normalizeTags({ 'a//b': 'x' }, limits), {
      code: 'INVALID_KEY',
      key: 'a//b',
      rule: 'key-path',
    });
    expectValidationError(() => normalizeTags({ '': 'x' }, limits), {
      code: 'INVALID_KEY',
      key: '',
      rule: 'key-empty',
    });
  });

  it('accepts a value at the length limit and refuses one more character', () => {
    const max = DEFAULT_LIMITS.logging.maxTagValueLength;
    expect(normalizeTags({ note: 'x'.repeat(max) }, limits)).toEqual([
      { key: 'note', value: 'x'.repeat(max) },
    ]);
    expectValidationError(() => normalizeTags({ note: 'x'.repeat(max + 1) }, limits), {
      code: 'INVALID_VALUE',
      key: 'note',
      rule: 'value-too-long',
    });
    const tight = { ...limits, maxTagValueLength: 3 };
    expect(normalizeTag('n', 123, tight)).toEqual({ key: 'n', value: '123' });
    expectValidationError(() => normalizeTag('n', 1234, tight), {
      code: 'INVALID_VALUE',
      key: 'n',
      rule: 'value-too-long',
    });
  });

  it.each([
    ['null', null],
    ['an array', [['a', 'b']]],
    ['a Map', new Map([['a', 'b']])],
    ['a string', 'a=b'],
  ] as [string, unknown][])('refuses %s as tags', (_name, tags) => {
    expectValidationError(() => normalizeTags(tags, limits), {
      code: 'INVALID_VALUE',
      key: '(tags)',
      rule: 'value-type',
    });
  });
});

describe('checkParamConflict', () => {
  it('says a new param is new, the same value again is a no-op, another value is a conflict', () => {
    const logged = new Map([['lr', '0.01']]);
    expect(checkParamConflict(logged, { key: 'epochs', value: '10' })).toBe(true);
    expect(checkParamConflict(logged, { key: 'lr', value: '0.01' })).toBe(false);
    const error = expectValidationError(
      () => checkParamConflict(logged, { key: 'lr', value: '0.1' }),
      { code: 'PARAM_CONFLICT', key: 'lr', rule: 'param-conflict' },
    );
    expect(error.message).toContain('"0.01"');
    expect(error.message).toContain('"0.1"');
  });

  it('clips long values in the message', () => {
    const logged = new Map([['text', 'a'.repeat(500)]]);
    const error = expectValidationError(
      () => checkParamConflict(logged, { key: 'text', value: 'b'.repeat(500) }),
      { code: 'PARAM_CONFLICT', key: 'text', rule: 'param-conflict' },
    );
    expect(error.message).not.toContain('a'.repeat(100));
    expect(error.message).toContain('...');
  });

  it('treats the empty string as a value', () => {
    const logged = new Map([['note', '']]);
    expect(checkParamConflict(logged, { key: 'note', value: '' })).toBe(false);
    expectValidationError(() => checkParamConflict(logged, { key: 'note', value: 'x' }), {
      code: 'PARAM_CONFLICT',
      key: 'note',
      rule: 'param-conflict',
    });
  });
});
