/**
 * Reads a `.wandb` transaction log with @trackstack/tracker-wandb's own strict
 * reader (header, 32 KiB blocks, CRC-32 of every chunk, chunk sequence; the
 * package's internals, loaded from its sources through jiti) and
 * checks its history: exactly `rows` history records, steps 0..rows-1 in
 * order, each with every one of `keys` (and W&B's `_step`), and an exit
 * record. Used on both sides of the offline W&B benchmark, so neither can
 * report a run whose file is incomplete or unreadable. Throws when the file
 * does not hold what was logged.
 */
import { readFileSync } from 'node:fs';
import { wandbInternal } from './lib.mjs';

const { readProtobufFields } = await wandbInternal('wandb-protobuf.ts');
const { WANDB_FIELDS: F } = await wandbInternal('wandb-records.ts');
const { scanWandbTransactionLog } = await wandbInternal('wandb-transaction-log.ts');

const utf8 = new TextDecoder();

const fields = (bytes, number) => readProtobufFields(bytes).filter((f) => f.field === number);

/** The item's key: `key`, or `nested_key` joined by '/' (W&B writes either). */
function itemKey(item) {
  const parts = readProtobufFields(item);
  const key = parts.find((f) => f.field === F.HistoryItem.key);
  if (key) return utf8.decode(key.value);
  return parts
    .filter((f) => f.field === F.HistoryItem.nested_key)
    .map((f) => utf8.decode(f.value))
    .join('/');
}

/**
 * `{ bytes, records, historyRecords, exit }` of the file at `path`; throws
 * unless it holds `rows` history rows, steps 0..rows-1, each with all `keys`.
 */
export function checkWandbLog(path, { rows, keys }) {
  const bytes = readFileSync(path);
  const { records } = scanWandbTransactionLog(bytes);
  let history = 0;
  let exit = false;
  for (const record of records) {
    const top = readProtobufFields(record);
    if (top.some((f) => f.field === F.Record.exit)) exit = true;
    const body = top.find((f) => f.field === F.Record.history);
    if (body === undefined) continue;
    const step = fields(body.value, F.HistoryRecord.step)[0];
    const stepNum =
      step === undefined ? 0n : (fields(step.value, F.HistoryStep.num)[0]?.value ?? 0n);
    if (stepNum !== BigInt(history)) {
      throw new Error(`${path}: history record ${history} has step ${stepNum}`);
    }
    const present = new Set(fields(body.value, F.HistoryRecord.item).map((f) => itemKey(f.value)));
    for (const key of [...keys, '_step']) {
      if (!present.has(key)) throw new Error(`${path}: history step ${stepNum} lacks ${key}`);
    }
    history += 1;
  }
  if (history !== rows) throw new Error(`${path}: ${history} history records, expected ${rows}`);
  if (!exit) throw new Error(`${path}: no exit record`);
  return { bytes: bytes.length, records: records.length, historyRecords: history, exit };
}

// `node wandb-log-check.mjs <file.wandb> <rows> <key,key,...>`: prints the check as JSON.
if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, rows, keys] = process.argv.slice(2);
  process.stdout.write(
    `${JSON.stringify(checkWandbLog(path, { rows: Number(rows), keys: keys.split(',') }))}\n`,
  );
}
