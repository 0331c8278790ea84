/**
 * Benchmark 4, memory under outage: 1e7 points logged while the backend is
 * down (an MLflow tracker pointed at a port nothing listens on), in a fresh
 * node process per repetition (memory-worker.mjs).
 *
 * - Peak RSS: the kernel's high-water mark of the worker (VmHWM, read by the
 *   worker at the end) and the largest VmRSS this process sampled every 20 ms
 *   from /proc/<pid>/status while the worker ran. Target: < 200 MB.
 * - Every point journaled: the run's journal segments are read back line by
 *   line and every metric column decoded; each point must carry the value,
 *   step and key it was logged with, in logging order, exactly once, and the
 *   count must be `--points`. (Cheaper than LocalRuns.metricHistory, which
 *   would build one object per point, and stricter than summing counts.)
 *
 * Usage: node memory.mjs [--points 1e7] [--keys 10] [--reps 3]
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  harness,
  machineInfo,
  machineLine,
  options,
  printTable,
  processMemory,
  repeat,
  runNodeJson,
  summarize,
  verdict,
  warnIfBusy,
  writeResults,
} from './lib.mjs';

const opts = options({ points: 10_000_000, keys: 10, reps: 3 });
const LIMIT = 200 * 1000 * 1000; // 200 MB

const machine = await machineInfo();
process.stdout.write(`memory under outage: ${machineLine(machine)}\n`);
const busyBefore = await warnIfBusy('the memory benchmark');
const h = await harness();

function column(base64, Type) {
  const bytes = Buffer.from(base64, 'base64');
  return new Type(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

/** Reads every segment of the run back; throws at the first point that is not what was logged. */
async function verifyJournal(dir, points, keys) {
  const names = Array.from({ length: keys }, (_, i) => `train/metric_${i}`);
  const journalDir = join(dir, 'journal');
  const segments = (await readdir(journalDir)).filter((f) => f.endsWith('.jsonl')).sort();
  let expected = 0;
  let bytes = 0;
  let records = 0;
  let ended = false;
  for (const segment of segments) {
    const path = join(journalDir, segment);
    bytes += (await stat(path)).size;
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    for await (const line of lines) {
      const record = JSON.parse(line);
      if (record.t === 'e') ended = true;
      if (record.t !== 'b' || record.m === undefined) continue;
      records += 1;
      const { n, keys: blockKeys } = record.m;
      const k = column(record.m.k, Uint32Array);
      const v = column(record.m.v, Float64Array);
      const s = column(record.m.s, Float64Array);
      if (k.length !== n || v.length !== n || s.length !== n) {
        throw new Error(`${segment}: record q=${record.q} has columns of the wrong length`);
      }
      for (let j = 0; j < n; j++) {
        if (v[j] !== expected || s[j] !== expected || blockKeys[k[j]] !== names[expected % keys]) {
          throw new Error(
            `${segment}: point ${expected} is (${blockKeys[k[j]]}, ${v[j]}, step ${s[j]}), expected (${names[expected % keys]}, ${expected}, step ${expected})`,
          );
        }
        expected += 1;
      }
    }
  }
  if (expected !== points) throw new Error(`the journal holds ${expected} of ${points} points`);
  return { points: expected, records, segments: segments.length, bytes, ended };
}

const reps = await repeat(opts.reps, async (rep) => {
  const store = await mkdtemp(join(tmpdir(), 'trackstack-bench-outage-'));
  try {
    const port = await h.freePort(); // free now, and nothing will listen on it
    let maxSampled = 0;
    let timer;
    const result = await runNodeJson(
      'memory-worker.mjs',
      [
        '--port',
        String(port),
        '--points',
        String(opts.points),
        '--keys',
        String(opts.keys),
        '--store',
        store,
      ],
      {
        onSpawn(child) {
          timer = setInterval(() => {
            const { rss } = processMemory(child.pid);
            if (rss !== undefined) maxSampled = Math.max(maxSampled, rss);
          }, 20);
        },
      },
    ).finally(() => clearInterval(timer));
    const t0 = performance.now();
    const journal = await verifyJournal(result.dir, opts.points, opts.keys);
    const verifyMs = performance.now() - t0;
    process.stdout.write(
      `  rep ${rep + 1}: peak RSS ${(result.peakRssBytes / 1e6).toFixed(1)} MB (sampled max ${(maxSampled / 1e6).toFixed(1)} MB), ${Math.round(result.pointsPerSec).toLocaleString('en-US')} points/s, journal ${journal.points.toLocaleString('en-US')} points verified in ${(verifyMs / 1000).toFixed(1)} s (${(journal.bytes / 1e6).toFixed(0)} MB)\n`,
    );
    return { ...result, sampledMaxRssBytes: maxSampled, journal, verifyMs };
  } finally {
    await rm(store, { recursive: true, force: true });
  }
});

const peak = summarize(reps.map((r) => r.peakRssBytes));
const sampled = summarize(reps.map((r) => r.sampledMaxRssBytes));
const rows = [
  {
    what: 'peak RSS of the logging process (VmHWM)',
    value: `${(peak.median / 1e6).toFixed(1)} MB`,
    range: `${(peak.min / 1e6).toFixed(1)}–${(peak.max / 1e6).toFixed(1)} MB`,
    target: `< 200 MB: ${verdict(peak.max < LIMIT)}`,
  },
  {
    what: 'largest VmRSS sampled every 20 ms',
    value: `${(sampled.median / 1e6).toFixed(1)} MB`,
    range: `${(sampled.min / 1e6).toFixed(1)}–${(sampled.max / 1e6).toFixed(1)} MB`,
    target: '',
  },
  {
    what: 'points journaled and read back exactly (value, step, key, order)',
    value: `${reps[0].journal.points.toLocaleString('en-US')} of ${opts.points.toLocaleString('en-US')}`,
    range: `every repetition: ${reps.every((r) => r.journal.points === opts.points) ? 'all' : 'NOT all'}`,
    target: `every point: ${verdict(reps.every((r) => r.journal.points === opts.points))}`,
  },
  {
    what: 'logging rate during the outage',
    value: `${Math.round(summarize(reps.map((r) => r.pointsPerSec)).median).toLocaleString('en-US')} points/s`,
    range: '',
    target: '',
  },
  {
    what: 'journal size',
    value: `${(reps[0].journal.bytes / 1e6).toFixed(0)} MB in ${reps[0].journal.records} records`,
    range: `${(reps[0].journal.bytes / opts.points).toFixed(1)} bytes/point`,
    target: '',
  },
  {
    what: 'undelivered events reported by end()',
    value: reps[0].pendingEvents.toLocaleString('en-US'),
    range: `hint printed: ${reps.every((r) => r.hint) ? 'yes' : 'no'}`,
    target: '',
  },
];
const text = printTable(
  `Memory under outage: ${opts.points.toLocaleString('en-US')} points over ${opts.keys} keys with the backend down, median of ${opts.reps}`,
  rows,
  [
    ['what', 'measure'],
    ['value', 'median'],
    ['range', 'min–max / detail'],
    ['target', 'target'],
  ],
);

await writeResults('memory', {
  description:
    'Peak RSS while logging 1e7 points to a tracker whose backend is down; every point read back from the journal.',
  options: opts,
  busyBefore,
  reps,
  peakRssBytes: peak,
  sampledMaxRssBytes: sampled,
  table: text,
});
