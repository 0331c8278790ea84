import { describe, expect, it } from 'vitest';
import { createRandom, deriveSeed, type Example, makeMoons, splitTrainValidation } from './data.js';
import {
  createMlp,
  createSgd,
  deserializeMlp,
  evaluate,
  lossAndGradients,
  type Mlp,
  predictProbabilities,
  serializeMlp,
  trainEpoch,
} from './model.js';

function moons(seed: number) {
  const random = createRandom(deriveSeed(seed, 'data'));
  return splitTrainValidation(makeMoons({ samples: 400, noise: 0.15, random }), 0.25, random);
}

function trainedModel(seed: number, epochs: number): { model: Mlp; validation: Example[] } {
  const { train, validation } = moons(seed);
  const model = createMlp(
    { inputSize: 2, hiddenSizes: [16], outputSize: 2 },
    createRandom(deriveSeed(seed, 'init')),
  );
  const optimizer = createSgd(model, { learningRate: 0.1, momentum: 0.9 });
  const shuffleRandom = createRandom(deriveSeed(seed, 'shuffle'));
  for (let epoch = 0; epoch < epochs; epoch++) {
    trainEpoch(model, optimizer, train, 16, shuffleRandom);
  }
  return { model, validation };
}

describe('lossAndGradients', () => {
  it('matches central finite differences for every weight and bias', () => {
    const random = createRandom(7);
    // Two hidden layers, so the check covers backpropagation through a hidden-to-hidden layer.
    const model = createMlp({ inputSize: 2, hiddenSizes: [5, 4], outputSize: 3 }, random);
    for (const layer of model.layers) {
      layer.biases.forEach((_, index) => {
        layer.biases[index] = random() - 0.5;
      });
    }
    const batch: Example[] = Array.from({ length: 6 }, (_, index) => ({
      features: [2 * random() - 1, 2 * random() - 1],
      label: index % 3,
    }));
    const { gradients } = lossAndGradients(model, batch);
    const epsilon = 1e-5;
    let checked = 0;
    model.layers.forEach((layer, layerIndex) => {
      for (const name of ['weights', 'biases'] as const) {
        const parameters = layer[name];
        parameters.forEach((original, index) => {
          parameters[index] = original + epsilon;
          const above = lossAndGradients(model, batch).loss;
          parameters[index] = original - epsilon;
          const below = lossAndGradients(model, batch).loss;
          parameters[index] = original;
          const numeric = (above - below) / (2 * epsilon);
          const analytic = gradients[layerIndex]![name][index]!;
          expect(Math.abs(numeric - analytic)).toBeLessThan(1e-7 + 1e-5 * Math.abs(numeric));
          checked++;
        });
      }
    });
    expect(checked).toBe(2 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3);
  });

  it('gives probabilities that sum to one even for large inputs', () => {
    const model = createMlp({ inputSize: 2, hiddenSizes: [4], outputSize: 2 }, createRandom(1));
    const probabilities = predictProbabilities(model, [1e6, -1e6]);
    expect(probabilities.every(Number.isFinite)).toBe(true);
    expect(probabilities.reduce((sum, value) => sum + value, 0)).toBeCloseTo(1, 12);
  });
});

describe('training', () => {
  it('is deterministic given the seed', () => {
    const first = serializeMlp(trainedModel(3, 5).model);
    const second = serializeMlp(trainedModel(3, 5).model);
    const otherSeed = serializeMlp(trainedModel(4, 5).model);
    expect(second).toEqual(first);
    expect(otherSeed).not.toEqual(first);
  });

  it('learns the moons to over 90 % validation accuracy', () => {
    const { validation } = moons(42);
    const untrained = createMlp(
      { inputSize: 2, hiddenSizes: [16], outputSize: 2 },
      createRandom(deriveSeed(42, 'init')),
    );
    const before = evaluate(untrained, validation);
    const after = evaluate(trainedModel(42, 40).model, validation);
    expect(after.accuracy).toBeGreaterThan(0.9);
    expect(after.loss).toBeLessThan(before.loss / 2);
    const counted = after.confusionMatrix.flat().reduce((sum, count) => sum + count, 0);
    expect(counted).toBe(validation.length);
  });
});

describe('serializeMlp / deserializeMlp', () => {
  it('round-trips through JSON to a model that predicts the same', () => {
    const { model, validation } = trainedModel(5, 3);
    const restored = deserializeMlp(JSON.parse(JSON.stringify(serializeMlp(model))));
    for (const example of validation.slice(0, 20)) {
      expect(predictProbabilities(restored, example.features)).toEqual(
        predictProbabilities(model, example.features),
      );
    }
  });

  it('refuses weights that do not fit the architecture', () => {
    const serialized = serializeMlp(trainedModel(5, 0).model);
    serialized.layers[0]!.weights.pop();
    expect(() => deserializeMlp(serialized)).toThrow(/layer 0 is not 16x2/);
    expect(() => deserializeMlp({ format: 'something-else' })).toThrow();
  });
});
