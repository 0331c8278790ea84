/**
 * One repetition of the ingest ceiling: the same points as the other variants,
 * pre-encoded (before the timing) as MLflow log-batch JSON bodies of 1000
 * points each (MLflow's maximum), posted by a bare undici Pool with
 * `--concurrency` requests in flight, each connection closed after
 * `--per-connection` requests (0: kept). `--group 10` orders the points key by
 * key, 10 keys a request, as the MLflow flavor sends them; `--group 0` keeps
 * the logging order (every request holds 10 steps of every key). Nothing but
 * HTTP in the timing: it is the most any client can get out of this server.
 * Prints one JSON line.
 */
import { Pool, request } from 'undici';
import { options } from './lib.mjs';

const {
  url,
  points,
  keys,
  concurrency,
  group,
  'per-connection': perConnection,
} = options({
  url: '',
  points: 200_000,
  keys: 100,
  concurrency: 4,
  // Keys per request: 0 = the points in logging order (every step's 100 keys, 10 steps a
  // request); 10 = ten keys' points over 100 steps a request (what MLflow's flavor sends).
  group: 0,
  // Requests per connection before undici closes it and opens another (0: no limit).
  'per-connection': 0,
});
const api = (path) => `${url}/api/2.0/mlflow/${path}`;
async function post(path, body) {
  const response = await request(api(path), {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${path}: ${response.statusCode} ${text}`);
  return JSON.parse(text);
}

const { experiment_id } = await post('experiments/create', {
  name: `bench-ingest-ceiling-${process.pid}-${Date.now()}`,
});
const { run } = await post('runs/create', { experiment_id, start_time: Date.now() });
const runId = run.info.run_id;

const names = Array.from({ length: keys }, (_, i) => `train/metric_${String(i).padStart(3, '0')}`);
const steps = Math.floor(points / keys);
const bodies = [];
let metrics = [];
const push = (point) => {
  metrics.push(point);
  if (metrics.length === 1000) {
    bodies.push(Buffer.from(JSON.stringify({ run_id: runId, metrics })));
    metrics = [];
  }
};
const timestamp = Date.now();
const point = (step, k) => ({ key: names[k], value: step * 1e-3 + k, timestamp, step });
if (group > 0) {
  // Windows of 1000/group steps: each window's points go out key by key.
  const window = Math.max(1, Math.floor(1000 / group));
  for (let w = 0; w < steps; w += window) {
    for (let k = 0; k < keys; k++) {
      for (let step = w; step < Math.min(steps, w + window); step++) push(point(step, k));
    }
  }
} else {
  for (let step = 0; step < steps; step++) for (let k = 0; k < keys; k++) push(point(step, k));
}
if (metrics.length > 0) bodies.push(Buffer.from(JSON.stringify({ run_id: runId, metrics })));

// undici closes a connection after the request that finds maxRequestsPerClient already served
// on it (max + 1 requests), so one request per connection is `reset: true` on each request.
const pool = new Pool(url, {
  connections: concurrency,
  pipelining: 1,
  ...(perConnection > 1 ? { maxRequestsPerClient: perConnection - 1 } : {}),
});
const reset = perConnection === 1;
let connections = 0;
pool.on('connect', () => {
  connections += 1;
});
let next = 0;
async function worker() {
  while (next < bodies.length) {
    const body = bodies[next++];
    const response = await pool.request({
      path: '/api/2.0/mlflow/runs/log-batch',
      method: 'POST',
      body,
      reset,
      headers: { 'content-type': 'application/json' },
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`log-batch: ${response.statusCode} ${text}`);
  }
}
const c0 = process.cpuUsage();
const windowStart = Date.now();
const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const t1 = performance.now();
const windowEnd = Date.now();
const cpu = process.cpuUsage(c0);
await pool.close();
const ms = t1 - t0;
process.stdout.write(
  `${JSON.stringify({
    runId,
    points: steps * keys,
    requests: bodies.length,
    connections,
    concurrency,
    perConnection,
    ms,
    pointsPerSec: (steps * keys) / (ms / 1000),
    cpuMs: (cpu.user + cpu.system) / 1000,
    windowStart,
    windowEnd,
  })}\n`,
);
