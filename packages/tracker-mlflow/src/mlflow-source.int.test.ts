/**
 * Where a run ran, against a real `mlflow server`: a run of ours and a run of MLflow's own
 * Python client, started from scripts in the same git repository (a branch, a remote whose URL
 * holds a token, a changed file), must carry the same `mlflow.source.*` and `mlflow.user` tags.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, silentLogger } from '@trackstack/core';
import { git, MlflowOracle, type MlflowServer, startMlflowServer } from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowExperimentTracker } from './mlflow-tracker.js';

const TOKEN = 's3cret-token-77aa';
let server: MlflowServer;
let oracle: MlflowOracle;
let work: string;

beforeAll(async () => {
  server = await startMlflowServer();
  oracle = new MlflowOracle(server.env.python, server.url);
  work = realpathSync(mkdtempSync(join(tmpdir(), 'trackstack-mlflow-source-')));
});

afterAll(async () => {
  oracle?.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('MLflow: where a run ran', () => {
  it("writes the source tags MLflow's own client writes for a script in the same repository", async () => {
    const repo = join(work, 'repo');
    mkdirSync(join(repo, 'src'), { recursive: true });
    git(repo, 'init', '-q', '-b', 'feature/x');
    const pyScript = join(repo, 'src', 'train_mlflow.py');
    const jsScript = join(repo, 'src', 'train.js');
    writeFileSync(
      pyScript,
      [
        'import json, mlflow',
        "with mlflow.start_run(experiment_id=mlflow.set_experiment('source').experiment_id) as run:",
        "    mlflow.log_metric('x', 1)",
        '    print(json.dumps({"run_id": run.info.run_id}))',
        '',
      ].join('\n'),
    );
    writeFileSync(jsScript, '// trains\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'first');
    git(repo, 'remote', 'add', 'origin', `https://user:${TOKEN}@example.com/org/repo.git`);
    writeFileSync(jsScript, '// trains, changed\n');
    const commit = git(repo, 'rev-parse', 'HEAD');

    // MLflow's client, from the repository (GitPython: the `git` binary on PATH).
    const out = execFileSync(server.env.python, [pyScript], {
      cwd: repo,
      env: { ...process.env, MLFLOW_TRACKING_URI: server.url },
    }).toString();
    const line = out.split('\n').find((l) => l.startsWith('{"run_id"'));
    const theirId = (JSON.parse(line!) as { run_id: string }).run_id;

    // Ours: the same repository, the command a `node src/train.js` process would have.
    const storeDir = join(work, 'store');
    const tracker = createTracker(
      new MlflowExperimentTracker(
        { nested: false, tags: {}, request_timeout_s: 30, tracking_uri: server.url },
        { storeDir },
      ),
      { logger: silentLogger },
    );
    const run = await tracker.startRun({
      experiment: 'source',
      captureSource: { command: ['node', jsScript, `--api-token=${TOKEN}`], cwd: repo },
    });
    run.logMetric('x', 1);
    await run.end();
    const ourId = (await run.backendRef('mlflow'))!.runId;

    const theirs = (await oracle.run(theirId)).tags;
    const ours = (await oracle.run(ourId)).tags;
    const sourceKeys = [
      'mlflow.source.type',
      'mlflow.user',
      'mlflow.source.git.commit',
      'mlflow.source.git.branch',
      'mlflow.source.git.repoURL',
    ];
    for (const key of sourceKeys) {
      expect(ours[key], key).toBeDefined();
      expect(ours[key], key).toBe(theirs[key]);
    }
    expect(ours['mlflow.source.git.commit']).toBe(commit);
    expect(ours['mlflow.source.git.repoURL']).toBe('https://example.com/org/repo.git');
    // The script: MLflow's is argv[0] as typed (absolute here); ours the absolute entry point.
    expect(theirs['mlflow.source.name']).toBe(pyScript);
    expect(ours['mlflow.source.name']).toBe(jsScript);
    // What MLflow's client does not say: that the tree was changed.
    expect(ours['mlflow.source.git.dirty']).toBe('true');
    expect(JSON.stringify(ours)).not.toContain(TOKEN);

    // Off: no source tags at all.
    const off = await tracker.startRun({ experiment: 'source', captureSource: false });
    await off.end();
    const offTags = (await oracle.run((await off.backendRef('mlflow'))!.runId)).tags;
    expect(Object.keys(offTags).filter((k) => k.startsWith('mlflow.source.'))).toEqual([]);
    expect(offTags['mlflow.user']).toBeUndefined();
  });
});
