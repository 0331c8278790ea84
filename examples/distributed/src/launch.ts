/**
 * Starts WORLD_SIZE (default 4) ranks of worker.js on this machine, the way torchrun does:
 * RANK, LOCAL_RANK, WORLD_SIZE, and the run's uid (TRACKSTACK_RUN_ID) in each one's
 * environment, plus a rendezvous directory for their barrier. Waits for them all; prints the
 * run's uid as its last line (exit 1 if a rank failed).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const worldSize = Number(process.env.WORLD_SIZE ?? 4);
if (!Number.isInteger(worldSize) || worldSize < 1)
  throw new Error('WORLD_SIZE must be a positive integer');
const uid = randomUUID();
const rendezvous = await mkdtemp(join(tmpdir(), 'trackstack-rendezvous-'));
const worker = join(import.meta.dirname, 'worker.js');

const codes = await Promise.all(
  Array.from(
    { length: worldSize },
    (_, rank) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [worker], {
          stdio: 'inherit',
          env: {
            ...process.env,
            RANK: String(rank),
            LOCAL_RANK: String(rank),
            WORLD_SIZE: String(worldSize),
            TRACKSTACK_RUN_ID: uid,
            RENDEZVOUS_DIR: rendezvous,
          },
        });
        child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
      }),
  ),
);
await rm(rendezvous, { recursive: true, force: true });
const failed = codes.filter((code) => code !== 0).length;
process.stdout.write(`${worldSize} ranks logged run ${uid}${failed ? `; ${failed} failed` : ''}\n`);
process.stdout.write(`${uid}\n`);
process.exitCode = failed === 0 ? 0 : 1;
