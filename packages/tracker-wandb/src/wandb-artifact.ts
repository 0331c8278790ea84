/**
 * W&B artifacts as the SDK makes them: names (W&B's rule), the MANIFEST_MD5 digest (the md5 of
 * `wandb-artifact-manifest-v1\n` and a `path:digest\n` line per entry, sorted by path), client
 * ids, the uploaded manifest, and the `dataset` artifact a run uses for a dataset input
 * (`run.use_artifact`), its source as a reference.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { crc32 } from 'node:zlib';
import type { DatasetInput } from '@trackstack/core';

/** An entry of an artifact's manifest: a file staged on this machine. */
export interface ArtifactEntry {
  path: string;
  /** base64 md5 of the bytes. */
  digest: string;
  size: number;
  /** Where the bytes are (a staged copy), or the bytes themselves; neither for a reference. */
  localPath?: string;
  bytes?: Uint8Array;
  /** A reference entry: the URI of data the artifact points at, not holds. */
  ref?: string;
}

/** An artifact to create, upload and commit (online), or record (offline). */
export interface WandbArtifact {
  name: string;
  type: string;
  /** MANIFEST_MD5 of the entries. */
  digest: string;
  clientId: string;
  sequenceClientId: string;
  aliases: string[];
  entries: ArtifactEntry[];
  /** JSON text. */
  metadata?: string;
  description?: string;
  /** Made by the user, not by the run (a dataset it uses): the service records no producing run. */
  userCreated?: boolean;
}

/** W&B's artifact name rule: only `[A-Za-z0-9_.-]`; a changed name gets a CRC-32 suffix. */
export function sanitizeArtifactName(name: string): string {
  const sanitized = name.replace(/[^a-zA-Z0-9_\-.]+/g, '');
  if (sanitized === name) return name;
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.from(name, 'utf8')) >>> 0);
  return `${sanitized}-${crc.toString('base64url')}`;
}

/** W&B's MANIFEST_MD5 digest of an artifact's entries. */
export function manifestDigest(entries: readonly { path: string; digest: string }[]): string {
  const hash = createHash('md5').update('wandb-artifact-manifest-v1\n');
  for (const entry of [...entries].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
  )) {
    hash.update(`${entry.path}:${entry.digest}\n`);
  }
  return hash.digest('hex');
}

/** 128 characters of [a-z0-9] from a seed: the SDK's client ids are random ones of this form. */
export function clientIdOf(seed: string): string {
  let out = '';
  for (let i = 0; out.length < 128; i++) {
    const digest = createHash('sha256').update(`${seed}\u0000${i}`).digest();
    for (const byte of digest) {
      if (byte < 252) out += (byte % 36).toString(36);
      if (out.length === 128) break;
    }
  }
  return out;
}

/** `wandb_manifest.json` as the service gets it (W&B's storage policy, layout V2). */
export function manifestJson(
  entries: readonly ArtifactEntry[],
  birthArtifactIds: ReadonlyMap<string, string>,
): Buffer {
  const contents: Record<string, Record<string, unknown>> = {};
  for (const entry of entries) {
    const birth = birthArtifactIds.get(entry.path);
    contents[entry.path] = {
      digest: entry.digest,
      ...(entry.ref === undefined ? {} : { ref: entry.ref }),
      size: entry.size,
      ...(birth === undefined ? {} : { birthArtifactID: birth }),
    };
  }
  return Buffer.from(
    JSON.stringify({
      version: 1,
      storagePolicy: 'wandb-storage-policy-v1',
      storagePolicyConfig: { storageLayout: 'V2' },
      contents,
    }),
  );
}

/**
 * The `dataset` artifact of a dataset input (none without a source), as a W&B user logs one with
 * `Artifact(name, type="dataset")` and `add_reference(source)`: its source as a reference
 * entry whose digest is the input's (so new content makes a new version), its schema,
 * profile and source type as metadata.
 */
export function datasetArtifact(runId: string, input: DatasetInput): WandbArtifact | undefined {
  // Without a source there is nothing to point at: the config alone records it.
  if (input.source === undefined) return undefined;
  const ref = /^[a-z][a-z0-9+.-]*:\/\//i.test(input.source)
    ? input.source
    : `file://${input.source}`;
  const entries: ArtifactEntry[] = [
    {
      path: basename(input.source.replace(/\/+$/, '')) || input.name,
      digest: input.digest ?? ref,
      size: 0,
      ref,
    },
  ];
  const metadata: Record<string, unknown> = {};
  if (input.digest !== undefined) metadata.digest = input.digest;
  if (input.sourceType !== undefined) metadata.source_type = input.sourceType;
  if (input.schema !== undefined) metadata.schema = input.schema;
  if (input.profile !== undefined) metadata.profile = input.profile;
  const name = sanitizeArtifactName(input.name);
  const digest = manifestDigest(entries);
  return {
    name,
    type: 'dataset',
    digest,
    clientId: clientIdOf(`${runId}\u0000dataset\u0000${name}\u0000${digest}`),
    sequenceClientId: clientIdOf(`dataset\u0000${name}`),
    aliases: ['latest'],
    entries,
    metadata: JSON.stringify(metadata),
    userCreated: true,
  };
}
