/**
 * The training each rank does: logistic regression by SGD on its shard of a generated
 * dataset (two Gaussian blobs, seeded, so every rank draws the same data and takes every
 * WORLD_SIZE-th example, as a DistributedSampler does).
 */

/** A seeded generator (mulberry32), so every rank sees the same dataset. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Example {
  x: [number, number];
  y: 0 | 1;
}

/** `count` examples; rank `rank` of `worldSize` keeps every worldSize-th one. */
export function shard(count: number, rank: number, worldSize: number, seed = 7): Example[] {
  const next = random(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const all: Example[] = [];
  for (let i = 0; i < count; i++) {
    const y = (i % 2) as 0 | 1;
    const centre = y === 1 ? 0.8 : -0.8;
    all.push({ x: [centre + gaussian(), centre + gaussian()], y });
  }
  return all.filter((_, i) => i % worldSize === rank);
}

export interface Model {
  w: [number, number];
  b: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** One epoch of SGD over the shard; the shard's mean log loss and accuracy after it. */
export function epoch(
  model: Model,
  data: readonly Example[],
  lr: number,
): { loss: number; accuracy: number } {
  for (const { x, y } of data) {
    const p = sigmoid(model.w[0] * x[0] + model.w[1] * x[1] + model.b);
    const g = p - y;
    model.w[0] -= lr * g * x[0];
    model.w[1] -= lr * g * x[1];
    model.b -= lr * g;
  }
  let loss = 0;
  let correct = 0;
  for (const { x, y } of data) {
    const p = Math.min(
      Math.max(sigmoid(model.w[0] * x[0] + model.w[1] * x[1] + model.b), 1e-12),
      1 - 1e-12,
    );
    loss -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
    if ((p >= 0.5 ? 1 : 0) === y) correct++;
  }
  return { loss: loss / data.length, accuracy: correct / data.length };
}
