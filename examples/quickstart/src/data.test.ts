import { describe, expect, it } from 'vitest';
import { createRandom, deriveSeed, makeMoons, splitTrainValidation } from './data.js';

describe('createRandom', () => {
  it('repeats its sequence for a seed and stays in [0, 1)', () => {
    const first = Array.from({ length: 1000 }, createRandom(123));
    const second = Array.from({ length: 1000 }, createRandom(123));
    expect(second).toEqual(first);
    expect(first.every((value) => value >= 0 && value < 1)).toBe(true);
    expect(Array.from({ length: 1000 }, createRandom(124))).not.toEqual(first);
  });
});

describe('deriveSeed', () => {
  it('gives each purpose its own stream', () => {
    expect(deriveSeed(42, 'data')).not.toBe(deriveSeed(42, 'init'));
    expect(deriveSeed(42, 'data')).not.toBe(deriveSeed(43, 'data'));
    expect(deriveSeed(42, 'data')).toBe(deriveSeed(42, 'data'));
  });
});

describe('makeMoons and splitTrainValidation', () => {
  it('makes balanced classes and splits without losing or repeating examples', () => {
    const random = createRandom(9);
    const examples = makeMoons({ samples: 400, noise: 0.1, random });
    expect(examples.filter((example) => example.label === 1)).toHaveLength(200);
    const { train, validation } = splitTrainValidation(examples, 0.25, random);
    expect(validation).toHaveLength(100);
    expect(train).toHaveLength(300);
    expect(new Set([...train, ...validation])).toEqual(new Set(examples));
  });

  it('refuses a validation fraction outside (0, 1)', () => {
    expect(() => splitTrainValidation([], 1, createRandom(1))).toThrow(RangeError);
  });
});
