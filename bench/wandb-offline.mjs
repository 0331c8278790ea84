/**
 * Benchmark 3, offline W&B: rows per second written into a `.wandb` file by
 * @trackstack/tracker-wandb's offline writer, against the wandb SDK in offline
 * mode (`wandb.log` rows into its own `.wandb` file; about 5 000 rows/s on
 * this machine). Target from issue 9: at least 20×.
 *
 * Not yet: it needs @trackstack/tracker-wandb's offline writer, which is still
 * being built. Until then this script measures nothing, prints a "skipped" row
 * and exits 0; it never reports a number it did not measure.
 *
 * Usage: node wandb-offline.mjs
 */
import { machineInfo, machineLine, printTable, writeResults } from './lib.mjs';

const REASON = "not yet: needs @trackstack/tracker-wandb's offline writer";

const machine = await machineInfo();
process.stdout.write(`offline W&B: ${machineLine(machine)}\n`);
const text = printTable(
  'Offline W&B: rows/s into a .wandb file',
  [
    {
      client: 'trackstack tracker-wandb (offline) vs wandb SDK (offline)',
      status: 'skipped',
      reason: REASON,
    },
  ],
  [
    ['client', 'client'],
    ['status', 'status'],
    ['reason', 'why'],
  ],
);
await writeResults('wandb-offline', { status: 'skipped', reason: REASON, table: text });
