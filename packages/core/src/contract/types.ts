/**
 * The words every layer shares: what a run is made of, as the engine journals
 * it and a flavor receives it. Types only, and plain JSON where they are
 * persisted.
 */

export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';
export type FinalRunStatus = Exclude<RunStatus, 'RUNNING'>;

export interface KeyValue {
  key: string;
  value: string;
}

export interface MetricPoint {
  key: string;
  /** May be NaN or ±Infinity; a flavor encodes them the way its backend expects. */
  value: number;
  step: number;
  /** Epoch milliseconds. */
  timestamp: number;
}

export type ConsoleStream = 'stdout' | 'stderr';

/**
 * One line of a run's console output (`run.logConsole`, `captureConsole`).
 * `line` numbers the run's output from 0, both streams together, and goes on
 * across resumes. A line that was still open (no newline yet) is sent again
 * with the same number as it grows or is rewritten by `\r` (progress bars):
 * the last text sent for a number is the line.
 */
export interface ConsoleLine {
  line: number;
  stream: ConsoleStream;
  /** The line without its newline; `\r` rewrites already applied. */
  text: string;
  /** Epoch milliseconds: when the line was started. */
  timestamp: number;
}

/**
 * Where a run ran, captured at `startRun` (unless `captureSource: false` or
 * TRACKSTACK_CAPTURE_SOURCE=0). Each flavor writes it in its backend's own
 * form (MLflow's `mlflow.source.*` tags, W&B's git, program and metadata).
 * Credentials are already removed.
 */
export interface RunSource {
  /** Absent outside a git repository, or when git is missing or too slow. */
  git?: {
    commit: string;
    /** Absent on a detached HEAD. */
    branch?: string;
    /** `origin`'s URL (else the first remote's), without user or password. */
    remoteUrl?: string;
    /** Tracked files changed since the commit (absent when git could not say in time). */
    dirty?: boolean;
    /** The repository's top directory. */
    root?: string;
  };
  /** Absolute path of the script that ran (or the program of a wrapped command). */
  entryPoint?: string;
  /** The command line, with secret-looking option values replaced by `***`. */
  command: string[];
  /** The working directory it ran in. */
  cwd: string;
  user?: string;
  host: string;
  /** `process.version`. */
  node: string;
  /** `os.type() os.release() os.arch()`, e.g. `Linux 6.8.0 x64`. */
  os: string;
}

/** What a flavor gets to create a backend run. Everything here is already validated. */
export interface RunInit {
  /** trackstack's own run id (UUIDv7), also written to the backend as tag `trackstack.uid`. */
  uid: string;
  experiment: string;
  name: string;
  /** Tags given at start, including `trackstack.uid`. */
  tags: Record<string, string>;
  /** Epoch milliseconds. */
  startTime: number;
  /** The parent's backend ref, for nested runs (only when the flavor has `nestedRuns`). */
  parent?: RunRef | undefined;
  /** The parent's trackstack uid, for every child run (W&B groups children by it). */
  parentUid?: string | undefined;
  /** Where the run ran (absent when capture is off). */
  source?: RunSource | undefined;
}

/**
 * A flavor's handle on a backend run. It is persisted in the journal's delivery
 * state, so it must be JSON: `runId` is the backend's id, `url` where a person
 * looks at it, `data` anything else the flavor needs to find the run again.
 */
export interface RunRef {
  runId: string;
  url?: string | undefined;
  experimentId?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

export interface ResumeOptions {
  /** The run goes on: set it running again if the backend has it ended. */
  reopen: boolean;
}

export interface ArtifactUpload {
  /** Absolute path of the staged copy in the run's directory (safe to read, never changes). */
  localPath: string;
  /** Destination path inside the run's artifacts, POSIX separators, no `..`. */
  path: string;
  size: number;
  sha256: string;
  contentType: string;
}

/**
 * A dataset the run read (`run.logInput`), as MLflow's dataset inputs hold
 * it. Everything but `name` is optional; text fields are already validated.
 */
export interface DatasetInput {
  name: string;
  /** Identifies the dataset's content (from a file: the first 16 hex digits of its SHA-256). */
  digest?: string;
  /** Where it came from: a URI or path. */
  source?: string;
  /** What kind of source (`local`, `s3`, `http`, `hugging_face`, ...). */
  sourceType?: string;
  /** Its schema, as JSON text. */
  schema?: string;
  /** Its profile (row count, ...), as JSON text. */
  profile?: string;
  /** How the run used it: `training`, `validation`, `test`, ... */
  context?: string;
}

/** The media a run logs besides scalars (`logImage`, `logTable`, `logHistogram`). */
export type MediaKind = 'image' | 'table' | 'histogram';

/** A logged image, staged in the run's directory: PNG or JPEG, size read from its header. */
export interface MediaImage {
  /** The staged copy (absolute path); read it, never move or change it. */
  localPath: string;
  sha256: string;
  size: number;
  format: 'png' | 'jpeg';
  width: number;
  height: number;
  /**
   * Colour channels from the header: 1 grey, 2 grey and alpha, 3 RGB, 4 RGBA (absent for
   * images journaled by earlier versions).
   */
  channels?: number;
  caption?: string;
  /** The base name of the file it was logged from (absent for bytes). */
  fileName?: string;
}

/** A table cell: a string, a finite or non-finite number, a boolean, null, or an image. */
export type TableCell = string | number | boolean | null | MediaImage;

interface MediaBase {
  key: string;
  step: number;
  /** Epoch ms. */
  timestamp: number;
}

export interface ImageMedia extends MediaBase {
  kind: 'image';
  image: MediaImage;
}

export interface TableMedia extends MediaBase {
  kind: 'table';
  columns: string[];
  /** Every row has one cell per column. */
  rows: TableCell[][];
  /** The images of the table's cells, each once, in the order they first appear. */
  images: MediaImage[];
}

export interface HistogramMedia extends MediaBase {
  kind: 'histogram';
  /** Bin edges, increasing: one more than `counts`. */
  bins: number[];
  counts: number[];
}

/** One media value as a flavor receives it (`logMedia`). */
export type Media = ImageMedia | TableMedia | HistogramMedia;

/** The tag every backend run carries: the trackstack run's uid (resume, replays, duplicates). */
export const UID_TAG = 'trackstack.uid';
