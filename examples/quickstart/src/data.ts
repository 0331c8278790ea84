/** A seeded PRNG and the two-moons dataset the quickstart trains on. */

/** Returns floats in [0, 1), like `Math.random`, but reproducible from a seed. */
export type Random = () => number;

export interface Example {
  features: readonly number[];
  /** Class index: 0 for the upper moon, 1 for the lower one. */
  label: number;
}

export const CLASS_NAMES = ['upper moon', 'lower moon'] as const;

/** mulberry32: tiny, fast and good enough for sampling; not for anything secret. */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Derives an independent seed per purpose (data, weight init, shuffling), so
 * that changing one setting, say the hidden size, leaves the data unchanged.
 */
export function deriveSeed(seed: number, purpose: string): number {
  // FNV-1a over the purpose, mixed with the seed.
  let hash = 0x811c9dc5 ^ (seed >>> 0);
  for (let index = 0; index < purpose.length; index++) {
    hash = Math.imul(hash ^ purpose.charCodeAt(index), 0x01000193);
  }
  return hash >>> 0;
}

/** A standard normal sample (Box-Muller). */
function gaussian(random: Random): number {
  // 1 - u is in (0, 1], so the logarithm stays finite.
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Shuffles in place (Fisher-Yates) and returns the same array. */
export function shuffle<T>(items: T[], random: Random): T[] {
  for (let index = items.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [items[index], items[other]] = [items[other]!, items[index]!];
  }
  return items;
}

export interface MoonsOptions {
  samples: number;
  /** Standard deviation of the Gaussian noise added to both coordinates. */
  noise: number;
  random: Random;
}

/**
 * Two interleaving half circles, as scikit-learn's `make_moons`: not linearly
 * separable, so a linear model tops out well below what a small MLP reaches.
 */
export function makeMoons({ samples, noise, random }: MoonsOptions): Example[] {
  const examples: Example[] = [];
  for (let index = 0; index < samples; index++) {
    const label = index % 2;
    const angle = Math.PI * random();
    const x = label === 0 ? Math.cos(angle) : 1 - Math.cos(angle);
    const y = label === 0 ? Math.sin(angle) : 0.5 - Math.sin(angle);
    examples.push({
      features: [x + noise * gaussian(random), y + noise * gaussian(random)],
      label,
    });
  }
  return examples;
}

export interface Split {
  train: Example[];
  validation: Example[];
}

export function splitTrainValidation(
  examples: readonly Example[],
  validationFraction: number,
  random: Random,
): Split {
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw new RangeError(`validationFraction must be in (0, 1), got ${validationFraction}`);
  }
  const shuffled = shuffle([...examples], random);
  const validationSize = Math.round(examples.length * validationFraction);
  return { validation: shuffled.slice(0, validationSize), train: shuffled.slice(validationSize) };
}
