import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { type RunResult, run } from './process.js';
import {
  ensurePythonEnv,
  type PythonEnv,
  runPython,
  WANDB_MEDIA_REQUIREMENTS,
  WANDB_REQUIREMENTS,
} from './python-env.js';
import {
  diffWandbRecordings,
  normalizeWandbRecording,
  summarizeWandbRecording,
  type WandbRecording,
} from './wandb-recording.js';
import {
  parseWandbJson,
  startWandbServer,
  stringifyWandbJson,
  type WandbArtifact,
  type WandbRun,
  type WandbServer,
  wandbArtifactDigest,
} from './wandb-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const RUN_SCRIPT = join(here, '..', 'python', 'wandb_run.py');
const ARTIFACTS_SCRIPT = join(here, '__fixtures__', 'wandb_artifacts.py');
const FIXTURE = join(here, '..', 'fixtures', 'wandb-sync-recording.json');
const SDK_TIMEOUT = 180_000;

let env: PythonEnv | undefined;
let unavailable: string | undefined;
const tempDirs: string[] = [];

beforeAll(async () => {
  try {
    env = await ensurePythonEnv({ name: 'wandb', requirements: WANDB_REQUIREMENTS });
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    unavailable =
      `the wandb SDK could not be provisioned (${(err as Error).message.split('\n')[0]}); ` +
      'these tests need python3 (3.10+, or TRACKSTACK_PYTHON) and PyPI to pip install ' +
      `${WANDB_REQUIREMENTS.join(' ')}`;
  }
});

afterAll(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

function sdk(ctx: TestContext): PythonEnv {
  if (!env) {
    ctx.skip(unavailable ?? 'wandb SDK unavailable');
    throw new Error('unreachable');
  }
  return env;
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

interface RunInfo {
  id: string;
  entity: string;
  project: string;
  run_dir: string;
}

/** Runs `python/wandb_run.py` with a spec (written with NaN/Infinity as Python reads them). */
async function pythonRun(
  py: PythonEnv,
  server: WandbServer,
  spec: Record<string, unknown>,
  extraEnv: Record<string, string>,
  script = RUN_SCRIPT,
): Promise<{ info: RunInfo; result: RunResult }> {
  const result = await runPython(py, script, [], {
    input: stringifyWandbJson(spec),
    // TMPDIR: the SDK's and the script's temporary files go under the test's directory.
    env: { ...server.sdkEnv, TMPDIR: extraEnv.WANDB_DIR ?? tmpdir(), ...extraEnv },
  });
  const line = result.stdout.split('\n').find((l) => l.startsWith('WANDB_RUN_RESULT '));
  if (result.code !== 0 || !line) {
    throw new Error(
      `wandb run failed (exit ${result.code}):\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-6000)}`,
    );
  }
  return { info: JSON.parse(line.slice('WANDB_RUN_RESULT '.length)) as RunInfo, result };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The logical run both the online test and the offline+sync test send. */
function runSpec(id: string): Record<string, unknown> {
  return {
    project: 'harness',
    id,
    name: 'harness run',
    config: {
      lr: 0.001,
      layers: [64, 32],
      optimizer: { name: 'adam', beta1: 0.9 },
      nan_param: Number.NaN,
      inf_param: Number.POSITIVE_INFINITY,
    },
    tags: ['alpha', 'beta'],
    notes: 'notes of the harness run',
    group: 'pipeline-1',
    job_type: 'train',
    history: [
      { _step: 0, loss: 1.5, acc: Number.NaN },
      { _step: 1, loss: Number.POSITIVE_INFINITY, acc: 0.5 },
      { _step: 2, loss: Number.NEGATIVE_INFINITY, acc: 0.75 },
      { _step: 3, loss: 0.25, acc: 0.875, nested: { a: 1 } },
    ],
    summary: { best_acc: 0.875 },
    print: ['hello from the harness'],
    save: [{ name: 'model.txt', text: 'weights v1\n' }],
    exit_code: 0,
  };
}

/** Everything the SDK sent for `runSpec` arrived. */
function expectLogicalRun(run: WandbRun, mode: 'online' | 'sync') {
  expect(run.project).toBe('harness');
  expect(run.entity).toBe('trackstack');
  expect(run.displayName).toBe('harness run');
  expect(run.tags).toEqual(['alpha', 'beta']);
  expect(run.notes).toBe('notes of the harness run');
  expect(run.group).toBe('pipeline-1');
  expect(run.jobType).toBe('train');
  expect(run.configValues.lr).toBe(0.001);
  expect(run.configValues.layers).toEqual([64, 32]);
  expect(run.configValues.optimizer).toEqual({ name: 'adam', beta1: 0.9 });
  // The SDK's config encoding: NaN becomes null, ±Infinity stays a bare word.
  expect(run.configValues.nan_param).toBeNull();
  expect(run.configValues.inf_param).toBe(Number.POSITIVE_INFINITY);
  expect(run.configJson).toContain('"inf_param":{"value":Infinity}');
  expect(run.config._wandb).toBeDefined();

  expect(run.history.map((row) => row._step)).toEqual([0, 1, 2, 3]);
  expect(run.history.map((row) => row.loss)).toEqual([
    1.5,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    0.25,
  ]);
  expect(run.history[0]!.acc).toBeNaN();
  expect(run.history[3]!.nested).toEqual({ a: 1 });
  for (const row of run.history) {
    expect(typeof row._runtime).toBe('number');
    expect(typeof row._timestamp).toBe('number');
  }
  // History lines carry the bare words, as Python's json.dumps would.
  expect(run.historyLines[0]).toMatch(/"acc":NaN/);
  expect(run.historyLines[1]).toMatch(/"loss":Infinity/);
  expect(run.historyLines[2]).toMatch(/"loss":-Infinity/);

  expect(run.summary.best_acc).toBe(0.875);
  expect(run.summary.loss).toBe(0.25);
  expect(run.summary._step).toBe(3);

  expect(run.outputLines.some((line) => line.endsWith('hello from the harness'))).toBe(true);

  const model = run.files['model.txt'];
  expect(model?.sha256).toBe(sha256('weights v1\n'));
  expect(run.uploaded).toContain('model.txt');
  for (const name of run.uploaded) expect(run.files[name], `${mode}: ${name}`).toBeDefined();

  expect(run.complete).toBe(true);
  expect(run.exitcode).toBe(0);
}

function expectCleanSession(server: WandbServer) {
  expect(server.unknownOperations).toEqual([]);
  expect(server.protocolErrors).toEqual([]);
  const failed = server.requests.filter((r) => r.status === undefined || r.status >= 400);
  expect(failed.map((r) => `${r.method} ${r.path} ${r.operationName ?? ''} ${r.status}`)).toEqual(
    [],
  );
}

describe('startWandbServer without the SDK', () => {
  let server: WandbServer;
  beforeAll(async () => {
    server = await startWandbServer({ uploadHeaders: ['X-Trackstack-Upload:yes'] });
  });
  afterAll(async () => {
    await server.stop();
  });
  const auth = () => `Basic ${Buffer.from(`api:${server.apiKey}`).toString('base64')}`;
  const gql = (operationName: string, query: string, variables: object, authorization = auth()) =>
    fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
      body: JSON.stringify({ operationName, query, variables }),
    });

  it('parses and writes NaN/Infinity as the SDK does', () => {
    const parsed = parseWandbJson(
      '{"a":NaN,"b":Infinity,"c":-Infinity,"d":"NaN Infinity","e":[1]}',
    );
    expect(parsed).toEqual({
      a: Number.NaN,
      b: Number.POSITIVE_INFINITY,
      c: Number.NEGATIVE_INFINITY,
      d: 'NaN Infinity',
      e: [1],
    });
    expect(stringifyWandbJson(parsed)).toBe(
      '{"a":NaN,"b":Infinity,"c":-Infinity,"d":"NaN Infinity","e":[1]}',
    );
    expect(parseWandbJson('"a \\"NaN\\" b"')).toBe('a "NaN" b');
  });

  it('answers 401 without the right Basic credentials, and records everything', async () => {
    const before = server.requests.length;
    const none = await fetch(`${server.url}/graphql`, { method: 'POST', body: '{}' });
    expect(none.status).toBe(401);
    const wrong = await gql('Viewer', 'query Viewer { viewer { id } }', {}, 'Basic eDp5');
    expect(wrong.status).toBe(401);
    const ok = await gql('Viewer', 'query Viewer { viewer { id entity } }', {});
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).data.viewer.entity).toBe('trackstack');
    expect(server.requests.slice(before).map((r) => r.status)).toEqual([401, 401, 200]);
    expect(server.requests.at(-1)?.operationName).toBe('Viewer');
  });

  it('answers unknown operations with a GraphQL error and lists them', async () => {
    const res = await gql('NoSuchThing', 'query NoSuchThing { nope }', { a: 1 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.errors[0].message).toMatch(/NoSuchThing is not implemented/);
    expect(server.unknownOperations.at(-1)).toMatchObject({
      kind: 'graphql',
      name: 'NoSuchThing',
      variables: { a: 1 },
    });
    const route = await fetch(`${server.url}/api/v1/nothing`, {
      headers: { authorization: auth() },
    });
    expect(route.status).toBe(404);
    expect(server.unknownOperations.at(-1)).toMatchObject({
      kind: 'http',
      name: 'GET /api/v1/nothing',
    });
  });

  it('creates and resumes runs, streams idempotently by offset, stores uploads, injects faults', async () => {
    const upsert = `mutation UpsertBucket($name: String, $project: String, $entity: String, $config: JSONString, $tags: [String!]) {
      upsertBucket(input: {name: $name, modelName: $project, entityName: $entity, config: $config, tags: $tags}) {
        bucket { id name historyLineCount project { name entity { name } } } inserted } }`;
    const created = (await (
      await gql('UpsertBucket', upsert, {
        name: 'r1',
        project: 'p',
        config: '{"x":{"value":Infinity}}',
        tags: ['t'],
      })
    ).json()) as any;
    expect(created.data.upsertBucket.inserted).toBe(true);
    expect(created.data.upsertBucket.bucket).toMatchObject({
      name: 'r1',
      historyLineCount: 0,
      project: { name: 'p', entity: { name: 'trackstack' } },
    });
    const run = server.run('r1');
    expect(run.configValues.x).toBe(Number.POSITIVE_INFINITY);

    const fs = (body: object) =>
      fetch(`${server.url}/files/trackstack/p/r1/file_stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth() },
        body: JSON.stringify(body),
      });
    const lines = ['{"_step":0,"v":NaN}', '{"_step":1,"v":1}'];
    const chunk = { files: { 'wandb-history.jsonl': { offset: 0, content: lines } } };
    expect((await fs(chunk)).status).toBe(200);
    // A re-send of the same offset (a retry) replaces, it does not append.
    server.failNext('file_stream', 'drop-response');
    await expect(fs(chunk)).rejects.toThrow();
    expect((await fs(chunk)).status).toBe(200);
    expect(run.historyLines).toEqual(lines);
    expect(run.history[0]!.v).toBeNaN();

    // Malformed bodies are refused (400) and listed; nothing is applied.
    const bad = await fs({
      files: { 'wandb-history.jsonl': { offset: 2, content: ['{"_step":2', '{"_step":3}'] } },
    });
    expect(bad.status).toBe(400);
    expect(server.protocolErrors.at(-1)).toMatch(
      /file_stream trackstack\/p\/r1: files\[wandb-history.jsonl\]\.content\[0\] is not JSON/,
    );
    expect((await fs({ files: { 'output.log': { offset: -1, content: [] } } })).status).toBe(400);
    const orphan = await fetch(`${server.url}/files/trackstack/p/nope/file_stream`, {
      method: 'POST',
      headers: { authorization: auth() },
      body: '{}',
    });
    expect(orphan.status).toBe(404);
    expect(server.protocolErrors.at(-1)).toBe('file_stream for unknown run trackstack/p/nope');
    expect(run.historyLines).toEqual(lines);

    server.failNext('file_stream', { status: 429, headers: { 'Retry-After': '1' } });
    const limited = await fs({ files: { 'wandb-history.jsonl': { offset: 2, content: ['{}'] } } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(run.historyLines).toHaveLength(2);
    server.failNext(/UpsertBucket$/, { status: 503 });
    expect((await gql('UpsertBucket', upsert, { name: 'r1', project: 'p' })).status).toBe(503);
    server.failNext('Viewer', 'reset');
    await expect(gql('Viewer', 'query Viewer { viewer { id } }', {})).rejects.toThrow();
    expect(server.faults).toMatchObject({ status: 2, reset: 1, 'drop-response': 1 });

    const resumed = (await (
      await gql('RunResumeStatus', 'query RunResumeStatus { model { bucket { id } } }', {
        project: 'p',
        name: 'r1',
      })
    ).json()) as any;
    expect(resumed.data.model.bucket).toMatchObject({
      id: run.storageId,
      historyLineCount: 2,
      historyTail: JSON.stringify([lines[1]]),
      config: '{"x":{"value":Infinity}}',
      tags: ['t'],
    });
    const missing = (await (
      await gql('RunResumeStatus', 'query RunResumeStatus { model { bucket { id } } }', {
        project: 'p',
        name: 'nope',
      })
    ).json()) as any;
    expect(missing.data.model.bucket).toBeNull();

    const files = (await (
      await gql('CreateRunFiles', 'mutation CreateRunFiles { createRunFiles { files { name } } }', {
        entity: 'trackstack',
        project: 'p',
        run: 'r1',
        files: ['media/a b.txt'],
      })
    ).json()) as any;
    const { uploadHeaders, files: urls } = files.data.createRunFiles;
    expect(uploadHeaders).toEqual(['X-Trackstack-Upload:yes']);
    const uploadUrl = urls[0].uploadUrl as string;
    expect(uploadUrl.startsWith(server.url)).toBe(true);
    expect((await fetch(uploadUrl, { method: 'PUT', body: 'abc' })).status).toBe(403);
    expect(server.protocolErrors.at(-1)).toMatch(/upload header x-trackstack-upload missing/);
    const put = await fetch(uploadUrl, {
      method: 'PUT',
      body: 'abc',
      headers: { 'X-Trackstack-Upload': 'yes' },
    });
    expect(put.status).toBe(200);
    expect(run.files['media/a b.txt']?.sha256).toBe(sha256('abc'));
    expect(await (await fetch(uploadUrl)).text()).toBe('abc');

    await fs({ uploaded: ['media/a b.txt'], complete: true, exitcode: 3 });
    expect(run).toMatchObject({ uploaded: ['media/a b.txt'], complete: true, exitcode: 3 });
  });

  it('artifacts: create, upload, commit, dedup and use; refuses what W&B storage would', async () => {
    const json = async (res: Promise<Response>) => (await (await res).json()) as any;
    const upsert =
      'mutation UpsertBucket($name: String, $project: String) { upsertBucket(input: {name: $name, modelName: $project}) { bucket { id } } }';
    await json(gql('UpsertBucket', upsert, { name: 'art1', project: 'p' }));
    const md5 = (text: string) => createHash('md5').update(text).digest('base64');
    const digest = wandbArtifactDigest({ 'a.txt': { digest: md5('abc') } });
    const create = (clientID: string) =>
      gql(
        'CreateArtifact',
        'mutation CreateArtifact($input: CreateArtifactInput!) { createArtifact(input: $input) { artifact { id state } } }',
        {
          input: {
            entityName: 'trackstack',
            projectName: 'p',
            runName: 'art1',
            artifactCollectionName: 'ds',
            artifactTypeName: 'dataset',
            digest,
            digestAlgorithm: 'MANIFEST_MD5',
            clientID,
            sequenceClientID: 'seq-client-1',
            metadata: '{"k":1}',
            aliases: [{ alias: 'latest', artifactCollectionName: 'ds' }],
          },
        },
      );
    // A retry of a CreateArtifact whose answer was lost gets the same version (by clientID).
    server.failNext('CreateArtifact', 'drop-response');
    await expect(create('client-1')).rejects.toThrow();
    const created = await json(create('client-1'));
    const id = created.data.createArtifact.artifact.id as string;
    expect(created.data.createArtifact.artifact.state).toBe('PENDING');
    expect(server.artifacts.map((a) => a.id)).toEqual([id]);
    const artifact = server.artifact('ds');
    expect(artifact).toMatchObject({
      state: 'PENDING',
      versionIndex: null,
      aliases: [],
      metadata: { k: 1 },
    });
    expect(() => server.artifact('ds:latest')).toThrow(
      /not found.*trackstack\/p\/ds:\(pending\) PENDING/,
    );

    const manifestOp =
      'mutation CreateArtifactManifest { createArtifactManifest { artifactManifest { id file { id uploadUrl } } } }';
    const manifestVars = {
      artifactID: id,
      name: 'wandb_manifest.json',
      entityName: 'trackstack',
      projectName: 'p',
      runName: 'art1',
    };
    const first = await json(
      gql('CreateArtifactManifest', manifestOp, {
        ...manifestVars,
        digest: '',
        includeUpload: false,
      }),
    );
    const manifestId = first.data.createArtifactManifest.artifactManifest.id;
    const files = await json(
      gql(
        'CreateArtifactFiles',
        'mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) { createArtifactFiles(input: $input) { files { edges { node { uploadUrl } } } } }',
        {
          input: {
            artifactFiles: [
              { artifactID: id, artifactManifestID: manifestId, name: 'a.txt', md5: md5('abc') },
            ],
            storageLayout: 'V2',
          },
        },
      ),
    );
    const node = files.data.createArtifactFiles.files.edges[0].node;
    expect(node).toMatchObject({ uploadHeaders: ['X-Trackstack-Upload:yes'], artifact: { id } });
    const put = (url: string, body: string) =>
      fetch(url, { method: 'PUT', body, headers: { 'X-Trackstack-Upload': 'yes' } });
    // Bytes other than the ones announced are refused, like storage checking Content-MD5.
    expect((await put(node.uploadUrl, 'abd')).status).toBe(400);
    expect(server.protocolErrors.at(-1)).toMatch(/PUT a\.txt of artifact ds .*md5 .* announced/);
    expect((await put(node.uploadUrl, 'abc')).status).toBe(200);
    expect(artifact.files['a.txt']).toMatchObject({
      md5: md5('abc'),
      sha256: sha256('abc'),
      size: 3,
    });
    expect(await (await fetch(node.uploadUrl)).text()).toBe('abc');

    const commitOp =
      'mutation CommitArtifact($artifactID: ID!) { commitArtifact(input: {artifactID: $artifactID}) { artifact { id } } }';
    const early = await json(gql('CommitArtifact', commitOp, { artifactID: id }));
    expect(early.errors[0].message).toMatch(/no uploaded manifest/);
    const manifest = JSON.stringify({
      version: 1,
      storagePolicy: 'wandb-storage-policy-v1',
      storagePolicyConfig: { storageLayout: 'V2' },
      contents: { 'a.txt': { digest: md5('abc'), size: 3, birthArtifactID: id } },
    });
    const second = await json(
      gql('CreateArtifactManifest', manifestOp, {
        ...manifestVars,
        digest: md5(manifest),
        includeUpload: true,
      }),
    );
    expect(
      (await put(second.data.createArtifactManifest.artifactManifest.file.uploadUrl, manifest))
        .status,
    ).toBe(200);
    const committed = await json(gql('CommitArtifact', commitOp, { artifactID: id }));
    expect(committed.data.commitArtifact.artifact).toMatchObject({
      id,
      state: 'COMMITTED',
      digest,
      versionIndex: 0,
    });
    expect(artifact).toMatchObject({
      state: 'COMMITTED',
      versionIndex: 0,
      aliases: ['latest'],
      manifestDigest: md5(manifest),
    });
    expect(artifact.manifest?.contents).toEqual({
      'a.txt': { digest: md5('abc'), size: 3, birthArtifactID: id },
    });
    expect(server.artifact('p/ds:latest')).toBe(artifact);
    expect(server.artifact('trackstack/p/ds', 'v0')).toBe(artifact);
    expect(() => server.artifact('nope')).toThrow(/artifact nope not found/);

    // The same content again (another client artifact): W&B answers with the committed version.
    const again = await json(create('client-2'));
    expect(again.data.createArtifact.artifact).toMatchObject({ id, state: 'COMMITTED' });
    expect(server.artifacts).toHaveLength(1);

    const use = await json(
      gql(
        'UseArtifact',
        'mutation UseArtifact($entityName: String!, $projectName: String!, $runName: String!, $artifactID: ID!) { useArtifact(input: {entityName: $entityName, projectName: $projectName, runName: $runName, artifactID: $artifactID}) { artifact { id } } }',
        {
          entityName: 'trackstack',
          projectName: 'p',
          runName: 'art1',
          artifactID: id,
        },
      ),
    );
    expect(use.data.useArtifact.artifact.id).toBe(id);
    expect(artifact.usedBy).toEqual([
      { entity: 'trackstack', project: 'p', run: 'art1', usedAs: null },
    ]);
    const byId = await json(
      gql('ArtifactByID', 'query ArtifactByID($id: ID!) { artifact(id: $id) { id } }', { id }),
    );
    expect(byId.data.artifact).toMatchObject({
      id,
      versionIndex: 0,
      artifactType: { name: 'dataset' },
      artifactSequence: { name: 'ds', project: { name: 'p', entity: { name: 'trackstack' } } },
      size: 3,
      fileCount: 1,
      aliases: [{ alias: 'latest' }],
    });
    const mapping = await json(
      gql(
        'ClientIDMapping',
        'query ClientIDMapping($clientID: ID!) { clientIDMapping(clientID: $clientID) { serverID } }',
        { clientID: 'client-1' },
      ),
    );
    expect(mapping.data.clientIDMapping).toEqual({ serverID: id });
  });
});

describe('the real wandb SDK against startWandbServer', () => {
  let onlineRecording: WandbRecording | undefined;
  let syncRecording: WandbRecording | undefined;

  it(
    'online: wandb.init / log / save / finish arrive complete',
    async (ctx) => {
      const py = sdk(ctx);
      const server = await startWandbServer();
      try {
        const dir = await tempDir('wandb-online-');
        const { info } = await pythonRun(py, server, runSpec('online01'), {
          WANDB_MODE: 'online',
          WANDB_DIR: dir,
        });
        expect(info).toMatchObject({ id: 'online01', entity: 'trackstack', project: 'harness' });
        expectCleanSession(server);
        expectLogicalRun(server.run('online01'), 'online');
        onlineRecording = normalizeWandbRecording(server.requests);
        const ops = onlineRecording.requests.filter((r) => r.kind === 'graphql');
        expect(ops.map((r) => r.operation)).toContain('ServerFeaturesQuery');
        expect(ops.map((r) => r.operation)).toContain('UpsertBucket');
        expect(ops.map((r) => r.operation)).toContain('CreateRunFiles');
      } finally {
        await server.stop();
      }
    },
    SDK_TIMEOUT,
  );

  it(
    'offline, then `wandb sync <run dir>`: the same run arrives complete',
    async (ctx) => {
      const py = sdk(ctx);
      const server = await startWandbServer();
      try {
        const dir = await tempDir('wandb-offline-');
        const { info } = await pythonRun(py, server, runSpec('offline01'), {
          WANDB_MODE: 'offline',
          WANDB_DIR: dir,
        });
        expect(server.requests).toEqual([]); // offline means offline
        expect(info.run_dir).toMatch(/offline-run-\d{8}_\d{6}-offline01$/);
        expect(existsSync(join(info.run_dir, 'run-offline01.wandb'))).toBe(true);

        const sync = await run(py.bin('wandb'), ['sync', info.run_dir], {
          env: { ...process.env, ...server.sdkEnv, WANDB_DIR: dir, TMPDIR: dir },
        });
        expect(sync.code, `${sync.stdout}\n${sync.stderr}`).toBe(0);
        expectCleanSession(server);
        expectLogicalRun(server.run('offline01'), 'sync');
        syncRecording = normalizeWandbRecording(server.requests);
      } finally {
        await server.stop();
      }
    },
    SDK_TIMEOUT,
  );

  it('the sync session matches the saved recording (fixtures/wandb-sync-recording.json)', async (ctx) => {
    if (!syncRecording) ctx.skip('the sync test did not run');
    const recording = syncRecording!;
    const update = process.env.TRACKSTACK_UPDATE_FIXTURES === '1';
    if (update || (!existsSync(FIXTURE) && process.env.CI !== 'true')) {
      await mkdir(dirname(FIXTURE), { recursive: true });
      await writeFile(FIXTURE, `${JSON.stringify(recording, null, 2)}\n`);
    }
    const saved = JSON.parse(await readFile(FIXTURE, 'utf8')) as WandbRecording;
    expect(diffWandbRecordings(saved, recording)).toEqual([]);

    // What the recording pins down.
    const summary = summarizeWandbRecording(saved);
    expect(summary.graphql.map((g) => g.operation)).toEqual([
      'ServerFeaturesQuery',
      'UpsertBucket',
      'UpsertBucket',
      'CreateRunFiles',
    ]);
    expect(summary.streamed['wandb-history.jsonl']).toHaveLength(4);
    expect(summary.streamed['wandb-history.jsonl']?.[0]).toMatchObject({
      _runtime: '<runtime>',
      _step: 0,
      _timestamp: '<timestamp>',
      acc: '<NaN>',
      loss: 1.5,
    });
    expect(summary.complete).toBe(true);
    expect(summary.exitcode).toBe(0);
    expect(summary.uploads).toContain('model.txt');
  });

  it('online and sync sessions of the same run differ only where the SDK itself does', (ctx) => {
    if (!onlineRecording || !syncRecording) ctx.skip('the online or sync test did not run');
    const differences = diffWandbRecordings(syncRecording!, onlineRecording!);
    // The only differences between the SDK's own online and sync sessions; a flavor compared
    // with the sync recording may show these too, and nothing else.
    expect(differences).toEqual(ONLINE_VS_SYNC);
  });

  it(
    'resume: RunResumeStatus, then history continues at historyLineCount',
    async (ctx) => {
      const py = sdk(ctx);
      const server = await startWandbServer();
      try {
        const dir = await tempDir('wandb-resume-');
        const e = { WANDB_MODE: 'online', WANDB_DIR: dir };
        await pythonRun(
          py,
          server,
          { project: 'harness', id: 'resume01', history: [{ loss: 1 }, { loss: 2 }], exit_code: 1 },
          e,
        );
        const first = server.run('resume01');
        expect(first.exitcode).toBe(1);
        await pythonRun(
          py,
          server,
          {
            project: 'harness',
            id: 'resume01',
            resume: 'must',
            history: [{ loss: 3 }],
            config_update: { extra: 5 },
          },
          e,
        );
        expectCleanSession(server);
        const ops = server.requests.map((r) => r.operationName).filter(Boolean);
        expect(ops).toContain('RunResumeStatus');
        const runAfter = server.run('resume01');
        expect(runAfter.history.map((row) => [row._step, row.loss])).toEqual([
          [0, 1],
          [1, 2],
          [2, 3],
        ]);
        const resumeStream = server.requests.filter(
          (r) => r.kind === 'file_stream' && JSON.stringify(r.body).includes('wandb-history'),
        );
        expect((resumeStream.at(-1)!.body as any).files['wandb-history.jsonl'].offset).toBe(2);
        // The resumed upsert names the storage id the server handed out.
        const upserts = runAfter.upserts.map((u) => u.variables.id);
        expect(upserts).toContain(runAfter.storageId);
        expect(runAfter.configValues.extra).toBe(5);
        expect(runAfter.exitcode).toBe(0);
      } finally {
        await server.stop();
      }
    },
    SDK_TIMEOUT,
  );

  it(
    'faults: the SDK retries 429 (Retry-After) and 5xx and nothing is lost or duplicated',
    async (ctx) => {
      const py = sdk(ctx);
      const server = await startWandbServer();
      try {
        server.failNext('UpsertBucket', { status: 503 });
        server.failNext('file_stream', { status: 429, headers: { 'Retry-After': '1' } });
        server.failNext('file_stream', 'drop-response');
        server.failNext('PUT /storage/', { status: 500 });
        const dir = await tempDir('wandb-faults-');
        await pythonRun(py, server, runSpec('faults01'), { WANDB_MODE: 'online', WANDB_DIR: dir });
        expect(server.faults).toMatchObject({ status: 3, 'drop-response': 1 });
        expect(server.unknownOperations).toEqual([]);
        expectLogicalRun(server.run('faults01'), 'online');
      } finally {
        await server.stop();
      }
    },
    SDK_TIMEOUT,
  );
});

describe('the real wandb SDK: artifacts against startWandbServer', () => {
  let media: PythonEnv | undefined;
  let mediaUnavailable: string | undefined;

  beforeAll(async () => {
    try {
      media = await ensurePythonEnv({
        name: 'wandb-media',
        requirements: WANDB_MEDIA_REQUIREMENTS,
      });
    } catch (err) {
      if (process.env.CI === 'true') throw err;
      mediaUnavailable =
        `the wandb SDK with numpy and Pillow could not be provisioned (${(err as Error).message.split('\n')[0]}); ` +
        `these tests need python3 and PyPI to pip install ${WANDB_MEDIA_REQUIREMENTS.join(' ')}`;
    }
  });

  function mediaSdk(ctx: TestContext): PythonEnv {
    if (!media) {
      ctx.skip(mediaUnavailable ?? 'wandb SDK with numpy/Pillow unavailable');
      throw new Error('unreachable');
    }
    return media;
  }

  /** Runs `src/__fixtures__/wandb_artifacts.py`, with the SDK's staging and cache dirs under `dir`. */
  async function artifactRun(
    py: PythonEnv,
    server: WandbServer,
    spec: Record<string, unknown>,
    mode: 'online' | 'offline',
    dir: string,
  ): Promise<ArtifactRunInfo> {
    const { info } = await pythonRun(py, server, spec, sdkDirs(dir, mode), ARTIFACTS_SCRIPT);
    return info as ArtifactRunInfo;
  }

  const md5 = (bytes: Buffer | string) => createHash('md5').update(bytes).digest('base64');

  /** The manifest lists exactly `paths`, and every entry was uploaded with its md5 and size. */
  function expectUploadedAsListed(artifact: WandbArtifact, paths: string[]) {
    const contents = artifact.manifest?.contents as Record<
      string,
      { digest: string; size: number }
    >;
    expect(Object.keys(contents).sort()).toEqual([...paths].sort());
    expect(Object.keys(artifact.files).sort()).toEqual([...paths].sort());
    for (const [path, entry] of Object.entries(contents)) {
      const file = artifact.files[path]!;
      expect(file.md5, path).toBe(entry.digest);
      expect(md5(file.bytes), path).toBe(entry.digest);
      expect(file.size, path).toBe(entry.size);
      expect(file.uploads, path).toBe(1);
    }
    expect(artifact.digest).toBe(wandbArtifactDigest(contents));
    expect(artifact.manifestDigest).toBe(md5(artifact.manifestFile!.bytes));
  }

  /** The `run_table` artifact of `samplesTable()` logged by `runId`, checked against the run's history. */
  function expectTableArtifact(server: WandbServer, runId: string) {
    const run = server.run(runId);
    const artifact = server.artifact(`run-${runId}-samples`);
    expect(artifact).toMatchObject({
      name: `run-${runId}-samples`,
      type: 'run_table',
      entity: 'trackstack',
      project: 'harness',
      state: 'COMMITTED',
      versionIndex: 0,
      aliases: ['latest'],
      createdBy: { entity: 'trackstack', project: 'harness', run: runId },
      usedBy: [],
    });
    expect(server.artifact(`harness/run-${runId}-samples`, 'v0')).toBe(artifact);
    expect(server.artifact(`run-${runId}-samples:latest`)).toBe(artifact);

    // The artifact's copy of the table: typed, image cells as objects pointing into the artifact.
    const table = JSON.parse(artifact.files['samples.table.json']!.bytes.toString('utf8'));
    expect(table).toMatchObject({ _type: 'table', columns: ['name', 'score', 'img'], nrows: 2 });
    const images = (table.data as unknown[][]).map((row) => row[2] as Record<string, unknown>);
    expect(images.map((img) => [img._type, img.width, img.height])).toEqual([
      ['image-file', 12, 8],
      ['image-file', 6, 10],
    ]);
    expect(images[0]!.caption).toBe('first');
    const imagePaths = images.map((img) => img.path as string);
    for (const path of imagePaths) expect(path).toMatch(/^media\/images\/[0-9a-f]{20}\.png$/);
    expectUploadedAsListed(artifact, ['samples.table.json', ...imagePaths]);
    // Table image names are the first 20 hex digits of the image's md5.
    for (const path of imagePaths) {
      const hex = Buffer.from(artifact.files[path]!.md5, 'base64').toString('hex');
      expect(path).toBe(`media/images/${hex.slice(0, 20)}.png`);
      expect(artifact.files[path]!.sha256).toBe(images[imagePaths.indexOf(path)]!.sha256);
    }

    // The history value points at the artifact by the client ids its CreateArtifact sent.
    const value = run.history[0]!.samples as Record<string, unknown>;
    expect(value).toMatchObject({
      _type: 'table-file',
      ncols: 3,
      nrows: 2,
      artifact_path: `wandb-client-artifact://${artifact.clientId}/samples.table.json`,
      _latest_artifact_path: `wandb-client-artifact://${artifact.sequenceClientId}:latest/samples.table.json`,
    });
    // The run's own copy is a run file, without the images.
    expect(run.files[value.path as string]?.sha256).toBe(value.sha256);
    return artifact;
  }

  it(
    'online: a logged wandb.Table becomes a committed run_table artifact with its images',
    async (ctx) => {
      const py = mediaSdk(ctx);
      const server = await startWandbServer();
      try {
        const dir = await tempDir('wandb-art-table-');
        await artifactRun(
          py,
          server,
          { project: 'harness', id: 'table01', actions: [samplesTable()] },
          'online',
          dir,
        );
        expectCleanSession(server);
        expectTableArtifact(server, 'table01');
        expect(server.artifacts).toHaveLength(1);
        const ops = server.requests.map((r) => r.operationName).filter(Boolean);
        for (const op of [
          'ArtifactType',
          'CreateArtifact',
          'CreateArtifactManifest',
          'CreateArtifactFiles',
          'CommitArtifact',
        ]) {
          expect(ops).toContain(op);
        }
        // Artifact uploads are recorded as such.
        const uploads = server.requests.filter((r) => r.kind === 'upload' && r.artifact);
        expect(uploads.length).toBe(4); // table, two images, manifest
        expect(new Set(uploads.map((r) => r.artifact))).toEqual(new Set([server.artifacts[0]!.id]));
      } finally {
        await server.stop();
      }
    },
    SDK_TIMEOUT,
  );

  it(
    'faults: wandb-core retries artifact mutations and uploads, and the artifact still commits once',
    async (ctx) => {
      const py = mediaSdk(ctx);
      const server = await startWandbServer();
      try {
        server.failNext(/ CreateArtifact$/, { status: 503 });
        server.failNext(/ CreateArtifactFiles$/, 'drop-response');
        server.failNext(/PUT \/storage\/[0-9a-f]+\/media\/images\//, { status: 500 });
        server.failNext(/ CommitArtifact$/, 'drop-response');
        const dir = await tempDir('wandb-art-faults-');
        await artifactRun(
          py,
          server,
          { project: 'harness', id: 'artfaults01', actions: [samplesTable()] },
          'online',
          dir,
        );
        expect(server.faults).toMatchObject({ status: 2, 'drop-response': 2 });
        expect(server.unknownOperations).toEqual([]);
        expect(server.protocolErrors).toEqual([]);
        expectTableArtifact(server, 'artfaults01');
        expect(server.artifacts).toHaveLength(1);
      } finally {
        await server.stop();
      }
    },
    SDK_TIMEOUT,
  );

  it(
    'online: log_artifact versions and dedups a dataset; use_artifact by name and of a draft records the use',
    async (ctx) => {
      const py = mediaSdk(ctx);
      const server = await startWandbServer({ uploadHeaders: ['X-Trackstack-Upload:yes'] });
      try {
        const dir = await tempDir('wandb-art-dataset-');
        const dataset = (csv: string) => ({
          log_artifact: {
            name: 'my-dataset',
            type: 'dataset',
            description: 'the rows',
            metadata: { rows: 2 },
            files: [
              { name: 'data.csv', text: csv },
              { name: 'docs/readme.txt', text: 'about the rows\n' },
            ],
          },
        });
        const produced = await artifactRun(
          py,
          server,
          {
            project: 'harness',
            id: 'producer01',
            actions: [dataset('a,b\n1,2\n'), dataset('a,b\n3,4\n'), dataset('a,b\n3,4\n')],
          },
          'online',
          dir,
        );
        const consumed = await artifactRun(
          py,
          server,
          {
            project: 'harness',
            id: 'consumer01',
            actions: [
              { use_artifact: 'my-dataset:latest' },
              { use_artifact: 'my-dataset:v0' },
              {
                use_draft: {
                  name: 'consumer-draft',
                  type: 'dataset',
                  files: [{ name: 'd.txt', text: 'draft\n' }],
                },
              },
            ],
          },
          'online',
          dir,
        );
        expectCleanSession(server);

        // v0, v1, and the third log (same content as v1) answered with v1.
        const v0 = server.artifact('my-dataset', 'v0');
        const v1 = server.artifact('my-dataset:v1');
        expect(server.artifacts.filter((a) => a.name === 'my-dataset')).toEqual([v0, v1]);
        expect(server.artifact('my-dataset:latest')).toBe(v1);
        expect(v0.aliases).toEqual([]);
        expect(v1.aliases).toEqual(['latest']);
        for (const a of [v0, v1]) {
          expect(a).toMatchObject({
            type: 'dataset',
            state: 'COMMITTED',
            description: 'the rows',
            metadata: { rows: 2 },
            createdBy: { entity: 'trackstack', project: 'harness', run: 'producer01' },
          });
          expectUploadedAsListed(a, ['data.csv', 'docs/readme.txt']);
          // The upload headers handed out were sent with every artifact PUT.
          expect(a.files['data.csv']!.headers['x-trackstack-upload']).toBe('yes');
          expect(a.manifestFile!.headers['x-trackstack-upload']).toBe('yes');
        }
        expect(v0.files['data.csv']!.bytes.toString()).toBe('a,b\n1,2\n');
        expect(v1.files['data.csv']!.bytes.toString()).toBe('a,b\n3,4\n');
        expect(produced.artifacts.map((a) => [a.action, a.id, a.version])).toEqual([
          ['log_artifact', v0.id, 'v0'],
          ['log_artifact', v1.id, 'v1'],
          ['log_artifact', v1.id, 'v1'],
        ]);

        const consumer = {
          entity: 'trackstack',
          project: 'harness',
          run: 'consumer01',
          usedAs: null,
        };
        expect(v1.usedBy).toEqual([consumer]);
        expect(v0.usedBy).toEqual([consumer]);
        const draft = server.artifact('consumer-draft');
        expect(draft).toMatchObject({
          state: 'COMMITTED',
          versionIndex: 0,
          createdBy: null,
          usedBy: [consumer],
        });
        expectUploadedAsListed(draft, ['d.txt']);
        expect(consumed.artifacts.map((a) => [a.action, a.id, a.name, a.version, a.type])).toEqual([
          ['use_artifact', v1.id, 'my-dataset:latest', 'v1', 'dataset'],
          ['use_artifact', v0.id, 'my-dataset:v0', 'v0', 'dataset'],
          ['use_draft', draft.id, 'consumer-draft:v0', 'v0', 'dataset'],
        ]);
        const ops = server.requests.map((r) => r.operationName).filter(Boolean);
        for (const op of ['ArtifactByID', 'ArtifactMembershipByName', 'UseArtifact']) {
          expect(ops).toContain(op);
        }
      } finally {
        await server.stop();
      }
    },
    SDK_TIMEOUT,
  );

  it(
    'offline with a table and a dataset, then `wandb sync`: both artifacts are committed',
    async (ctx) => {
      const py = mediaSdk(ctx);
      const server = await startWandbServer();
      try {
        const dir = await tempDir('wandb-art-sync-');
        const info = await artifactRun(
          py,
          server,
          {
            project: 'harness',
            id: 'offtable01',
            actions: [
              samplesTable(),
              {
                log_artifact: {
                  name: 'offline-dataset',
                  type: 'dataset',
                  files: [{ name: 'x.txt', text: 'x\n' }],
                },
              },
            ],
          },
          'offline',
          dir,
        );
        expect(server.requests).toEqual([]);
        const sync = await run(py.bin('wandb'), ['sync', info.run_dir], {
          env: {
            ...process.env,
            ...server.sdkEnv,
            ...sdkDirs(dir, 'offline'),
            WANDB_MODE: 'online',
          },
        });
        expect(sync.code, `${sync.stdout}\n${sync.stderr}`).toBe(0);
        expectCleanSession(server);
        expectTableArtifact(server, 'offtable01');
        const dataset = server.artifact('offline-dataset');
        expect(dataset).toMatchObject({
          state: 'COMMITTED',
          versionIndex: 0,
          aliases: ['latest'],
          createdBy: { entity: 'trackstack', project: 'harness', run: 'offtable01' },
        });
        expectUploadedAsListed(dataset, ['x.txt']);
        expect(server.run('offtable01').complete).toBe(true);
      } finally {
        await server.stop();
      }
    },
    SDK_TIMEOUT,
  );
});

interface ArtifactRunInfo extends RunInfo {
  artifacts: {
    action: string;
    id: string;
    name: string;
    version: string;
    type: string;
    digest: string;
    aliases: string[];
  }[];
}

/** Environment for the SDK with its directories (run dir, artifact staging, caches) under `dir`. */
function sdkDirs(dir: string, mode: 'online' | 'offline'): Record<string, string> {
  return {
    WANDB_MODE: mode,
    WANDB_DIR: dir,
    WANDB_DATA_DIR: join(dir, 'data'),
    WANDB_CACHE_DIR: join(dir, 'cache'),
    WANDB_ARTIFACT_DIR: join(dir, 'artifacts'),
    WANDB_CONFIG_DIR: join(dir, 'config'),
  };
}

/** A table with a string, a number and an image column, logged as `samples`. */
function samplesTable(): Record<string, unknown> {
  return {
    table: {
      key: 'samples',
      columns: ['name', 'score', 'img'],
      rows: [
        ['a', 1.5, { image: { seed: 1, height: 8, width: 12, caption: 'first' } }],
        ['b', 2.5, { image: { seed: 2, height: 10, width: 6 } }],
      ],
    },
  };
}

/** See the test that uses it; filled in from an observed run. */
const ONLINE_VS_SYNC: string[] = [];
