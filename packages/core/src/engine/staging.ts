/**
 * Staging: what a logging call copies into the run's directory before it
 * returns (artifacts, images, tables, text), content-addressed under
 * `artifacts/<sha256>`, so a delivery later cannot miss a file the script
 * deleted or overwrote, and the queue holds paths, never bytes.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { copyFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ValidationError } from '../contract/errors.js';
import type { Logger } from '../contract/log.js';

/** A staged copy: its path relative to the run directory, its size and SHA-256. */
export interface StagedFile {
  file: string;
  size: number;
  sha256: string;
}

/** Copies a file into `artifacts/` (copy-on-write where the file system can). */
export async function stageFile(
  runDir: string,
  artifactsDir: string,
  source: string,
): Promise<StagedFile> {
  const temporary = temporaryIn(artifactsDir);
  await copyFile(source, temporary, constants.COPYFILE_FICLONE);
  const { sha256, size } = await hashFile(temporary);
  return settle(runDir, artifactsDir, temporary, sha256, size);
}

/** Writes bytes into `artifacts/`. */
export async function stageBytes(
  runDir: string,
  artifactsDir: string,
  bytes: Uint8Array,
): Promise<StagedFile> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const final = join(artifactsDir, sha256);
  if (!(await exists(final))) {
    const temporary = temporaryIn(artifactsDir);
    await writeFile(temporary, bytes);
    return settle(runDir, artifactsDir, temporary, sha256, bytes.length);
  }
  return { file: toPosix(relative(runDir, final)), size: bytes.length, sha256 };
}

function temporaryIn(artifactsDir: string): string {
  return join(artifactsDir, `.staging-${process.pid}-${Math.random().toString(36).slice(2)}`);
}

async function settle(
  runDir: string,
  artifactsDir: string,
  temporary: string,
  sha256: string,
  size: number,
): Promise<StagedFile> {
  const final = join(artifactsDir, sha256);
  if (await exists(final)) await unlink(temporary);
  else await rename(temporary, final);
  return { file: toPosix(relative(runDir, final)), size, sha256 };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Artifact paths are relative, with '/' separators and no '.', '..' or empty segments. */
export function normalizeArtifactPath(path: string): string {
  const posix = toPosix(path);
  const segments = posix.split('/');
  if (
    posix.length === 0 ||
    posix.startsWith('/') ||
    /^[A-Za-z]:/.test(posix) ||
    segments.some((segment) => segment === '' || segment === '.' || segment === '..')
  ) {
    throw new ValidationError(
      'INVALID_VALUE',
      path,
      'key-path',
      "artifact paths must be relative, without '.', '..' or empty segments",
    );
  }
  return posix;
}

export function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

/** Every regular file under a directory, sorted; links to files are followed, to directories not. */
export async function listFiles(directory: string, logger: Logger): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(directory, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      for (const file of await listFiles(path, logger)) out.push(file);
    } else if (entry.isFile()) {
      out.push(path);
    } else if (entry.isSymbolicLink()) {
      // Files behind links are logged; linked directories are not followed (they can loop).
      const target = await stat(path).catch(() => undefined);
      if (target?.isFile()) out.push(path);
      else logger.warn(`artifact ${path}: skipped a link that is not to a regular file`);
    }
  }
  return out;
}

/** `mime` (with its type tables) loads on the first artifact, not with the package. */
let mimePromise: Promise<typeof import('mime').default> | undefined;
export async function contentTypeOf(path: string): Promise<string> {
  mimePromise ??= import('mime').then((module) => module.default);
  return (await mimePromise).getType(path) ?? 'application/octet-stream';
}
