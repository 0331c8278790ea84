/**
 * Starts (or resumes) a run: its directory, its journal segment, its
 * deliveries, one per destination. Every tracker's `startRun` ends up here,
 * so every run follows the same path whatever its flavors.
 */
import type { ExperimentBackend } from '../contract/backend.js';
import { TrackstackError } from '../contract/errors.js';
import { uuidV7 } from '../contract/ids.js';
import type { LoggingLimits } from '../contract/limits.js';
import { consoleLogger, type Logger } from '../contract/log.js';
import { DEFAULT_RETRY_POLICY } from '../contract/retry.js';
import type { RunInit } from '../contract/types.js';
import { ConsoleRecorder } from '../engine/console.js';
import { Delivery } from '../engine/delivery.js';
import { envTurnsOff } from '../engine/env-flag.js';
import { JournalReader, JournalWriter } from '../engine/journal.js';
import { decodeMetrics } from '../engine/journal-records.js';
import { JournalTail } from '../engine/journal-tail.js';
import { MetricBuffer } from '../engine/metric-buffer.js';
import { currentOwner, ownerAlive, RunDir, type RunMeta, runInitOf } from '../engine/run-dir.js';
import { captureSource } from '../engine/source.js';
import { SYSTEM_METRIC_PREFIX } from '../engine/system-metrics.js';
import { checkParamConflict, flattenParams, normalizeTags } from '../engine/validation.js';
import { forgetRun, trackRun } from './process-hooks.js';
import type { Run, StartRunOptions } from './run.js';
import { RunImpl } from './run-impl.js';
import { resolveSystemMetrics, startSystemMonitor } from './system-monitor.js';

/** Set by `trackstack run` for its child: trackstack code there attaches to that run. */
export const RUN_ID_ENV = 'TRACKSTACK_RUN_ID';
export const DEFAULT_EXPERIMENT = 'Default';
/** `0` turns source capture off for every run of the process (`captureSource`). */
export const CAPTURE_SOURCE_ENV = 'TRACKSTACK_CAPTURE_SOURCE';

/**
 * Starts (or resumes) a run of `destinations` (none: the journal alone).
 * `limits` are what the run's calls are checked against: the strictest of
 * the destinations' (and of the local flavor's, when it is one of them).
 */
export async function openRun(
  storeDir: string,
  destinations: readonly ExperimentBackend[],
  limits: LoggingLimits,
  options: StartRunOptions = {},
  /** How `run.startChild` starts a run (the tracker's `startRun`). */
  startRun?: (options: StartRunOptions) => Promise<Run>,
): Promise<Run> {
  const logger = options.logger ?? consoleLogger;
  const startTags = normalizeTags(options.tags ?? {}, limits);
  const startParams = flattenParams(options.params ?? {}, limits);
  const envRunId = process.env[RUN_ID_ENV];
  const attach =
    options.attach ?? (options.id === undefined && envRunId !== undefined && envRunId !== '');
  const systemMetrics = resolveSystemMetrics(options.systemMetrics, attach);
  const parentUid = typeof options.parent === 'string' ? options.parent : options.parent?.uid;
  // A parent given by its uid must be a run of this store (its refs are read from there).
  if (typeof options.parent === 'string') new RunDir(storeDir, options.parent).readMeta();
  const uid = options.id ?? (attach ? envRunId : undefined) ?? uuidV7();
  const dir = new RunDir(storeDir, uid);
  const resume = attach ? 'must' : (options.resume ?? 'never');

  let meta: RunMeta | undefined;
  try {
    meta = dir.readMeta();
  } catch (error) {
    if (!TrackstackError.isInstance(error) || error.code !== 'RUN_NOT_FOUND') throw error;
  }
  if (meta !== undefined && resume === 'never') {
    throw new TrackstackError('RUN_EXISTS', `run ${uid} already exists`, {
      hint: "pass resume: 'allow' to continue it",
    });
  }
  if (meta === undefined && resume === 'must') {
    throw new TrackstackError('RUN_NOT_FOUND', `no run ${uid} to resume in ${storeDir}`);
  }

  const loggedParams = new Map<string, string>();
  let firstConsoleLine = 0;
  let systemSteps = new Map<string, number>();
  const resumed = meta !== undefined && !attach;
  // A resumed run also delivers what earlier processes left undelivered, unless
  // one of them is still writing (it delivers its own segment).
  let earlierSegments: string[] = [];
  if (meta === undefined) {
    const startTime = Date.now();
    const source = sourceWanted(options.captureSource)
      ? await captureSource(
          typeof options.captureSource === 'object' ? options.captureSource : undefined,
        )
      : undefined;
    meta = {
      v: 1,
      uid,
      experiment: options.experiment ?? DEFAULT_EXPERIMENT,
      name: options.name ?? generateRunName(startTime, uid),
      startTime,
      status: 'RUNNING',
      tags: Object.fromEntries(startTags.map((t) => [t.key, t.value])),
      parentUid,
      ...(source === undefined ? {} : { source }),
      destinations: destinations.map((d) => d.name),
      owner: currentOwner(),
    };
    dir.create();
    dir.writeMeta(meta);
  } else if (attach) {
    const earlier = await readEarlier(dir);
    for (const [key, value] of earlier.params) loggedParams.set(key, value);
    systemSteps = earlier.systemSteps;
  } else {
    const earlier = await readEarlier(dir);
    for (const [key, value] of earlier.params) loggedParams.set(key, value);
    systemSteps = earlier.systemSteps;
    firstConsoleLine = earlier.nextConsoleLine;
    // A conflicting start param must fail before the run is touched.
    const check = new Map(loggedParams);
    for (const entry of startParams)
      if (checkParamConflict(check, entry)) check.set(entry.key, entry.value);
    // The run goes on: its destinations must be told its final status again.
    for (const destination of destinations) {
      const state = await dir.readDeliveryState(destination.name);
      if (state.finished !== undefined)
        await dir.writeDeliveryState(destination.name, { ref: state.ref });
    }
    if (meta.status !== 'RUNNING' || !ownerAlive(meta.owner))
      earlierSegments = await dir.listSegments();
    meta = {
      ...meta,
      status: 'RUNNING',
      endTime: undefined,
      destinations: [...new Set([...meta.destinations, ...destinations.map((d) => d.name)])],
      owner: currentOwner(),
    };
    dir.writeMeta(meta);
  }

  const segment = dir.newSegmentName();
  const offline = (options.mode ?? process.env.TRACKSTACK_MODE) === 'offline';
  // Deliveries take what this process journals from memory while they keep up.
  const tail = offline || destinations.length === 0 ? undefined : new JournalTail();
  const writer = new JournalWriter(
    dir.segmentPath(segment),
    {
      uid,
      segment,
      pid: process.pid,
      host: meta.owner.host,
      time: Date.now(),
    },
    { tail, indexPath: dir.indexPath(segment) },
  );
  const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const runMeta = meta;
  const deliveries = offline
    ? []
    : destinations.map(
        (destination) =>
          new Delivery({
            runDir: dir,
            destination: destination.name,
            backend: destination,
            segments: [...earlierSegments, segment],
            live: tail === undefined ? undefined : { segment, tail },
            retry,
            logger,
            attached: attach,
            init: () =>
              runInit(
                runMeta,
                destination,
                options.parent,
                new RunDir(storeDir, runMeta.uid),
                logger,
              ),
          }),
      );

  const run: RunImpl = new RunImpl({
    meta,
    dir,
    writer,
    buffer: new MetricBuffer(options.bufferSize ?? 8192),
    limits,
    deliveries,
    loggedParams,
    logger,
    flushIntervalMs: options.flushIntervalMs ?? 1000,
    offlineDestinations: offline ? destinations.map((d) => d.name) : [],
    endTimeoutMs: options.endTimeoutMs ?? 30_000,
    parent: typeof options.parent === 'string' ? undefined : options.parent,
    startChild: (childOptions): Promise<Run> => {
      const start =
        startRun ?? ((o: StartRunOptions) => openRun(storeDir, destinations, limits, o));
      return start({ ...childOptions, parent: run });
    },
    attached: attach,
    onEnded: forgetRun,
    console: new ConsoleRecorder(firstConsoleLine),
    captureConsole: options.captureConsole ?? false,
  });
  trackRun(run);
  // Start tags travel in run.json and in createRun (a resumed run journals them);
  // start params are journaled like any other.
  if (startParams.length > 0 && options.params !== undefined) run.logParams(options.params);
  if (resumed && options.tags !== undefined) run.setTags(options.tags);

  if (systemMetrics !== undefined) {
    const prefix = `${SYSTEM_METRIC_PREFIX}${systemMetrics.nodeId === undefined ? '' : `${systemMetrics.nodeId}/`}`;
    run.attachMonitor(
      startSystemMonitor(
        run,
        systemMetrics,
        { dir: dir.path },
        { firstStep: (systemSteps.get(prefix) ?? -1) + 1, logger },
      ),
    );
  }

  await waitForBackends(deliveries, options.startTimeoutMs ?? 10_000);
  for (const delivery of deliveries) delivery.start();
  return run;
}

/** Waits a bounded time for each backend run to exist, so its id and URL are known. */
async function waitForBackends(deliveries: Delivery[], timeoutMs: number): Promise<void> {
  if (deliveries.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all(deliveries.map((d) => d.ensureRun())), timeout]);
  clearTimeout(timer);
}

async function runInit(
  meta: RunMeta,
  destination: ExperimentBackend,
  parent: Run | string | undefined,
  dir: RunDir,
  logger: Logger,
): Promise<RunInit> {
  let parentRef: RunInit['parent'];
  if (parent !== undefined && destination.capabilities.nestedRuns) {
    parentRef =
      typeof parent === 'string'
        ? await parentRefFromStore(dir, parent, destination.name, logger)
        : await parent.backendRef(destination.name);
  }
  return runInitOf(meta, parentRef);
}

/** How long a child started from its parent's uid waits for the parent's backend run. */
const PARENT_WAIT_MS = 10_000;

/**
 * The backend ref of a parent given by its uid: what the parent's process wrote in the
 * store once its backend run existed (waiting up to PARENT_WAIT_MS for it); without it the
 * child is created on its own, and says so.
 */
async function parentRefFromStore(
  dir: RunDir,
  parentUid: string,
  destination: string,
  logger: Logger,
): Promise<RunInit['parent']> {
  const parentDir = new RunDir(dir.storeDir, parentUid);
  const until = Date.now() + PARENT_WAIT_MS;
  for (;;) {
    const ref = await parentDir.storedRef(destination);
    if (ref !== undefined) return ref;
    if (Date.now() >= until) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  logger.warn(
    `trackstack: the parent run ${parentUid} has no '${destination}' run yet; run ${dir.uid} is created there on its own`,
  );
  return undefined;
}

/** captureSource, else TRACKSTACK_CAPTURE_SOURCE (0/false/no/off: off), else on. */
function sourceWanted(option: StartRunOptions['captureSource']): boolean {
  if (option !== undefined) return option !== false;
  return !envTurnsOff(process.env[CAPTURE_SOURCE_ENV]);
}

/**
 * Params already logged to a run, so that a resumed run keeps refusing changed
 * values, and where its console output goes on.
 */
async function readEarlier(dir: RunDir): Promise<{
  params: Map<string, string>;
  nextConsoleLine: number;
  /** The last step of the system metrics of each prefix (`system/`, `system/<node>/`). */
  systemSteps: Map<string, number>;
}> {
  const params = new Map<string, string>();
  let nextConsoleLine = 0;
  const systemSteps = new Map<string, number>();
  for (const segment of await dir.listSegments()) {
    for (const record of await new JournalReader(dir.segmentPath(segment)).readAll()) {
      if (record.t !== 'b') continue;
      for (const [key, value] of record.p ?? []) params.set(key, value);
      for (const [line] of record.o ?? []) nextConsoleLine = Math.max(nextConsoleLine, line + 1);
      if (record.m?.keys.some((k) => k.startsWith(SYSTEM_METRIC_PREFIX))) {
        const { keys, k, s } = decodeMetrics(record.m);
        for (let i = 0; i < record.m.n; i++) {
          const key = keys[k[i]!]!;
          if (!key.startsWith(SYSTEM_METRIC_PREFIX)) continue;
          const prefix = key.slice(0, key.lastIndexOf('/') + 1);
          systemSteps.set(prefix, Math.max(systemSteps.get(prefix) ?? -1, s[i]!));
        }
      }
    }
  }
  return { params, nextConsoleLine, systemSteps };
}

function generateRunName(time: number, uid: string): string {
  const iso = new Date(time).toISOString();
  const stamp = `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}`;
  return `run-${stamp}-${uid.slice(-4)}`;
}
