import type { ConsoleLine, MetricPoint, WriteBatch } from '@trackstack/core';
import { describe, expect, it } from 'vitest';
import type { FileStreamRequest, UpsertBucketInput, WandbClient } from './wandb-client.js';
import { WandbOnlineRun, type WandbOnlineRunOptions } from './wandb-online-run.js';

/** A client that records what the run sends and answers as W&B does. */
function fakeClient() {
  const upserts: UpsertBucketInput[] = [];
  const streams: FileStreamRequest[] = [];
  const client = {
    async upsertBucket(input: UpsertBucketInput) {
      upserts.push(input);
      return {
        id: 'b',
        name: input.name,
        project: { id: 'p', name: input.project, entity: { id: 'e', name: 'team' } },
        historyLineCount: null,
      };
    },
    async fileStream(_entity: string, _project: string, _run: string, body: FileStreamRequest) {
      streams.push(body);
    },
  };
  return { client: client as unknown as WandbClient, upserts, streams };
}

function onlineRun(client: WandbClient, options: Partial<WandbOnlineRunOptions> = {}) {
  return new WandbOnlineRun({
    client,
    entity: '',
    project: 'proj',
    runId: 'r1',
    uid: 'uid-1',
    startTime: 1_000,
    tags: ['a:1'],
    runUrl: (entity, project, runId) => `https://wandb.test/${entity}/${project}/runs/${runId}`,
    ...options,
  });
}

const batch = (parts: Partial<WriteBatch>): WriteBatch => ({
  params: [],
  tags: [],
  metrics: [],
  ...parts,
});
const point = (key: string, value: number, step: number, timestamp = 2_000): MetricPoint => ({
  key,
  value,
  step,
  timestamp,
});
const history = (body: FileStreamRequest | undefined) => body?.files?.['wandb-history.jsonl'];

describe('WandbOnlineRun', () => {
  it('is upserted with its tags and config, and takes the entity W&B names', async () => {
    const { client, upserts } = fakeClient();
    const run = onlineRun(client);
    await run.create({
      entity: null,
      displayName: 'n',
      groupName: null,
      jobType: null,
      notes: null,
    });
    expect(upserts[0]).toMatchObject({ name: 'r1', project: 'proj', entity: null, tags: ['a:1'] });
    expect(JSON.parse(upserts[0]!.config!)._wandb.value.trackstack_uid).toBe('uid-1');
    expect(run.ref()).toEqual({
      runId: 'r1',
      url: 'https://wandb.test/team/proj/runs/r1',
      data: { entity: 'team', project: 'proj', startTime: 1_000, uid: 'uid-1', consoleBase: 0 },
    });
  });

  it('keeps a step split across batches one row, rewritten at its offset; drops lower steps', async () => {
    const { client, streams } = fakeClient();
    const run = onlineRun(client);
    await run.write(batch({ metrics: [point('a', 1, 0), point('a', 2, 1)] }));
    await run.write(batch({ metrics: [point('b', 3, 1), point('a', 4, 2)] }));
    await run.write(batch({ metrics: [point('a', 5, 0)] }));
    expect(streams).toHaveLength(2);
    expect(history(streams[0])).toEqual({
      offset: 0,
      content: [
        '{"a":1,"_step":0,"_runtime":1,"_timestamp":2}',
        '{"a":2,"_step":1,"_runtime":1,"_timestamp":2}',
      ],
    });
    expect(history(streams[1])).toEqual({
      offset: 1,
      content: [
        '{"a":2,"b":3,"_step":1,"_runtime":1,"_timestamp":2}',
        '{"a":4,"_step":2,"_runtime":1,"_timestamp":2}',
      ],
    });
    expect(streams[1]!.files!['wandb-summary.json']!.content).toEqual([
      '{"a":4,"_step":2,"_runtime":1,"_timestamp":2,"b":3}',
    ]);
  });

  it('resends the whole config on a param, and tags only when tags changed', async () => {
    const { client, upserts } = fakeClient();
    const run = onlineRun(client);
    await run.write(batch({ params: [{ key: 'lr', value: '0.1' }] }));
    await run.write(
      batch({ params: [{ key: 'opt', value: 'adam' }], tags: [{ key: 'a', value: '2' }] }),
    );
    expect(upserts).toHaveLength(2);
    expect(upserts[0]!.tags).toBeUndefined();
    expect(JSON.parse(upserts[1]!.config!)).toMatchObject({
      lr: { value: 0.1 },
      opt: { value: 'adam' },
    });
    expect(upserts[1]!.tags).toEqual(['a:2']);
  });

  it('writes console lines at their offsets, one request per run of consecutive lines', async () => {
    const { client, streams } = fakeClient();
    const run = onlineRun(client);
    const line = (n: number, text: string): ConsoleLine => ({
      line: n,
      stream: 'stdout',
      text,
      timestamp: Date.UTC(2026, 0, 1),
    });
    await run.write(batch({ console: [line(0, 'a'), line(1, 'b'), line(5, 'c')] }));
    expect(streams.map((s) => s.files?.['output.log'])).toEqual([
      {
        offset: 0,
        content: ['2026-01-01T00:00:00.000000 a', '2026-01-01T00:00:00.000000 b'],
      },
      { offset: 5, content: ['2026-01-01T00:00:00.000000 c'] },
    ]);
  });

  it('goes on from what W&B has: its rows, summary, config and tags, console after its lines', async () => {
    const { client, streams, upserts } = fakeClient();
    const run = onlineRun(client);
    run.continueFrom(
      {
        id: 'x',
        name: 'r1',
        historyLineCount: 3,
        historyTail: JSON.stringify(['{"a":1,"_step":2,"_timestamp":1.5}']),
        summaryMetrics: '{"a":1,"loss":NaN}',
        config: '{"_wandb":{"value":{}},"lr":{"value":0.5}}',
        tags: ['old', 'a:1'],
      },
      { consoleBase: 7, tags: ['a:1', 'new'] },
    );
    await run.write(batch({ metrics: [point('b', 2, 2), point('a', 3, 3)] }));
    expect(history(streams[0])).toMatchObject({ offset: 2 });
    expect(history(streams[0])!.content[0]).toBe(
      '{"a":1,"b":2,"_step":2,"_runtime":1,"_timestamp":2}',
    );
    expect(streams[0]!.files!['wandb-summary.json']!.content[0]).toContain('"loss":NaN');
    await run.write(batch({ params: [{ key: 'bs', value: '8' }] }));
    expect(JSON.parse(upserts[0]!.config!)).toMatchObject({ lr: { value: 0.5 }, bs: { value: 8 } });
    await run.write(batch({ console: [{ line: 0, stream: 'stderr', text: 'e', timestamp: 0 }] }));
    expect(streams[1]!.files!['output.log']!.offset).toBe(7);
    expect(run.ref().data).toMatchObject({ consoleBase: 7 });
    await run.write(batch({ tags: [{ key: 'k', value: 'v' }] }));
    expect(upserts[1]!.tags).toEqual(['old', 'a:1', 'new', 'k:v']);
  });

  it('finishes with the summary, complete and the exit code, and its heartbeat stops', async () => {
    const { client, streams } = fakeClient();
    const run = onlineRun(client, { heartbeatIntervalS: 0.02 });
    run.startHeartbeat();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const beats = streams.length;
    expect(beats).toBeGreaterThan(0);
    expect(streams.every((s) => Object.keys(s).length === 0)).toBe(true);
    await run.finish('FAILED', 3_500);
    expect(streams.at(-1)).toEqual({
      files: {
        'wandb-summary.json': {
          offset: 0,
          content: ['{"_runtime":2.5,"_wandb":{"runtime":2}}'],
        },
      },
      complete: true,
      exitcode: 1,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(streams).toHaveLength(beats + 1);
  });

  it('stops its heartbeat when released', async () => {
    const { client, streams } = fakeClient();
    const run = onlineRun(client, { heartbeatIntervalS: 0.02 });
    run.startHeartbeat();
    run.release();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(streams).toHaveLength(0);
  });
});
