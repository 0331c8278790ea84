/**
 * The quickstart job: trains a small MLP on generated two-moons data and logs
 * its params, per-epoch metrics, model and evaluation to the active trackstack
 * tracker (the local store when none is configured).
 *
 *   node dist/train.js [--seed 42] [--epochs 40] [--lr 0.1] [--hidden 16,16]
 */
import { realpathSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getTracker, type Run } from '@trackstack/core';
import { CLASS_NAMES, createRandom, deriveSeed, makeMoons, splitTrainValidation } from './data.js';
import { renderDecisionBoundarySvg } from './decision-boundary-svg.js';
import { createMlp, createSgd, evaluate, serializeMlp, trainEpoch } from './model.js';

export interface TrainOptions {
  seed?: number;
  epochs?: number;
  learningRate?: number;
  momentum?: number;
  hiddenSizes?: number[];
  batchSize?: number;
  samples?: number;
  noise?: number;
  validationFraction?: number;
  /**
   * Where model.json and the evaluation files are written and kept. By default
   * a temporary directory, removed at the end: the run holds its own copies.
   */
  outputDir?: string;
  /** Progress and the closing summary go here; `console.log` by default. */
  log?: (line: string) => void;
}

export const DEFAULTS = {
  seed: 42,
  epochs: 40,
  learningRate: 0.1,
  momentum: 0.9,
  hiddenSizes: [16],
  batchSize: 16,
  samples: 400,
  noise: 0.15,
  validationFraction: 0.25,
} as const;

export const METRIC_KEYS = ['train/loss', 'train/accuracy', 'val/loss', 'val/accuracy'] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

export interface EpochMetrics {
  epoch: number;
  metrics: Record<MetricKey, number>;
}

export interface TrainResult {
  uid: string;
  dir: string;
  url: string;
  status: string;
  valAccuracy: number;
  /** What was logged, epoch by epoch (steps 1..epochs). */
  history: EpochMetrics[];
}

export const ARTIFACT_PATHS = {
  model: 'model.json',
  evaluation: 'evaluation/evaluation.json',
  decisionBoundary: 'evaluation/decision-boundary.svg',
} as const;

type Settings = Required<Omit<TrainOptions, 'outputDir' | 'log'>>;

export async function train(options: TrainOptions = {}): Promise<TrainResult> {
  const settings = resolveSettings(options);
  const log = options.log ?? console.log;
  const outputDir = options.outputDir ?? (await mkdtemp(join(tmpdir(), 'trackstack-quickstart-')));
  try {
    const tracker = await getTracker();
    await using run = await tracker.startRun({
      experiment: 'quickstart',
      name: 'mlp-moons',
      tags: { example: 'quickstart' },
    });
    let outcome: { history: EpochMetrics[]; valAccuracy: number };
    try {
      outcome = await fitAndLog(run, settings, outputDir, log);
    } catch (error) {
      // Disposal cannot see the error leaving the scope, and would end the run FINISHED.
      await run.end('FAILED');
      throw error;
    }
    // Ended here rather than by disposal, so that the status can be reported.
    const report = await run.end();
    log('');
    log(`Run ${report.status}: val/accuracy ${outcome.valAccuracy.toFixed(3)}`);
    log(`  uid        ${run.uid}`);
    log(`  directory  ${run.dir}`);
    log(`  url        ${run.url}`);
    if (report.hint !== undefined) log(`  ${report.hint}`);
    log('Look at it with:');
    log(`  trackstack runs show ${run.uid}`);
    log('  trackstack ui                  (every run in a web page)');
    log(
      `  (in this repository: pnpm --filter @trackstack/example-quickstart exec trackstack runs show ${run.uid}, and npm run ui)`,
    );
    return { uid: run.uid, dir: run.dir, url: run.url, status: report.status, ...outcome };
  } finally {
    // logArtifact staged copies into the run's directory, so the originals can go.
    if (options.outputDir === undefined) await rm(outputDir, { recursive: true, force: true });
  }
}

function resolveSettings(options: TrainOptions): Settings {
  const settings: Settings = {
    seed: options.seed ?? DEFAULTS.seed,
    epochs: options.epochs ?? DEFAULTS.epochs,
    learningRate: options.learningRate ?? DEFAULTS.learningRate,
    momentum: options.momentum ?? DEFAULTS.momentum,
    hiddenSizes: options.hiddenSizes ?? [...DEFAULTS.hiddenSizes],
    batchSize: options.batchSize ?? DEFAULTS.batchSize,
    samples: options.samples ?? DEFAULTS.samples,
    noise: options.noise ?? DEFAULTS.noise,
    validationFraction: options.validationFraction ?? DEFAULTS.validationFraction,
  };
  // Checked before the run starts, so that a typo on the command line leaves no failed run behind.
  for (const name of ['epochs', 'batchSize', 'samples'] as const) {
    if (!Number.isInteger(settings[name]) || settings[name] < 1) {
      throw new RangeError(`${name} must be a positive integer, got ${settings[name]}`);
    }
  }
  if (!settings.hiddenSizes.every((size) => Number.isInteger(size) && size >= 1)) {
    throw new RangeError(`hidden sizes must be positive integers, got [${settings.hiddenSizes}]`);
  }
  return settings;
}

async function fitAndLog(
  run: Run,
  settings: Settings,
  outputDir: string,
  log: (line: string) => void,
): Promise<{ history: EpochMetrics[]; valAccuracy: number }> {
  const { seed, epochs, hiddenSizes, batchSize, samples, noise, validationFraction } = settings;
  const dataRandom = createRandom(deriveSeed(seed, 'data'));
  const dataset = makeMoons({ samples, noise, random: dataRandom });
  const { train: trainSet, validation: validationSet } = splitTrainValidation(
    dataset,
    validationFraction,
    dataRandom,
  );
  const architecture = { inputSize: 2, hiddenSizes, outputSize: CLASS_NAMES.length };
  const model = createMlp(architecture, createRandom(deriveSeed(seed, 'init')));
  const optimizer = createSgd(model, {
    learningRate: settings.learningRate,
    momentum: settings.momentum,
  });
  const shuffleRandom = createRandom(deriveSeed(seed, 'shuffle'));
  const shape = [architecture.inputSize, ...hiddenSizes, architecture.outputSize].join('-');

  run.logParams({
    seed,
    epochs,
    lr: settings.learningRate,
    hidden: hiddenSizes,
    batch_size: batchSize,
    activation: 'tanh',
    optimizer: { name: 'sgd', momentum: settings.momentum },
    data: { name: 'two-moons', samples, noise, validation_fraction: validationFraction },
  });
  log(
    `Training a ${shape} MLP on two moons (${trainSet.length} train / ${validationSet.length} validation points, seed ${seed})`,
  );

  const history: EpochMetrics[] = [];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    trainEpoch(model, optimizer, trainSet, batchSize, shuffleRandom);
    const onTrain = evaluate(model, trainSet);
    const onValidation = evaluate(model, validationSet);
    const metrics = {
      'train/loss': onTrain.loss,
      'train/accuracy': onTrain.accuracy,
      'val/loss': onValidation.loss,
      'val/accuracy': onValidation.accuracy,
    };
    run.logMetrics(metrics, { step: epoch });
    history.push({ epoch, metrics });
    if (epoch % 10 === 0 || epoch === epochs) {
      log(
        `  epoch ${String(epoch).padStart(3)}  train/loss ${metrics['train/loss'].toFixed(4)}  val/loss ${metrics['val/loss'].toFixed(4)}  val/accuracy ${metrics['val/accuracy'].toFixed(3)}`,
      );
    }
  }

  const final = evaluate(model, validationSet);
  const modelPath = join(outputDir, 'model.json');
  const evaluationPath = join(outputDir, 'evaluation.json');
  const svgPath = join(outputDir, 'decision-boundary.svg');
  await writeFile(modelPath, `${JSON.stringify(serializeMlp(model), null, 2)}\n`);
  const evaluation = {
    dataset: {
      name: 'two-moons',
      samples,
      noise,
      seed,
      trainSize: trainSet.length,
      validationSize: validationSet.length,
    },
    classes: CLASS_NAMES,
    epochs,
    metrics: history.at(-1)!.metrics,
    validationConfusionMatrix: {
      rows: 'true class',
      columns: 'predicted class',
      counts: final.confusionMatrix,
    },
  };
  await writeFile(evaluationPath, `${JSON.stringify(evaluation, null, 2)}\n`);
  await writeFile(
    svgPath,
    renderDecisionBoundarySvg(model, validationSet, {
      title: `${shape} MLP on two moons: validation points, mistakes ringed in red`,
    }),
  );
  await run.logArtifact(modelPath);
  await run.logArtifact(evaluationPath, { artifactPath: ARTIFACT_PATHS.evaluation });
  await run.logArtifact(svgPath, { artifactPath: ARTIFACT_PATHS.decisionBoundary });
  return { history, valAccuracy: final.accuracy };
}

/** Parses the command line (`--seed 7 --epochs 60 --lr 0.05 --hidden 16,8`) and trains. */
export async function main(argv: string[]): Promise<TrainResult> {
  const { values } = parseArgs({
    // `npm start -- --seed 7` hands the script its own `--`.
    args: argv[0] === '--' ? argv.slice(1) : argv,
    options: {
      seed: { type: 'string' },
      epochs: { type: 'string' },
      lr: { type: 'string' },
      hidden: { type: 'string' },
    },
  });
  return train({
    seed: numberOption('seed', values.seed),
    epochs: numberOption('epochs', values.epochs),
    learningRate: numberOption('lr', values.lr),
    hiddenSizes: values.hidden?.split(',').map((size) => numberOption('hidden', size)!),
  });
}

function numberOption(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) {
    throw new Error(`--${name} must be a number, got ${JSON.stringify(text)}`);
  }
  return value;
}

function isDirectRun(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    // realpath: package managers start scripts through symlinked paths.
    return realpathSync(entry) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isDirectRun()) {
  try {
    await main(process.argv.slice(2));
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  }
}
