/**
 * Sync: delivers what a run's journal holds and a backend has not
 * acknowledged yet, from each segment's cursor: after an outage, after a
 * crash, for an offline run, or to a tracker the run was never sent to.
 * Running it twice sends nothing the second time.
 */
import type { ExperimentBackend } from '../contract/backend.js';
import { TrackstackError } from '../contract/errors.js';
import { consoleLogger, type Logger } from '../contract/log.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../contract/retry.js';
import type { FinalRunStatus, RunInit } from '../contract/types.js';
import { Delivery, type DeliveryStatus } from './delivery.js';
import { JournalReader, JournalWriter } from './journal.js';
import { type EndRecord, recordEvents } from './journal-records.js';
import { currentOwner, ownerAlive, RunDir, runInitOf } from './run-dir.js';

export interface SyncOptions {
  uid: string;
  /** The store the run is in. */
  storeDir: string;
  /** Give up waiting after this long; what is left stays in the journal. Default 5 minutes. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** Called as events are acknowledged. */
  onProgress?: (progress: { delivered: number; total: number }) => void;
  /** Deliver even though the process that owns the run still looks alive. */
  force?: boolean;
}

export interface SyncReport {
  uid: string;
  destination: string;
  /** Events acknowledged by this sync. */
  delivered: number;
  /** Events this sync found undelivered. */
  total: number;
  pendingEvents: number;
  finished: boolean;
  /** Set when the run had no final status and its process is gone. */
  markedAs?: FinalRunStatus;
  status: DeliveryStatus;
}

/** Delivers a run's journal to one backend (`syncRun` in the tracker API picks the backend). */
export async function syncToBackend(
  backend: ExperimentBackend,
  options: SyncOptions,
): Promise<SyncReport> {
  const dir = new RunDir(options.storeDir, options.uid);
  const meta = dir.readMeta();
  const logger = options.logger ?? consoleLogger;
  const destination = backend.name;
  const segments = await dir.listSegments();

  let sawEnd = false;
  let total = 0;
  for (const segment of segments) {
    const cursor = await dir.readCursor(destination, segment);
    for (const record of await new JournalReader(dir.segmentPath(segment)).readAll()) {
      if (record.t === 'e' && !RunDir.endSuperseded(record.time, segments)) sawEnd = true;
      if (record.q > cursor.q) total += recordEvents(record);
    }
  }
  if (!sawEnd && ownerAlive(meta.owner) && options.force !== true) {
    throw new TrackstackError(
      'RUN_ACTIVE',
      `run ${options.uid} is still being written by process ${meta.owner.pid}; it delivers its own data`,
      { hint: 'wait for it to end, or pass --force if that process is gone' },
    );
  }
  // A run with no final status whose process is gone did not finish cleanly.
  let markedAs: FinalRunStatus | undefined;
  if (!sawEnd) {
    markedAs = 'KILLED';
    const segment = dir.newSegmentName();
    const writer = new JournalWriter(
      dir.segmentPath(segment),
      { uid: meta.uid, segment, pid: process.pid, host: currentOwner().host, time: Date.now() },
      { indexPath: dir.indexPath(segment) },
    );
    const time = Date.now();
    writer.append<EndRecord>({ t: 'e', status: markedAs, time });
    writer.close();
    dir.writeMeta({ ...meta, status: markedAs, endTime: time });
    segments.push(segment);
    total += 1;
  }

  // A child run nests under its parent where the parent already has a run in this backend.
  const init = async (): Promise<RunInit> => {
    const parent =
      meta.parentUid !== undefined && backend.capabilities.nestedRuns
        ? await new RunDir(options.storeDir, meta.parentUid).storedRef(destination)
        : undefined;
    return runInitOf(meta, parent);
  };
  const delivery = new Delivery({
    runDir: dir,
    destination,
    backend,
    init,
    segments,
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    logger,
  });
  const progress = options.onProgress;
  let timer: NodeJS.Timeout | undefined;
  if (progress !== undefined) {
    progress({ delivered: 0, total });
    timer = setInterval(() => progress({ delivered: delivery.status().ackedEvents, total }), 200);
  }
  const status = await delivery.drain(Date.now() + (options.timeoutMs ?? 300_000));
  await delivery.stop();
  if (timer !== undefined) clearInterval(timer);
  progress?.({ delivered: status.ackedEvents, total });
  if (!meta.destinations.includes(destination)) {
    dir.writeMeta({ ...dir.readMeta(), destinations: [...meta.destinations, destination] });
  }
  return {
    uid: meta.uid,
    destination,
    delivered: status.ackedEvents,
    total,
    pendingEvents: Math.max(0, total - status.ackedEvents),
    finished: status.finished,
    markedAs,
    status,
  };
}
