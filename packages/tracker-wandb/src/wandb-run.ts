/**
 * The shape of one W&B run as the tracker drives it, online
 * (`WandbOnlineRun`: W&B's service) or offline (`WandbOfflineRun`: a run
 * directory for `wandb sync`). The tracker picks one when it creates or
 * resumes a run; each of its primitives then hands its call to the run.
 */
import type {
  ArtifactUpload,
  DatasetInput,
  FinalRunStatus,
  HistogramMedia,
  ImageMedia,
  RunRef,
  TableMedia,
  WriteBatch,
} from '@trackstack/core';

/** Exit codes W&B reads a run's final state from (ZenML finishes a failed step with 1). */
export const EXIT_CODES: Record<FinalRunStatus, number> = { FINISHED: 0, FAILED: 1, KILLED: 255 };

export interface WandbRun {
  /** The W&B run id. */
  readonly runId: string;
  /** What core keeps of the run to find it again (`resumeRun`) and show it (`url`). */
  ref(): RunRef;
  /** Params, tags, metrics and console lines of one batch. */
  write(batch: WriteBatch): void | Promise<void>;
  upload(artifact: ArtifactUpload): void | Promise<void>;
  /** A dataset the run read: the run's config under `datasets.<name>`; online also a used `dataset` artifact. */
  logInput(input: DatasetInput): void | Promise<void>;
  /** An image or a histogram: its files uploaded, then its value in the history row of its step. */
  logMedia(media: ImageMedia | HistogramMedia): void | Promise<void>;
  /** A table: its `run_table` artifact, its run copy, then its value in the row of its step. */
  logTable(media: TableMedia): Promise<void>;
  /** Ends the run; nothing is written after it. */
  finish(status: FinalRunStatus, endTime: number): void | Promise<void>;
  /**
   * The tracker lets go of the run without finishing it (a create of the same
   * id replaced it): what it does in the background stops.
   */
  release?(): void;
}
