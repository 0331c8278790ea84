/**
 * `trackstack runs list | show | compare`: every run has a journal in the
 * store, whatever its destinations, so these read runs back with LocalRuns and
 * print tables and terminal charts for people, or JSON for programs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricPoint, RunStatus } from '@trackstack/core';
import {
  type LocalMedia,
  LocalRuns,
  type RunSnapshot,
  type RunSummary,
  SYSTEM_METRIC_PREFIX,
  TrackstackError,
} from '@trackstack/core';
import asciichart from 'asciichart';
import type { Command } from 'commander';
import pc from 'picocolors';
import type { CliContext } from '../context.js';
import {
  formatDuration,
  formatTime,
  formatValue,
  printJson,
  printLine,
  printTable,
  UsageError,
} from '../output.js';

const RUN_STATUSES: readonly RunStatus[] = ['RUNNING', 'FINISHED', 'FAILED', 'KILLED'];

/** UUIDv7s share their leading (time) digits, so a shorter prefix would rarely be unique. */
const RUN_ID = /^[0-9A-Za-z][0-9A-Za-z_-]{0,127}$/;
const MIN_PREFIX_LENGTH = 6;
const MAX_LISTED_MATCHES = 10;

/** Param and tag values may be kilobytes long; tables show the start, `--json` all of it. */
const MAX_CELL_LENGTH = 60;
const SHORT_SHA_LENGTH = 12;

const CHART_HEIGHT = 10;
const CHART_DEFAULT_WIDTH = 80;
const CHART_MAX_WIDTH = 120;
/** Width of the y-axis labels; chartLabel never returns more than 9 characters. */
const CHART_LABEL_WIDTH = 10;
/** asciichart puts a space and the axis between the labels and the first column. */
const CHART_AXIS_WIDTH = 2;
const SERIES_COLORS = [
  asciichart.blue,
  asciichart.green,
  asciichart.red,
  asciichart.yellow,
  asciichart.magenta,
  asciichart.cyan,
];

interface ListOptions {
  experiment?: string;
  status?: string;
  limit?: string;
  json?: boolean;
}

interface ShowOptions {
  json?: boolean;
  chart: boolean;
}

/** One run read back in full: what it is, and every point of every metric. */
interface LoadedRun {
  snapshot: RunSnapshot;
  histories: Record<string, MetricPoint[]>;
}

export function registerRunsCommands(program: Command, context: CliContext): void {
  const runs = program
    .command('runs')
    .description('Inspect the runs in the store: list them, show one, compare several')
    .addHelpText(
      'after',
      examples([
        'trackstack runs list --experiment iris',
        'trackstack runs show 01a2b3c4',
        'trackstack runs compare 01a2b3c4 01a2b3d9',
      ]),
    );

  runs
    .command('list')
    .description('List runs, newest first')
    .option('-e, --experiment <name>', 'only the runs of this experiment')
    .option('-s, --status <status>', `only the runs with this status (${RUN_STATUSES.join(', ')})`)
    .option('-n, --limit <n>', 'at most this many runs (the newest)')
    .option('--json', 'print the runs as JSON')
    .addHelpText(
      'after',
      examples([
        'trackstack runs list',
        'trackstack runs list --experiment iris --status FAILED',
        'trackstack runs list --limit 5 --json',
      ]),
    )
    .action((options: ListOptions, command: Command) => listRuns(context, options, command));

  runs
    .command('show')
    .description('Show a run: params, tags, metrics with charts, artifacts')
    .argument(
      '<id>',
      `the run's uid, or a unique prefix of at least ${MIN_PREFIX_LENGTH} characters`,
    )
    .option('--json', 'print the run and every metric point as JSON')
    .option('--no-chart', 'leave out the metric charts')
    .addHelpText(
      'after',
      examples([
        'trackstack runs show 01a2b3c4',
        'trackstack runs show 01a2b3c4 --no-chart',
        'trackstack runs show 01a2b3c4 --json > run.json',
      ]),
    )
    .action((id: string, options: ShowOptions, command: Command) =>
      showRun(context, id, options, command),
    );

  runs
    .command('compare')
    .description('Compare runs side by side: params, latest metrics, charts')
    .argument('<ids...>', `two or more run uids, or unique prefixes of them`)
    .option('--json', 'print the runs, params and latest metrics as JSON')
    .addHelpText(
      'after',
      examples([
        'trackstack runs compare 01a2b3c4 01a2b3d9',
        'trackstack runs compare 01a2b3c4 01a2b3d9 01a2b3f0 --json',
      ]),
    )
    .action((ids: string[], _options: unknown, command: Command) =>
      compareRuns(context, ids, command),
    );
}

// ---- runs list -------------------------------------------------------------------------------

async function listRuns(
  context: CliContext,
  options: ListOptions,
  command: Command,
): Promise<void> {
  const status = parseStatus(options.status);
  const limit = parseLimit(options.limit);
  let summaries = await new LocalRuns(context.storeDir).list({ experiment: options.experiment });
  if (status !== undefined) summaries = summaries.filter((run) => run.status === status);
  if (limit !== undefined) summaries = summaries.slice(0, limit);

  if (context.json(command)) {
    printJson(summaries);
    return;
  }
  if (summaries.length === 0) {
    const filtered = options.experiment !== undefined || status !== undefined;
    printLine(`No ${filtered ? 'matching ' : ''}runs in ${context.storeDir}.`);
    return;
  }
  printTable(
    ['uid', 'experiment', 'name', 'status', 'started', 'duration', 'destinations'],
    runTree(summaries).map(({ run, depth }) => [
      run.uid,
      run.experiment,
      depth === 0 ? run.name : `${'  '.repeat(depth - 1)}└─ ${run.name}`,
      colorStatus(run.status),
      formatTime(run.startTime),
      formatDuration(run.startTime, run.endTime),
      formatDestinations(run.destinations),
    ]),
  );
}

/**
 * Runs as a tree: each child (by `parentUid`) right under its parent, oldest child first; a run
 * whose parent is not listed is a root. Roots keep the list's order (newest first).
 */
export function runTree(runs: readonly RunSummary[]): { run: RunSummary; depth: number }[] {
  const listed = new Set(runs.map((r) => r.uid));
  const children = new Map<string, RunSummary[]>();
  for (const run of runs) {
    if (run.parentUid === undefined || !listed.has(run.parentUid)) continue;
    const siblings = children.get(run.parentUid) ?? [];
    siblings.push(run);
    children.set(run.parentUid, siblings);
  }
  const out: { run: RunSummary; depth: number }[] = [];
  const seen = new Set<string>();
  const visit = (run: RunSummary, depth: number) => {
    if (seen.has(run.uid)) return;
    seen.add(run.uid);
    out.push({ run, depth });
    const kids = [...(children.get(run.uid) ?? [])].sort((a, b) => a.startTime - b.startTime);
    for (const child of kids) visit(child, depth + 1);
  };
  for (const run of runs) {
    if (run.parentUid === undefined || !listed.has(run.parentUid)) visit(run, 0);
  }
  // A cycle of parents (a damaged store) still lists every run.
  for (const run of runs) visit(run, 0);
  return out;
}

function parseStatus(value: string | undefined): RunStatus | undefined {
  if (value === undefined) return undefined;
  const status = RUN_STATUSES.find((s) => s === value.toUpperCase());
  if (status === undefined) {
    throw new UsageError(
      `unknown status ${JSON.stringify(value)}`,
      `use one of ${RUN_STATUSES.join(', ')}`,
    );
  }
  return status;
}

function parseLimit(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const limit = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new UsageError(`--limit must be a positive whole number, not ${JSON.stringify(value)}`);
  }
  return limit;
}

// ---- runs show -------------------------------------------------------------------------------

async function showRun(
  context: CliContext,
  id: string,
  options: ShowOptions,
  command: Command,
): Promise<void> {
  const localRuns = new LocalRuns(context.storeDir);
  const uid = resolveRunUid(id, await localRuns.list(), context.storeDir);
  const { snapshot, histories } = await loadRun(localRuns, uid);

  if (context.json(command)) {
    printJson({ ...snapshot, histories: historiesForJson(histories) });
    return;
  }
  printDetails(snapshot);
  printKeyValues('Params', 'param', snapshot.params);
  printKeyValues('Tags', 'tag', snapshot.tags);
  printSource(snapshot);
  printInputs(snapshot);
  printMetrics(snapshot, histories);
  printMedia(snapshot);
  printArtifacts(snapshot);
  if (options.chart) {
    for (const [key, points] of sortedEntries(histories)) {
      if (points.length >= 2 && !isSystem(key)) printChart(key, [{ label: key, points, color: 0 }]);
    }
  }
}

function printDetails(run: RunSnapshot): void {
  const details: [string, string | undefined][] = [
    ['uid', run.uid],
    ['experiment', run.experiment],
    ['name', run.name],
    ['status', colorStatus(run.status)],
    ['started', formatTime(run.startTime)],
    ['ended', run.endTime === undefined ? undefined : formatTime(run.endTime)],
    [
      'duration',
      run.endTime === undefined ? undefined : formatDuration(run.startTime, run.endTime),
    ],
    ['parent', run.parentUid],
    ['destinations', formatDestinations(run.destinations)],
    ['dir', run.dir],
  ];
  const width = Math.max(...details.map(([label]) => label.length)) + 2;
  for (const [label, value] of details) {
    if (value !== undefined) printLine(`${pc.bold(`${label}:`.padEnd(width))}${value}`);
  }
}

/** Where the run ran (`captureSource`): absent for runs that did not capture it. */
function printSource(run: RunSnapshot): void {
  const source = run.source;
  if (source === undefined) return;
  printSection('Source');
  const git = source.git;
  const rows: [string, string | undefined][] = [
    [
      'git commit',
      git === undefined
        ? undefined
        : `${git.commit}${git.dirty === true ? ' (dirty)' : git.dirty === false ? '' : ' (dirty: unknown)'}`,
    ],
    ['git branch', git?.branch],
    ['git remote', git?.remoteUrl],
    ['entry point', source.entryPoint],
    ['command', source.command.join(' ')],
    ['user', source.user],
    ['host', source.host],
    ['node', source.node],
    ['os', source.os],
  ];
  printTable(
    ['field', 'value'],
    rows
      .filter((row): row is [string, string] => row[1] !== undefined)
      .map(([k, v]) => [k, truncate(v)]),
  );
}

/** The datasets the run read (`logInput`). */
function printInputs(run: RunSnapshot): void {
  if (run.inputs.length === 0) return;
  printSection('Inputs');
  printTable(
    ['dataset', 'context', 'digest', 'source'],
    run.inputs.map((input) => [
      input.name,
      input.context,
      input.digest,
      input.source === undefined ? input.sourceType : truncate(input.source),
    ]),
  );
}

function printKeyValues(title: string, keyHeader: string, values: Record<string, string>): void {
  printSection(title);
  const entries = sortedEntries(values);
  if (entries.length === 0) {
    printLine('  (none)');
    return;
  }
  printTable(
    [keyHeader, 'value'],
    entries.map(([key, value]) => [key, truncate(value)]),
  );
}

/** System metrics (`system/…`, sampled by core) get their own section after the run's own. */
const isSystem = (key: string) => key.startsWith(SYSTEM_METRIC_PREFIX);

function printMetrics(run: RunSnapshot, histories: Record<string, MetricPoint[]>): void {
  printMetricTable('Metrics', run, histories, (key) => !isSystem(key), true);
  printMetricTable('System metrics', run, histories, isSystem, false);
}

function printMetricTable(
  title: string,
  run: RunSnapshot,
  histories: Record<string, MetricPoint[]>,
  which: (key: string) => boolean,
  always: boolean,
): void {
  const entries = sortedEntries(run.metrics).filter(([key]) => which(key));
  if (entries.length === 0 && !always) return;
  printSection(title);
  if (entries.length === 0) {
    printLine('  (none)');
    return;
  }
  printTable(
    ['metric', 'last value', 'last step', 'points', 'min', 'max'],
    entries.map(([key, last]) => {
      const stats = metricStats(histories[key] ?? []);
      return [
        key,
        formatValue(last),
        stats.lastStep,
        stats.count,
        stats.min === undefined ? undefined : formatValue(stats.min),
        stats.max === undefined ? undefined : formatValue(stats.max),
      ];
    }),
  );
}

/**
 * Loops rather than Math.min(...values): spreading a history of a million
 * points would overflow the call stack.
 */
function metricStats(points: readonly MetricPoint[]): {
  lastStep: number | undefined;
  count: number;
  min: number | undefined;
  max: number | undefined;
} {
  // The last value is the one at the highest step (LocalRuns' rule), so this is its step.
  let lastStep: number | undefined;
  let min: number | undefined;
  let max: number | undefined;
  for (const { step, value } of points) {
    if (lastStep === undefined || step > lastStep) lastStep = step;
    // NaN has no order, so it takes no part in min and max; ±Infinity does.
    if (Number.isNaN(value)) continue;
    if (min === undefined || value < min) min = value;
    if (max === undefined || value > max) max = value;
  }
  return { lastStep, count: points.length, min, max };
}

/** Images, tables and histograms (`logImage`, `logTable`, `logHistogram`), per key. */
function printMedia(run: RunSnapshot): void {
  if (run.media.length === 0) return;
  printSection('Media');
  const byKey = new Map<string, LocalMedia[]>();
  for (const media of run.media) {
    const id = `${media.key}\u0000${media.kind}`;
    const list = byKey.get(id) ?? [];
    list.push(media);
    byKey.set(id, list);
  }
  const rows = [...byKey.values()]
    .sort((a, b) => (a[0]!.key < b[0]!.key ? -1 : a[0]!.key > b[0]!.key ? 1 : 0))
    .map((list) => {
      const steps = list.map((m) => m.step);
      const first = Math.min(...steps);
      const last = Math.max(...steps);
      const latest = list[list.length - 1]!;
      return [
        latest.key,
        latest.kind,
        String(list.length),
        first === last ? String(first) : `${first}..${last}`,
        // A histogram's bins are in the journal, not a file.
        latest.kind === 'histogram'
          ? '-'
          : formatBytes(list.reduce((sum, m) => sum + mediaBytes(m), 0)),
        mediaDetail(latest),
      ];
    });
  printTable(['key', 'kind', 'values', 'steps', 'size', 'latest'], rows);
}

function mediaBytes(media: LocalMedia): number {
  if (media.kind === 'image') return media.image.size;
  if (media.kind === 'table') {
    return media.table.size + media.images.reduce((sum, image) => sum + image.size, 0);
  }
  return 0;
}

function mediaDetail(media: LocalMedia): string {
  switch (media.kind) {
    case 'image':
      return `${media.image.format.toUpperCase()} ${media.image.width}×${media.image.height}${media.image.caption === undefined ? '' : ` "${truncate(media.image.caption)}"`}`;
    case 'table':
      return `${media.table.rows} rows × ${media.table.columns} columns${media.images.length === 0 ? '' : `, ${media.images.length} image${media.images.length === 1 ? '' : 's'}`}`;
    case 'histogram': {
      const total = media.counts.reduce((a, b) => a + b, 0);
      return `${media.counts.length} bins over [${formatEdge(media.bins[0]!)}, ${formatEdge(media.bins[media.bins.length - 1]!)}], ${total} values`;
    }
  }
}

function formatEdge(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

function printArtifacts(run: RunSnapshot): void {
  printSection('Artifacts');
  if (run.artifacts.length === 0) {
    printLine('  (none)');
    return;
  }
  printTable(
    ['path', 'size', 'content type', 'sha256'],
    run.artifacts.map((artifact) => [
      artifact.path,
      formatBytes(artifact.size),
      artifact.contentType,
      artifact.sha256.slice(0, SHORT_SHA_LENGTH),
    ]),
  );
}

/** Points without their key (the record's key already says it); values as logged, in log order. */
function historiesForJson(
  histories: Record<string, MetricPoint[]>,
): Record<string, { step: number; value: number; timestamp: number }[]> {
  return Object.fromEntries(
    Object.entries(histories).map(([key, points]) => [
      key,
      points.map(({ step, value, timestamp }) => ({ step, value, timestamp })),
    ]),
  );
}

// ---- runs compare ----------------------------------------------------------------------------

async function compareRuns(context: CliContext, ids: string[], command: Command): Promise<void> {
  if (ids.length < 2) {
    throw new UsageError(
      'compare needs at least 2 runs',
      'give two or more run ids, e.g. `trackstack runs compare 01a2b3c4 01a2b3d9`',
    );
  }
  const localRuns = new LocalRuns(context.storeDir);
  const summaries = await localRuns.list();
  const uids = ids.map((id) => resolveRunUid(id, summaries, context.storeDir));
  const repeated = uids.find((uid, index) => uids.indexOf(uid) !== index);
  if (repeated !== undefined) {
    throw new UsageError(`run ${repeated} is given more than once`);
  }
  const loaded = await Promise.all(uids.map((uid) => loadRun(localRuns, uid)));
  const snapshots = loaded.map((run) => run.snapshot);
  const params = sideBySide(snapshots.map((run) => run.params));
  const metrics = sideBySide(snapshots.map((run) => run.metrics));

  if (context.json(command)) {
    printJson({
      runs: snapshots,
      // null where a run has no such key: JSON has no undefined.
      params: mapValues(params, (values) => values.map((value) => value ?? null)),
      metrics: mapValues(metrics, (values) => values.map((value) => value ?? null)),
    });
    return;
  }

  const labels = snapshots.map((_, index) => `#${index + 1}`);
  printTable(
    ['', 'uid', 'experiment', 'name', 'status', 'started', 'duration'],
    snapshots.map((run, index) => [
      labels[index],
      run.uid,
      run.experiment,
      run.name,
      colorStatus(run.status),
      formatTime(run.startTime),
      formatDuration(run.startTime, run.endTime),
    ]),
  );

  printSection('Params');
  const paramRows = sortedEntries(params);
  if (paramRows.length === 0) {
    printLine('  (none)');
  } else {
    printTable(
      ['', 'param', ...labels],
      paramRows.map(([key, values]) => [
        differs(values) ? pc.yellow('*') : '',
        key,
        ...values.map((value) => (value === undefined ? undefined : truncate(value))),
      ]),
    );
    if (paramRows.some(([, values]) => differs(values))) printLine(`${pc.yellow('*')} differs`);
  }

  printSection('Metrics (latest)');
  const metricRows = sortedEntries(metrics);
  if (metricRows.length === 0) {
    printLine('  (none)');
  } else {
    printTable(
      ['metric', ...labels],
      metricRows.map(([key, values]) => [
        key,
        ...values.map((value) => (value === undefined ? undefined : formatValue(value))),
      ]),
    );
  }

  for (const [key, values] of metricRows) {
    const shared = values.filter((value) => value !== undefined).length >= 2;
    if (!shared) continue;
    printChart(
      key,
      loaded.flatMap((run, index) => {
        const points = run.histories[key];
        return points === undefined
          ? []
          : [{ label: `${labels[index]} ${run.snapshot.name}`, points, color: index }];
      }),
    );
  }
}

/** Rows = the union of the runs' keys, one column per run (undefined where a run lacks the key). */
function sideBySide<T>(records: Record<string, T>[]): Record<string, (T | undefined)[]> {
  const keys = new Set(records.flatMap((record) => Object.keys(record)));
  return Object.fromEntries([...keys].map((key) => [key, records.map((record) => record[key])]));
}

function differs(values: readonly unknown[]): boolean {
  return values.some((value) => value !== values[0]);
}

// ---- run ids ---------------------------------------------------------------------------------

/**
 * A full uid, or a prefix that matches exactly one run. Prefixes match
 * regardless of case, since ULIDs are upper case and people type lower case.
 * Exported so that every command taking a run id resolves it the same way.
 */
export function resolveRunUid(id: string, runs: readonly RunSummary[], storeDir: string): string {
  if (runs.some((run) => run.uid === id)) return id;
  // A run that list() skipped (a damaged run.json) is still named exactly: reading it says what is wrong.
  if (RUN_ID.test(id) && existsSync(join(storeDir, 'runs', id, 'run.json'))) return id;
  if (id.length < MIN_PREFIX_LENGTH) {
    throw new UsageError(
      `run id ${JSON.stringify(id)} is too short`,
      `give the full uid or at least ${MIN_PREFIX_LENGTH} characters of it (see \`trackstack runs list\`)`,
    );
  }
  const prefix = id.toLowerCase();
  const matches = runs.filter((run) => run.uid.toLowerCase().startsWith(prefix));
  const [match, ...others] = matches;
  if (match === undefined) {
    throw new TrackstackError(
      'RUN_NOT_FOUND',
      `no run matches ${JSON.stringify(id)} in ${storeDir}`,
      {
        hint: 'see the run ids with `trackstack runs list`',
      },
    );
  }
  if (others.length > 0) {
    const listed = matches
      .slice(0, MAX_LISTED_MATCHES)
      .map((run) => `\n  ${run.uid}  ${run.experiment}/${run.name}  ${formatTime(run.startTime)}`)
      .join('');
    const more =
      matches.length > MAX_LISTED_MATCHES
        ? `\n  ... and ${matches.length - MAX_LISTED_MATCHES} more`
        : '';
    throw new UsageError(
      `run id ${JSON.stringify(id)} matches ${matches.length} runs:${listed}${more}`,
      'give more characters of the uid',
    );
  }
  return match.uid;
}

function loadRun(localRuns: LocalRuns, uid: string): Promise<LoadedRun> {
  return localRuns.load(uid);
}

// ---- charts ----------------------------------------------------------------------------------

interface ChartSeries {
  label: string;
  points: readonly MetricPoint[];
  /** Index into the series colors: a run keeps its color in every chart, even where another run lacks the metric. */
  color: number;
}

interface PlottableSeries extends ChartSeries {
  /** The finite values, in step order. */
  values: number[];
  skipped: number;
}

/**
 * Draws one metric as a line chart, one line per series. The x axis is the
 * point's position in step order (not the step itself: many scripts log every
 * point at step 0). Histories longer than the terminal is wide are drawn as
 * means of equal groups of points, one group per column, the same group size
 * for every series so that runs logged on the same schedule line up.
 */
function printChart(title: string, series: readonly ChartSeries[]): void {
  const plottable = series.map(toPlottable);
  const drawn = plottable.filter((s) => s.values.length > 0);
  const single = series.length === 1;
  printLine();
  if (!drawn.some((s) => s.values.length >= 2)) {
    printLine(`${pc.bold(title)}: not charted, fewer than 2 finite points`);
    return;
  }
  const columns = chartWidth() - CHART_LABEL_WIDTH - CHART_AXIS_WIDTH;
  const groupSize = Math.ceil(Math.max(...drawn.map((s) => s.values.length)) / columns);
  const notes = [
    ...(single ? describeSeries(plottable[0]!) : []),
    ...(groupSize > 1 ? [`each column the mean of ${groupSize} points`] : []),
  ];
  printLine(`${pc.bold(title)}${notes.length > 0 ? pc.dim(` (${notes.join(', ')})`) : ''}`);

  // Several lines need colors to be told apart; one line is clearer without.
  const colored = !single && pc.isColorSupported;
  printLine(
    asciichart.plot(
      drawn.map((s) => downsample(s.values, groupSize)),
      {
        height: CHART_HEIGHT,
        format: (value) => chartLabel(value).padStart(CHART_LABEL_WIDTH),
        colors: colored ? drawn.map((s) => seriesColor(s)) : undefined,
      },
    ),
  );
  if (single) return;
  for (const s of plottable) {
    const line = colored ? asciichart.colored('──', seriesColor(s)) : '──';
    const details = s.values.length === 0 ? ['no finite points'] : describeSeries(s);
    printLine(`  ${line} ${s.label}${pc.dim(` (${details.join(', ')})`)}`);
  }
  if (!colored)
    printLine('  (colors are off, so the lines look alike: set FORCE_COLOR=1 to tell them apart)');
}

function toPlottable(series: ChartSeries): PlottableSeries {
  // Array sort is stable: points at the same step keep the order they were logged in.
  const ordered = [...series.points].sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
  const values = ordered.map((p) => p.value).filter((value) => Number.isFinite(value));
  return { ...series, values, skipped: ordered.length - values.length };
}

function describeSeries(series: PlottableSeries): string[] {
  const total = series.values.length + series.skipped;
  const notes = [`${total} ${total === 1 ? 'point' : 'points'}`];
  if (series.skipped > 0) notes.push(`${series.skipped} NaN/Infinity not charted`);
  return notes;
}

function seriesColor(series: ChartSeries): string {
  return SERIES_COLORS[series.color % SERIES_COLORS.length]!;
}

/** Means of consecutive groups of `groupSize` values (the last group may be smaller). */
function downsample(values: readonly number[], groupSize: number): number[] {
  if (groupSize <= 1) return [...values];
  const means: number[] = [];
  for (let start = 0; start < values.length; start += groupSize) {
    let mean = 0;
    let count = 0;
    // A running mean: a sum of large finite values could overflow to Infinity.
    for (const value of values.slice(start, start + groupSize)) {
      count += 1;
      mean += (value - mean) / count;
    }
    means.push(mean);
  }
  return means;
}

function chartWidth(): number {
  const columns = process.stdout.isTTY ? process.stdout.columns : undefined;
  return columns === undefined || columns <= 0
    ? CHART_DEFAULT_WIDTH
    : Math.min(columns, CHART_MAX_WIDTH);
}

/** At most 9 characters, so every label fits CHART_LABEL_WIDTH. */
function chartLabel(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= 1e5 || magnitude < 1e-3)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

// ---- formatting ------------------------------------------------------------------------------

function printSection(title: string): void {
  printLine();
  printLine(pc.bold(title));
}

function colorStatus(status: RunStatus): string {
  switch (status) {
    case 'FINISHED':
      return pc.green(status);
    case 'FAILED':
      return pc.red(status);
    case 'KILLED':
      return pc.yellow(status);
    case 'RUNNING':
      return pc.cyan(status);
  }
}

/** A run with no destinations lives only in the local journal. */
function formatDestinations(destinations: readonly string[]): string {
  return destinations.length === 0 ? 'local' : destinations.join(', ');
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function truncate(text: string): string {
  return text.length <= MAX_CELL_LENGTH ? text : `${text.slice(0, MAX_CELL_LENGTH - 1)}…`;
}

function sortedEntries<T>(record: Record<string, T>): [string, T][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function mapValues<T, U>(record: Record<string, T>, fn: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
}

function examples(commands: readonly string[]): string {
  return `\nExamples:\n${commands.map((line) => `  $ ${line}`).join('\n')}`;
}
