import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  diffWandbRecordings,
  normalizeWandbRecording,
  summarizeWandbRecording,
  type WandbRecording,
} from './wandb-recording.js';
import type { WandbRequest } from './wandb-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const saved = JSON.parse(
  readFileSync(join(here, '..', 'fixtures', 'wandb-sync-recording.json'), 'utf8'),
) as WandbRecording;

function request(partial: Partial<WandbRequest>): WandbRequest {
  return {
    seq: 0,
    time: 0,
    method: 'POST',
    path: '/graphql',
    kind: 'graphql',
    bytes: 0,
    status: 200,
    ...partial,
  };
}

describe('normalizeWandbRecording', () => {
  it('replaces ids, times, hosts and client metadata, and keeps the data', () => {
    const recording = normalizeWandbRecording([
      request({
        operationName: 'UpsertBucket',
        variables: {
          name: 'abc123',
          id: null,
          host: 'box',
          program: '/x/train.py',
          config: '{"lr":{"value":0.1},"_wandb":{"value":{"t":{"1":[2]},"cli_version":"0.30.0"}}}',
        },
      }),
      request({
        method: 'POST',
        path: '/files/e/p/abc123/file_stream',
        kind: 'file_stream',
        run: { entity: 'e', project: 'p', run: 'abc123' },
        body: {
          files: {
            'wandb-history.jsonl': {
              offset: 0,
              content: ['{"_step":0,"_runtime":0.1,"_timestamp":1.7e+09,"x":NaN,"id":"abc123"}'],
            },
            'output.log': { offset: 0, content: ['2026-01-02T03:04:05.123456 hi abc123'] },
          },
          uploaded: ['b', 'a'],
        },
      }),
      request({ method: 'PUT', path: '/storage/ff/z.txt', kind: 'upload' }),
      request({ method: 'PUT', path: '/storage/ee/a%20b.txt', kind: 'upload' }),
      request({ operationName: 'Viewer', variables: {}, status: 503, fault: 'status' }),
    ]);
    expect(recording.requests).toEqual([
      {
        kind: 'graphql',
        operation: 'UpsertBucket',
        variables: {
          config: {
            _wandb: { value: { cli_version: '<string>', t: '<object>' } },
            lr: { value: 0.1 },
          },
          host: '<string>',
          id: null,
          name: '<run-id>',
          program: '<string>',
        },
      },
      {
        kind: 'file_stream',
        body: {
          files: {
            'output.log': { content: ['<ts> hi <run-id>'], offset: 0 },
            'wandb-history.jsonl': {
              content: [
                {
                  _runtime: '<runtime>',
                  _step: 0,
                  _timestamp: '<timestamp>',
                  id: '<run-id>',
                  x: '<NaN>',
                },
              ],
              offset: 0,
            },
          },
          uploaded: ['a', 'b'],
        },
      },
      { kind: 'upload', file: 'a b.txt' },
      { kind: 'upload', file: 'z.txt' },
    ]);
  });
});

describe('diffWandbRecordings', () => {
  it('finds nothing between a recording and itself', () => {
    expect(diffWandbRecordings(saved, structuredClone(saved))).toEqual([]);
  });

  it('names each difference by where it is', () => {
    const changed = structuredClone(saved) as any;
    const upserts = changed.requests.filter((r: any) => r.operation === 'UpsertBucket');
    upserts[0].variables.config.lr.value = 0.002;
    delete upserts[1].variables.config._wandb.value.e;
    const last = changed.requests.findLast((r: any) => r.kind === 'file_stream');
    last.body.files['wandb-history.jsonl'].content.pop();
    last.body.exitcode = 1;
    changed.requests = changed.requests.filter(
      (r: any) => !(r.kind === 'upload' && r.file === 'model.txt'),
    );
    const differences = diffWandbRecordings(saved, changed);
    expect(differences).toEqual([
      'UpsertBucket#1.variables.config.lr.value: expected 0.001, got 0.002',
      'UpsertBucket#2.variables.config._wandb.value.e: missing (expected "<object>")',
      'file_stream wandb-history.jsonl: expected 4 lines, got 3',
      'uploads: expected 6 items, got 5 (expected ["config.yaml","model.txt","output.log","requirements.txt","wandb-metadata.json","wandb-summary.json"], got ["config.yaml","output.log","requirements.txt","wandb-metadata.json","wandb-summary.json"])',
      'file_stream exitcode: expected 0, got 1',
    ]);
    expect(
      diffWandbRecordings(saved, changed, {
        ignore: ['UpsertBucket#2.variables.config._wandb', /^uploads:/, /exitcode/],
      }),
    ).toEqual([
      'UpsertBucket#1.variables.config.lr.value: expected 0.001, got 0.002',
      'file_stream wandb-history.jsonl: expected 4 lines, got 3',
    ]);
  });

  it('does not care how lines were split across file_stream requests', () => {
    const split = structuredClone(saved) as any;
    const index = split.requests.findLastIndex((r: any) => r.kind === 'file_stream');
    const last = split.requests[index];
    const history = last.body.files['wandb-history.jsonl'];
    const early = {
      kind: 'file_stream',
      body: {
        files: { 'wandb-history.jsonl': { offset: 0, content: history.content.slice(0, 2) } },
      },
    };
    history.offset = 2;
    history.content = history.content.slice(2);
    split.requests.splice(index, 0, early);
    expect(summarizeWandbRecording(split).fileStreamRequests).toBe(
      summarizeWandbRecording(saved).fileStreamRequests + 1,
    );
    expect(diffWandbRecordings(saved, split)).toEqual([]);
  });
});
