/**
 * A multilayer perceptron in plain TypeScript: tanh hidden layers, a softmax
 * output, cross-entropy loss, backpropagation and SGD with momentum.
 */
import { z } from 'zod';
import { type Example, type Random, shuffle } from './data.js';

export interface MlpArchitecture {
  inputSize: number;
  hiddenSizes: readonly number[];
  outputSize: number;
}

/** A fully connected layer; `weights` is row-major, one row of `inputSize` per output unit. */
interface DenseLayer {
  inputSize: number;
  outputSize: number;
  weights: Float64Array;
  biases: Float64Array;
}

export interface Mlp {
  architecture: MlpArchitecture;
  layers: DenseLayer[];
}

/** Same shape as the model's layers: one entry per weight and bias. */
export type Gradients = Pick<DenseLayer, 'weights' | 'biases'>[];

export function createMlp(architecture: MlpArchitecture, random: Random): Mlp {
  const sizes = [architecture.inputSize, ...architecture.hiddenSizes, architecture.outputSize];
  for (const size of sizes) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`layer sizes must be positive integers, got [${sizes.join(', ')}]`);
    }
  }
  const layers = sizes.slice(1).map((outputSize, index): DenseLayer => {
    const inputSize = sizes[index]!;
    // Glorot-uniform keeps tanh units out of saturation at the start, whatever the width.
    const limit = Math.sqrt(6 / (inputSize + outputSize));
    const weights = Float64Array.from({ length: inputSize * outputSize }, () => {
      return (2 * random() - 1) * limit;
    });
    return { inputSize, outputSize, weights, biases: new Float64Array(outputSize) };
  });
  return { architecture: { ...architecture, hiddenSizes: [...architecture.hiddenSizes] }, layers };
}

/** The activations of every layer, the input first; the last one holds class probabilities. */
function forwardPass(model: Mlp, features: readonly number[]): Float64Array[] {
  const activations = [Float64Array.from(features)];
  model.layers.forEach((layer, layerIndex) => {
    const input = activations[layerIndex]!;
    const isOutputLayer = layerIndex === model.layers.length - 1;
    const output = new Float64Array(layer.outputSize);
    for (let out = 0; out < layer.outputSize; out++) {
      let sum = layer.biases[out]!;
      const row = out * layer.inputSize;
      for (let inp = 0; inp < layer.inputSize; inp++) {
        sum += layer.weights[row + inp]! * input[inp]!;
      }
      output[out] = isOutputLayer ? sum : Math.tanh(sum);
    }
    if (isOutputLayer) softmaxInPlace(output);
    activations.push(output);
  });
  return activations;
}

function softmaxInPlace(logits: Float64Array): void {
  // Subtracting the largest logit keeps exp() from overflowing; the result is the same.
  const largest = Math.max(...logits);
  let total = 0;
  logits.forEach((logit, index) => {
    const exponential = Math.exp(logit - largest);
    logits[index] = exponential;
    total += exponential;
  });
  for (let index = 0; index < logits.length; index++) logits[index]! /= total;
}

export function predictProbabilities(model: Mlp, features: readonly number[]): number[] {
  return Array.from(forwardPass(model, features).at(-1)!);
}

export function predict(model: Mlp, features: readonly number[]): number {
  const probabilities = predictProbabilities(model, features);
  return probabilities.indexOf(Math.max(...probabilities));
}

/** Cross-entropy of one example, clamped so that one confident mistake cannot make it infinite. */
function crossEntropy(probabilities: Float64Array, label: number): number {
  return -Math.log(Math.max(probabilities[label]!, 1e-12));
}

/** Mean cross-entropy over the batch and its gradient with respect to every weight and bias. */
export function lossAndGradients(
  model: Mlp,
  batch: readonly Example[],
): { loss: number; gradients: Gradients } {
  const gradients = zerosLike(model);
  let loss = 0;
  for (const example of batch) {
    const activations = forwardPass(model, example.features);
    const probabilities = activations.at(-1)!;
    loss += crossEntropy(probabilities, example.label);
    // With softmax followed by cross-entropy, the gradient at the logits is p - onehot(label).
    let delta = Float64Array.from(probabilities);
    delta[example.label]! -= 1;
    for (let layerIndex = model.layers.length - 1; layerIndex >= 0; layerIndex--) {
      const layer = model.layers[layerIndex]!;
      const gradient = gradients[layerIndex]!;
      const input = activations[layerIndex]!;
      const inputDelta = new Float64Array(layer.inputSize);
      for (let out = 0; out < layer.outputSize; out++) {
        const outDelta = delta[out]!;
        const row = out * layer.inputSize;
        gradient.biases[out]! += outDelta;
        for (let inp = 0; inp < layer.inputSize; inp++) {
          gradient.weights[row + inp]! += outDelta * input[inp]!;
          inputDelta[inp]! += outDelta * layer.weights[row + inp]!;
        }
      }
      // tanh'(z) = 1 - tanh(z)^2, and the layer below stored tanh(z) as its activation.
      for (let inp = 0; inp < layer.inputSize; inp++) inputDelta[inp]! *= 1 - input[inp]! ** 2;
      delta = inputDelta;
    }
  }
  const scale = 1 / batch.length;
  for (const gradient of gradients) {
    for (const parameterGradient of [gradient.weights, gradient.biases]) {
      for (let index = 0; index < parameterGradient.length; index++) {
        parameterGradient[index]! *= scale;
      }
    }
  }
  return { loss: loss * scale, gradients };
}

function zerosLike(model: Mlp): Gradients {
  return model.layers.map((layer) => ({
    weights: new Float64Array(layer.weights.length),
    biases: new Float64Array(layer.biases.length),
  }));
}

export interface SgdOptions {
  learningRate: number;
  momentum: number;
}

export interface SgdOptimizer extends SgdOptions {
  velocity: Gradients;
}

export function createSgd(model: Mlp, options: SgdOptions): SgdOptimizer {
  return { ...options, velocity: zerosLike(model) };
}

/** Heavy-ball momentum, as PyTorch's SGD: v = momentum * v + g; w = w - lr * v. */
function applyGradients(model: Mlp, optimizer: SgdOptimizer, gradients: Gradients): void {
  model.layers.forEach((layer, layerIndex) => {
    const velocity = optimizer.velocity[layerIndex]!;
    const gradient = gradients[layerIndex]!;
    for (const name of ['weights', 'biases'] as const) {
      const parameters = layer[name];
      const parameterVelocity = velocity[name];
      const parameterGradient = gradient[name];
      parameters.forEach((value, index) => {
        const next = optimizer.momentum * parameterVelocity[index]! + parameterGradient[index]!;
        parameterVelocity[index] = next;
        parameters[index] = value - optimizer.learningRate * next;
      });
    }
  });
}

/** One optimizer step on one batch; returns the batch's loss before the step. */
function trainStep(model: Mlp, optimizer: SgdOptimizer, batch: readonly Example[]): number {
  const { loss, gradients } = lossAndGradients(model, batch);
  applyGradients(model, optimizer, gradients);
  return loss;
}

/** One pass over the examples in shuffled mini-batches; returns the mean batch loss. */
export function trainEpoch(
  model: Mlp,
  optimizer: SgdOptimizer,
  examples: readonly Example[],
  batchSize: number,
  random: Random,
): number {
  const order = shuffle([...examples], random);
  let lossSum = 0;
  let batches = 0;
  for (let start = 0; start < order.length; start += batchSize) {
    lossSum += trainStep(model, optimizer, order.slice(start, start + batchSize));
    batches++;
  }
  return lossSum / batches;
}

export interface Evaluation {
  loss: number;
  accuracy: number;
  /** `confusionMatrix[trueClass][predictedClass]` counts examples. */
  confusionMatrix: number[][];
}

export function evaluate(model: Mlp, examples: readonly Example[]): Evaluation {
  const classes = model.architecture.outputSize;
  const confusionMatrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let loss = 0;
  let correct = 0;
  for (const example of examples) {
    const probabilities = forwardPass(model, example.features).at(-1)!;
    const predicted = probabilities.indexOf(Math.max(...probabilities));
    loss += crossEntropy(probabilities, example.label);
    if (predicted === example.label) correct++;
    confusionMatrix[example.label]![predicted]!++;
  }
  return { loss: loss / examples.length, accuracy: correct / examples.length, confusionMatrix };
}

const positiveInteger = z.number().int().positive();

/** What `model.json` holds: enough to rebuild the model without this code's internals. */
const SerializedMlpSchema = z.object({
  format: z.literal('trackstack-quickstart-mlp'),
  version: z.literal(1),
  architecture: z.object({
    inputSize: positiveInteger,
    hiddenSizes: z.array(positiveInteger),
    outputSize: positiveInteger,
    hiddenActivation: z.literal('tanh'),
    outputActivation: z.literal('softmax'),
  }),
  /** `weights[out][in]`, one row per output unit, as in most papers. */
  layers: z.array(z.object({ weights: z.array(z.array(z.number())), biases: z.array(z.number()) })),
});

export type SerializedMlp = z.infer<typeof SerializedMlpSchema>;

export function serializeMlp(model: Mlp): SerializedMlp {
  return {
    format: 'trackstack-quickstart-mlp',
    version: 1,
    architecture: {
      ...model.architecture,
      hiddenSizes: [...model.architecture.hiddenSizes],
      hiddenActivation: 'tanh',
      outputActivation: 'softmax',
    },
    layers: model.layers.map((layer) => ({
      weights: Array.from({ length: layer.outputSize }, (_, out) =>
        Array.from(layer.weights.subarray(out * layer.inputSize, (out + 1) * layer.inputSize)),
      ),
      biases: Array.from(layer.biases),
    })),
  };
}

/** Rebuilds a model from parsed `model.json`; throws if the shapes do not fit the architecture. */
export function deserializeMlp(json: unknown): Mlp {
  const { architecture, layers } = SerializedMlpSchema.parse(json);
  const sizes = [architecture.inputSize, ...architecture.hiddenSizes, architecture.outputSize];
  if (layers.length !== sizes.length - 1) {
    throw new Error(
      `model.json has ${layers.length} layers; its architecture needs ${sizes.length - 1}`,
    );
  }
  return {
    architecture: {
      inputSize: architecture.inputSize,
      hiddenSizes: architecture.hiddenSizes,
      outputSize: architecture.outputSize,
    },
    layers: layers.map((layer, index): DenseLayer => {
      const inputSize = sizes[index]!;
      const outputSize = sizes[index + 1]!;
      const shapeFits =
        layer.biases.length === outputSize &&
        layer.weights.length === outputSize &&
        layer.weights.every((row) => row.length === inputSize);
      if (!shapeFits) {
        throw new Error(`model.json layer ${index} is not ${outputSize}x${inputSize}`);
      }
      return {
        inputSize,
        outputSize,
        weights: Float64Array.from(layer.weights.flat()),
        biases: Float64Array.from(layer.biases),
      };
    }),
  };
}
