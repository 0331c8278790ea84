/**
 * Where a run ran, in W&B's own form: an online run of ours uploads
 * `wandb-metadata.json` and sends commit, remote, host and program with
 * UpsertBucket; an offline run of ours, uploaded by the real `wandb sync`,
 * makes wandb-core write the same file and send the same fields from our
 * records. The two must agree field by field, and no token may reach W&B.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRuns } from '@trackstack/core';
import {
  ensurePythonEnv,
  git,
  type PythonEnv,
  runProcess,
  startWandbServer,
  WANDB_REQUIREMENTS,
  type WandbServer,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { offlineRunDir, wandbTracker } from './__fixtures__/test-tracker.js';

const TOKEN = 's3cret-token-93b1';
let py: PythonEnv;
let work: string;
const servers: WandbServer[] = [];

beforeAll(async () => {
  py = await ensurePythonEnv({ name: 'wandb', requirements: WANDB_REQUIREMENTS });
  work = realpathSync(mkdtempSync(join(tmpdir(), 'trackstack-wandb-metadata-')));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(work, { recursive: true, force: true });
});

describe('W&B: where a run ran', () => {
  it('says the same online as wandb-core says for our offline run after `wandb sync`', async () => {
    const repo = join(work, 'repo');
    mkdirSync(join(repo, 'src'), { recursive: true });
    git(repo, 'init', '-q', '-b', 'main');
    const script = join(repo, 'src', 'train.js');
    writeFileSync(script, '// trains\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'first');
    git(repo, 'remote', 'add', 'origin', `https://user:${TOKEN}@example.com/org/repo.git`);
    const commit = git(repo, 'rev-parse', 'HEAD');
    const command = [process.execPath, script, '--lr', '0.1', `--api-token=${TOKEN}`];
    const captureSource = { command, cwd: repo };

    const online = await startWandbServer();
    const synced = await startWandbServer();
    servers.push(online, synced);

    const onlineRun = await wandbTracker(online, {}, join(work, 'store-online')).startRun({
      experiment: 'where',
      captureSource,
    });
    onlineRun.logMetric('x', 1);
    expect((await onlineRun.end()).pendingEvents).toBe(0);

    const offlineDir = join(work, 'offline');
    mkdirSync(offlineDir);
    const offlineRun = await wandbTracker(
      synced,
      { mode: 'offline', dir: offlineDir, entity: synced.entity },
      join(work, 'store-offline'),
    ).startRun({ experiment: 'where', captureSource });
    offlineRun.logMetric('x', 1);
    expect((await offlineRun.end()).pendingEvents).toBe(0);
    const runDir = offlineRunDir(offlineDir);
    const sync = await runProcess(py.bin('wandb'), ['sync', runDir], {
      env: { ...process.env, ...synced.sdkEnv, WANDB_DIR: offlineDir, TMPDIR: offlineDir },
    });
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);

    const ours = online.run((await onlineRun.backendRef('wandb'))!.runId);
    const core = synced.run((await offlineRun.backendRef('wandb'))!.runId);
    // UpsertBucket: what W&B shows as the run's commit, repository, host and program.
    for (const seen of [ours, core]) {
      expect(seen.commit).toBe(commit);
      expect(seen.repo).toBe('https://example.com/org/repo.git');
      expect(seen.host).toBe(hostname());
    }
    expect(ours.program).toBe(script);

    const metadataOf = (run: typeof ours) => {
      const file = run.files['wandb-metadata.json'];
      expect(file, 'wandb-metadata.json uploaded').toBeDefined();
      return JSON.parse(file!.bytes.toString('utf8')) as Record<string, unknown>;
    };
    const fromUs = metadataOf(ours);
    const fromCore = metadataOf(core);
    // wandb-core adds its writer's id; each file starts at its own run's start.
    const { writerId, startedAt: coreStart, ...coreFields } = fromCore;
    const { startedAt: ourStart, ...ourFields } = fromUs;
    expect(writerId).toMatch(/^[a-z0-9]{32}$/);
    expect(coreFields).toEqual(ourFields);
    const startOf = async (run: typeof onlineRun) =>
      (await new LocalRuns(run.dir.split('/runs/')[0]!).get(run.uid)).startTime;
    expect(Date.parse(ourStart as string)).toBe(await startOf(onlineRun));
    expect(Date.parse(coreStart as string)).toBe(await startOf(offlineRun));
    expect(fromUs).toMatchObject({
      program: script,
      codePath: 'src/train.js',
      args: ['--lr', '0.1', '--api-token=***'],
      git: { remote: 'https://example.com/org/repo.git', commit },
      root: repo,
      host: hostname(),
      executable: process.execPath,
    });

    // No token anywhere W&B was sent anything.
    for (const server of [online, synced]) {
      expect(JSON.stringify(server.requests)).not.toContain(TOKEN);
      for (const run of [ours, core]) {
        for (const file of Object.values(run.files))
          expect(file.bytes.toString('latin1')).not.toContain(TOKEN);
      }
    }
  });
});
