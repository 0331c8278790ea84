import { describe, expect, it } from 'vitest';
import {
  clientIdOf,
  datasetArtifact,
  manifestDigest,
  manifestJson,
  sanitizeArtifactName,
} from './wandb-artifact.js';

describe('manifestDigest', () => {
  it("is W&B's MANIFEST_MD5: the digest wandb 0.30 gave a run_table artifact of these entries", () => {
    // The entries and digest of a table artifact the real SDK logged (its ArtifactRecord).
    expect(
      manifestDigest([
        { path: 'tbl.table.json', digest: '4MgTEr0sXlhaQVU0s5AOvQ==' },
        { path: 'media/images/f363b381b356d6bc0d45.png', digest: '82OzgbNW1rwNRaDUsdKSwA==' },
        { path: 'media/images/a8380ebf8ea17137c3ae.png', digest: 'qDgOv46hcTfDrvosjQQ5LQ==' },
      ]),
    ).toBe('092d086925209d0467a89cc4aa991277');
  });
});

describe('sanitizeArtifactName', () => {
  it('keeps a valid name and adds a CRC-32 suffix to one it had to change', () => {
    expect(sanitizeArtifactName('run-abc123-samples')).toBe('run-abc123-samples');
    const changed = sanitizeArtifactName('run-abc123-eval/samples');
    expect(changed).toMatch(/^run-abc123-evalsamples-[A-Za-z0-9_-]{6}$/);
    expect(sanitizeArtifactName('run-abc123-eval/samples')).toBe(changed);
    expect(sanitizeArtifactName('run-abc123-eval:samples')).not.toBe(changed);
  });
});

describe('clientIdOf', () => {
  it('gives 128 characters of [a-z0-9], the same for the same seed', () => {
    const id = clientIdOf('run\u0000key\u00001');
    expect(id).toMatch(/^[a-z0-9]{128}$/);
    expect(clientIdOf('run\u0000key\u00001')).toBe(id);
    expect(clientIdOf('run\u0000key\u00002')).not.toBe(id);
  });
});

describe('datasetArtifact', () => {
  it("points at the source by reference, its digest the input's, schema and profile as metadata", () => {
    const artifact = datasetArtifact('run1', {
      name: 'iris data',
      digest: 'abc123',
      source: 's3://bucket/iris.csv',
      sourceType: 's3',
      schema: '{"cols":["a"]}',
      context: 'training',
    })!;
    expect(artifact).toMatchObject({
      name: sanitizeArtifactName('iris data'),
      type: 'dataset',
      aliases: ['latest'],
      entries: [{ path: 'iris.csv', digest: 'abc123', size: 0, ref: 's3://bucket/iris.csv' }],
    });
    expect(JSON.parse(artifact.metadata!)).toEqual({
      digest: 'abc123',
      source_type: 's3',
      schema: '{"cols":["a"]}',
    });
    expect(artifact.digest).toBe(manifestDigest(artifact.entries));
    // A local path becomes a file:// reference; new content (digest) makes a new version.
    const local = datasetArtifact('run1', { name: 'x', digest: 'd1', source: '/data/x.csv' })!;
    expect(local.entries[0]?.ref).toBe('file:///data/x.csv');
    const changed = datasetArtifact('run1', { name: 'x', digest: 'd2', source: '/data/x.csv' })!;
    expect(changed.digest).not.toBe(local.digest);
    expect(datasetArtifact('run1', { name: 'no source', digest: 'd' })).toBeUndefined();
  });
});

describe('manifestJson', () => {
  it('lists entries with digest, size, reference and birth artifact', () => {
    const json = JSON.parse(
      manifestJson(
        [
          { path: 'a.png', digest: 'x==', size: 3, localPath: '/tmp/a' },
          { path: 'r', digest: 'd', size: 0, ref: 's3://b/r' },
        ],
        new Map([['a.png', 'QXJ0']]),
      ).toString(),
    );
    expect(json).toEqual({
      version: 1,
      storagePolicy: 'wandb-storage-policy-v1',
      storagePolicyConfig: { storageLayout: 'V2' },
      contents: {
        'a.png': { digest: 'x==', size: 3, birthArtifactID: 'QXJ0' },
        r: { digest: 'd', ref: 's3://b/r', size: 0 },
      },
    });
  });
});
