import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRuns } from '@trackstack/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deserializeMlp } from './model.js';
import { ARTIFACT_PATHS, DEFAULTS, METRIC_KEYS, type TrainResult, train } from './train.js';

const OUTPUT_FILES = {
  [ARTIFACT_PATHS.model]: 'model.json',
  [ARTIFACT_PATHS.evaluation]: 'evaluation.json',
  [ARTIFACT_PATHS.decisionBoundary]: 'decision-boundary.svg',
};

describe('train', () => {
  let home: string;
  let outputDir: string;
  let result: TrainResult;
  const lines: string[] = [];

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'trackstack-quickstart-home-'));
    outputDir = await mkdtemp(join(tmpdir(), 'trackstack-quickstart-out-'));
    vi.stubEnv('TRACKSTACK_HOME', home);
    result = await train({ outputDir, log: (line) => lines.push(line) });
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await rm(home, { recursive: true, force: true });
    await rm(outputDir, { recursive: true, force: true });
  });

  it('finishes the run above 90 % validation accuracy and says where it is', () => {
    expect(result.status).toBe('FINISHED');
    expect(result.valAccuracy).toBeGreaterThan(0.9);
    expect(result.history).toHaveLength(DEFAULTS.epochs);
    const output = lines.join('\n');
    expect(output).toContain(result.uid);
    expect(output).toContain(result.dir);
    expect(output).toContain(`trackstack runs show ${result.uid}`);
    expect(output).toContain('trackstack ui');
  });

  it('stores the run with its params, tags and final status', async () => {
    const snapshot = await new LocalRuns().get(result.uid);
    expect(snapshot).toMatchObject({
      uid: result.uid,
      experiment: 'quickstart',
      name: 'mlp-moons',
      status: 'FINISHED',
      tags: { example: 'quickstart' },
    });
    expect(snapshot.endTime).toBeGreaterThanOrEqual(snapshot.startTime);
    expect(snapshot.params).toEqual({
      seed: '42',
      epochs: '40',
      lr: '0.1',
      hidden: '[16]',
      batch_size: '16',
      activation: 'tanh',
      'optimizer.name': 'sgd',
      'optimizer.momentum': '0.9',
      'data.name': 'two-moons',
      'data.samples': '400',
      'data.noise': '0.15',
      'data.validation_fraction': '0.25',
    });
  });

  it('stores every metric at every epoch, the latest value being the last epoch', async () => {
    const runs = new LocalRuns();
    const snapshot = await runs.get(result.uid);
    const last = result.history.at(-1)!;
    for (const key of METRIC_KEYS) {
      const history = await runs.metricHistory(result.uid, key);
      const stored = history
        .map(({ step, value }) => ({ step, value }))
        .sort((left, right) => left.step - right.step);
      const logged = result.history.map(({ epoch, metrics }) => ({
        step: epoch,
        value: metrics[key],
      }));
      expect(stored, key).toEqual(logged);
      expect(snapshot.metrics[key], key).toBe(last.metrics[key]);
    }
    expect(last.metrics['val/accuracy']).toBe(result.valAccuracy);
  });

  it('stores the model and evaluation files byte for byte', async () => {
    const { artifacts } = await new LocalRuns().get(result.uid);
    expect(artifacts.map((artifact) => artifact.path).sort()).toEqual(
      Object.keys(OUTPUT_FILES).sort(),
    );
    for (const [artifactPath, fileName] of Object.entries(OUTPUT_FILES)) {
      const bytes = await readFile(join(outputDir, fileName));
      const artifact = artifacts.find((candidate) => candidate.path === artifactPath)!;
      expect(artifact.size, artifactPath).toBe(bytes.length);
      expect(artifact.sha256, artifactPath).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });

  it('writes a model.json that loads back and an evaluation that counts every point', async () => {
    const model = deserializeMlp(JSON.parse(await readFile(join(outputDir, 'model.json'), 'utf8')));
    expect(model.architecture.hiddenSizes).toEqual(DEFAULTS.hiddenSizes);
    const evaluation = JSON.parse(await readFile(join(outputDir, 'evaluation.json'), 'utf8'));
    const counts: number[][] = evaluation.validationConfusionMatrix.counts;
    expect(counts.flat().reduce((sum, count) => sum + count, 0)).toBe(
      evaluation.dataset.validationSize,
    );
    expect(evaluation.metrics['val/accuracy']).toBe(result.valAccuracy);
  });

  it('ends the run FAILED when training fails after the run started', async () => {
    const outputDir = join(home, 'no', 'such', 'directory');
    await expect(train({ outputDir, epochs: 1, log: () => {} })).rejects.toThrow(/ENOENT/);
    const [newest] = await new LocalRuns().list({ experiment: 'quickstart' });
    expect(newest?.status).toBe('FAILED');
  });

  it('logs the same metrics for the same seed, in a new run each time', async () => {
    const quiet = () => {};
    const first = await train({ epochs: 3, seed: 7, log: quiet });
    const second = await train({ epochs: 3, seed: 7, log: quiet });
    expect(second.uid).not.toBe(first.uid);
    expect(second.history).toEqual(first.history);
    const stored = await new LocalRuns().metricHistory(second.uid, 'val/loss');
    expect(stored).toHaveLength(3);
  });
});
