/**
 * `trackstack runs list | show | compare`: every run has a journal in the
 * store, whatever its destinations, so these read runs back with LocalRuns and
 * print tables and terminal charts for people, or JSON for programs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunStatus } from '@trackstack/core';
import {
  type LocalMedia,
  LocalRuns,
  type MetricSummary,
  type RunSnapshot,
  type RunSummary,
  type RunView,
  SYSTEM_METRIC_PREFIX,
  TrackstackError,
} from '@trackstack/core';
import { matchesRunFilter, parseRunFilter } from '@trackstack/core/store';
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
  filter?: string;
  json?: boolean;
}

interface ShowOptions {
  json?: boolean;
  chart: boolean;
}

interface ExportOptions {
  format: string;
  key?: string[];
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
    .option(
      '-f, --filter <expr>',
      "only the runs that match, in MLflow's search syntax: metrics.acc > 0.9 and params.lr = '0.01'",
    )
    .option('--json', 'print the runs as JSON')
    .addHelpText(
      'after',
      examples([
        'trackstack runs list',
        'trackstack runs list --experiment iris --status FAILED',
        "trackstack runs list --filter \"metrics.val/acc > 0.9 and params.lr = '0.01' and tags.team = 'ml'\"",
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
    .option(
      '--json',
      "print the run and each metric's summary as JSON (every point: `runs export`)",
    )
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
    .command('export')
    .description("Print every point of a run's metrics, in the order logged (streamed)")
    .argument(
      '<id>',
      `the run's uid, or a unique prefix of at least ${MIN_PREFIX_LENGTH} characters`,
    )
    .option('-f, --format <format>', 'jsonl (one point a line) or csv', 'jsonl')
    .option('-k, --key <key...>', 'only these metrics')
    .addHelpText(
      'after',
      examples([
        'trackstack runs export 01a2b3c4 > points.jsonl',
        'trackstack runs export 01a2b3c4 --format csv --key loss val/acc > loss.csv',
      ]),
    )
    .action((id: string, options: ExportOptions) => exportRun(context, id, options));

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
  const localRuns = new LocalRuns(context.storeDir);
  let summaries = await localRuns.list({ experiment: options.experiment });
  if (status !== undefined) summaries = summaries.filter((run) => run.status === status);
  if (options.filter !== undefined) {
    const clauses = parseRunFilter(options.filter);
    const kept: RunSummary[] = [];
    // Each run's snapshot from its read index: latest metrics, params, tags.
    for (const run of summaries) {
      if (matchesRunFilter(clauses, await localRuns.get(run.uid))) kept.push(run);
    }
    summaries = kept;
  }
  if (limit !== undefined) summaries = summaries.slice(0, limit);

  if (context.json(command)) {
    printJson(summaries);
    return;
  }
  if (summaries.length === 0) {
    const filtered =
      options.experiment !== undefined || status !== undefined || options.filter !== undefined;
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
  // One read of the run's index: what it costs does not grow with the run's points.
  const view = await localRuns.view(uid);
  const { snapshot, summaries } = view;

  if (context.json(command)) {
    printJson({ ...snapshot, summaries: summariesForJson(summaries) });
    return;
  }
  printDetails(snapshot);
  printKeyValues('Params', 'param', snapshot.params);
  printKeyValues('Tags', 'tag', snapshot.tags);
  printSource(snapshot);
  printInputs(snapshot);
  printMetrics(snapshot, summaries);
  printMedia(snapshot);
  printArtifacts(snapshot);
  if (options.chart) {
    for (const [key, summary] of sortedEntries(summaries)) {
      if (summary.count < 2 || isSystem(key)) continue;
      printChart(key, [await chartSeries(view, summary, key, 0)]);
    }
  }
}

/** A metric's chart line: its points in the order logged, one per column at most (the read index). */
async function chartSeries(
  view: RunView,
  summary: MetricSummary,
  label: string,
  color: number,
): Promise<ChartSeries> {
  const series = await view.series(summary.key, { points: chartColumns(), by: 'order' });
  return {
    label,
    values: series.points.map((p) => p.value).filter((value) => Number.isFinite(value)),
    count: summary.count,
    nonFinite: summary.nonFinite,
    perColumn: series.exact ? 1 : Math.ceil(summary.count / Math.max(1, series.points.length)),
    color,
  };
}

/** Points as JSON writes them: non-finite values as strings. */
function summariesForJson(summaries: Record<string, MetricSummary>): Record<string, unknown> {
  const number = (value: number | null) =>
    value === null || Number.isFinite(value) ? value : String(value);
  return mapValues(summaries, (s) => ({
    count: s.count,
    nonFinite: s.nonFinite,
    min: number(s.min),
    max: number(s.max),
    mean: number(s.mean),
    first: { ...s.first, value: number(s.first.value) },
    latest: { ...s.latest, value: number(s.latest.value) },
  }));
}

// ---- runs export -----------------------------------------------------------------------------

async function exportRun(context: CliContext, id: string, options: ExportOptions): Promise<void> {
  if (options.format !== 'jsonl' && options.format !== 'csv') {
    throw new UsageError(`--format must be jsonl or csv, not ${JSON.stringify(options.format)}`);
  }
  const localRuns = new LocalRuns(context.storeDir);
  const uid = resolveRunUid(id, await localRuns.list(), context.storeDir);
  const keys = options.key === undefined ? undefined : new Set(options.key);
  const csv = options.format === 'csv';
  if (csv) await write('key,step,value,timestamp\n');
  for await (const points of localRuns.metricBlocks(uid)) {
    let text = '';
    for (const { key, step, value, timestamp } of points) {
      if (keys !== undefined && !keys.has(key)) continue;
      text += csv
        ? `${csvField(key)},${step},${value},${timestamp}\n`
        : `${JSON.stringify({ key, step, value: Number.isFinite(value) ? value : String(value), timestamp })}\n`;
    }
    if (text.length > 0) await write(text);
  }
}

/** Writes to stdout, waiting while its buffer is full (a pipe to a slow reader). */
function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', resolve).once('error', reject);
  });
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
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

function printMetrics(run: RunSnapshot, summaries: Record<string, MetricSummary>): void {
  printMetricTable('Metrics', run, summaries, (key) => !isSystem(key), true);
  printMetricTable('System metrics', run, summaries, isSystem, false);
}

function printMetricTable(
  title: string,
  run: RunSnapshot,
  summaries: Record<string, MetricSummary>,
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
      const s = summaries[key];
      return [
        key,
        formatValue(last),
        s?.latest.step,
        s?.count,
        s?.min === null || s?.min === undefined ? undefined : formatValue(s.min),
        s?.max === null || s?.max === undefined ? undefined : formatValue(s.max),
      ];
    }),
  );
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

// ---- runs compare ----------------------------------------------------------------------------

async function compareRuns(context: CliContext, ids: string[], command: Command): Promise<void> {
  if (ids.length < 2) {
    throw new UsageError(
      'compare needs at least 2 runs',
      'give two or more run ids, e.g. `trackstack runs compare 01a2b3c4 01a2b3d9`',
    );
  }
  const localRuns = new LocalRuns(context.storeDir);
  const listed = await localRuns.list();
  const uids = ids.map((id) => resolveRunUid(id, listed, context.storeDir));
  const repeated = uids.find((uid, index) => uids.indexOf(uid) !== index);
  if (repeated !== undefined) {
    throw new UsageError(`run ${repeated} is given more than once`);
  }
  const views = await Promise.all(uids.map((uid) => localRuns.view(uid)));
  const snapshots = views.map((view) => view.snapshot);
  const summaries = views.map((view) => view.summaries);
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
    const lines: ChartSeries[] = [];
    for (const [index, run] of snapshots.entries()) {
      const summary = summaries[index]![key];
      if (summary === undefined) continue;
      lines.push(await chartSeries(views[index]!, summary, `${labels[index]} ${run.name}`, index));
    }
    printChart(key, lines);
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

// ---- charts ----------------------------------------------------------------------------------

interface ChartSeries {
  label: string;
  /** The finite values to draw, in the order logged: a point each, or the mean of `perColumn`. */
  values: number[];
  /** Points the metric has, and of them NaN or ±Infinity. */
  count: number;
  nonFinite: number;
  perColumn: number;
  /** Index into the series colors: a run keeps its color in every chart, even where another run lacks the metric. */
  color: number;
}

/**
 * Draws one metric as a line chart, one line per series. The x axis is the
 * point's position in the order logged (not the step: many scripts log every
 * point at step 0). A series longer than the terminal is wide comes from the
 * run's read index as means of about equal runs of points, one per column.
 */
function printChart(title: string, series: readonly ChartSeries[]): void {
  const drawn = series.filter((s) => s.values.length > 0);
  const single = series.length === 1;
  printLine();
  if (!drawn.some((s) => s.values.length >= 2)) {
    printLine(`${pc.bold(title)}: not charted, fewer than 2 finite points`);
    return;
  }
  const perColumn = Math.max(...drawn.map((s) => s.perColumn));
  const notes = [
    ...(single ? describeSeries(series[0]!) : []),
    ...(perColumn > 1 ? [`each column the mean of about ${perColumn} points`] : []),
  ];
  printLine(`${pc.bold(title)}${notes.length > 0 ? pc.dim(` (${notes.join(', ')})`) : ''}`);

  // Several lines need colors to be told apart; one line is clearer without.
  const colored = !single && pc.isColorSupported;
  printLine(
    asciichart.plot(
      drawn.map((s) => s.values),
      {
        height: CHART_HEIGHT,
        format: (value) => chartLabel(value).padStart(CHART_LABEL_WIDTH),
        colors: colored ? drawn.map((s) => seriesColor(s)) : undefined,
      },
    ),
  );
  if (single) return;
  for (const s of series) {
    const line = colored ? asciichart.colored('──', seriesColor(s)) : '──';
    const details = s.values.length === 0 ? ['no finite points'] : describeSeries(s);
    printLine(`  ${line} ${s.label}${pc.dim(` (${details.join(', ')})`)}`);
  }
  if (!colored)
    printLine('  (colors are off, so the lines look alike: set FORCE_COLOR=1 to tell them apart)');
}

function describeSeries(series: ChartSeries): string[] {
  const notes = [`${series.count} ${series.count === 1 ? 'point' : 'points'}`];
  if (series.nonFinite > 0) notes.push(`${series.nonFinite} NaN/Infinity not charted`);
  return notes;
}

function seriesColor(series: ChartSeries): string {
  return SERIES_COLORS[series.color % SERIES_COLORS.length]!;
}

/** The columns a chart has for its points. */
function chartColumns(): number {
  return chartWidth() - CHART_LABEL_WIDTH - CHART_AXIS_WIDTH;
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
