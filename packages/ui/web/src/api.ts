/**
 * The viewer's JSON API as the pages call it (the server: src/ui-server.ts). The token
 * travels in the HTTP-only cookie the first request set; NaN and ±Infinity arrive as strings.
 */

export type Num = number | 'NaN' | 'Infinity' | '-Infinity';

export interface Artifact {
  path: string;
  size: number;
  sha256: string;
  contentType: string;
}

interface MediaImage {
  sha256: string;
  size: number;
  format: 'png' | 'jpeg';
  width: number;
  height: number;
  caption?: string;
  fileName?: string;
}

export type Media =
  | { kind: 'image'; key: string; step: number; timestamp: number; image: MediaImage }
  | {
      kind: 'histogram';
      key: string;
      step: number;
      timestamp: number;
      bins: Num[];
      counts: number[];
    }
  | {
      kind: 'table';
      key: string;
      step: number;
      timestamp: number;
      table: { size: number; columns: number; rows: number };
      images: MediaImage[];
    };

interface Delivery {
  destination: string;
  /** The backend's run page, when the flavor gave one. */
  url?: string;
  runId?: string;
  /** Journal records not acknowledged yet. */
  pending: number;
  /** The final status the backend acknowledged. */
  finished?: string;
}

interface RunSource {
  git?: { commit: string; branch?: string; remoteUrl?: string; dirty?: boolean };
  entryPoint?: string;
  command: string[];
  cwd: string;
  user?: string;
  host: string;
  node: string;
  os: string;
}

export interface Run {
  uid: string;
  experiment: string;
  name: string;
  status: string;
  startTime: number;
  endTime?: number;
  parentUid?: string;
  destinations: string[];
  deliveries?: Delivery[];
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, Num>;
  artifacts: Artifact[];
  source?: RunSource;
  inputs: { name: string; context?: string; digest?: string; source?: string }[];
  media: Media[];
}

export interface Summary {
  key: string;
  count: number;
  nonFinite: number;
  min: Num | null;
  max: Num | null;
  mean: Num | null;
  first: { step: number; value: Num; timestamp: number };
  latest: { step: number; value: Num; timestamp: number };
}

export interface SeriesPoint {
  step: number;
  stepEnd: number;
  time?: number;
  timeEnd?: number;
  value: Num;
  min: Num;
  max: Num;
  count: number;
}

export interface Series {
  key: string;
  exact: boolean;
  points: SeriesPoint[];
}

class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function request(path: string): Promise<Response> {
  const response = await fetch(path, { credentials: 'same-origin' });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = ((await response.json()) as { error?: string }).error ?? message;
    } catch {}
    throw new ApiError(response.status, message);
  }
  return response;
}

const json = async <T>(path: string): Promise<T> => (await (await request(path)).json()) as T;

const runPath = (uid: string) => `api/runs/${encodeURIComponent(uid)}`;

export const api = {
  runs(query: { experiment?: string; filter?: string } = {}): Promise<{ runs: Run[] }> {
    const params = new URLSearchParams();
    if (query.experiment) params.set('experiment', query.experiment);
    if (query.filter) params.set('filter', query.filter);
    const text = params.toString();
    return json(`api/runs${text ? `?${text}` : ''}`);
  },
  /** A run; with `points`, the series of its charts too (not system metrics'), at that width. */
  run(
    uid: string,
    points?: number,
  ): Promise<{ run: Run; summaries: Record<string, Summary>; series?: Record<string, Series> }> {
    return json(`${runPath(uid)}${points === undefined ? '' : `?points=${Math.round(points)}`}`);
  },
  series(
    uid: string,
    key: string,
    options: { from?: number; to?: number; points: number },
  ): Promise<Series> {
    const params = new URLSearchParams({
      key,
      points: String(Math.max(1, Math.round(options.points))),
    });
    if (options.from !== undefined) params.set('from', String(options.from));
    if (options.to !== undefined) params.set('to', String(options.to));
    return json(`${runPath(uid)}/series?${params}`);
  },
  async console(uid: string): Promise<string> {
    return (await request(`${runPath(uid)}/console`)).text();
  },
  artifactUrl(uid: string, path: string): string {
    return `${runPath(uid)}/artifacts/${path.split('/').map(encodeURIComponent).join('/')}`;
  },
  async artifactText(uid: string, path: string): Promise<string> {
    return (await request(api.artifactUrl(uid, path))).text();
  },
  mediaUrl(uid: string, n: number, image?: number): string {
    return `${runPath(uid)}/media/${n}${image === undefined ? '' : `/images/${image}`}`;
  },
  mediaTable(uid: string, n: number): Promise<{ columns: string[]; rows: unknown[][] }> {
    return json(api.mediaUrl(uid, n));
  },
  eventsUrl(uid: string): string {
    return `${runPath(uid)}/events`;
  },
};

/** A value from the API as a number (NaN for the non-finite strings' NaN). */
export function num(value: Num | null | undefined): number {
  if (value === null || value === undefined) return Number.NaN;
  return typeof value === 'number' ? value : Number(value);
}
