/**
 * A run's page: overview (status, duration, source, delivery), params, tags,
 * a grid of metric charts, system metrics, media, console output and
 * artifacts with previews. A run still logging updates as it logs (the
 * server's events), with no reload.
 */
import { api, type Run, type Series, type Summary } from './api';
import { artifactPreview, previewKind } from './artifact-preview';
import { loadSettings, settingsBar } from './chart-settings';
import { deliveryCell } from './delivery';
import { fill, h, keyValueTable, section } from './dom';
import { formatBytes, formatNumber, formatTime, runDuration } from './format';
import { mediaView } from './media-view';
import { type ChartSettings, gridChartWidth, MetricChart } from './metric-chart';

const SYSTEM = 'system/';
const AUTO_PREVIEWS = 6;

export function runView(root: HTMLElement, uid: string): () => void {
  let settings = loadSettings();
  const charts = new Map<string, MetricChart>();
  let events: EventSource | undefined;
  let disposed = false;
  let run: Run;
  let summaries: Record<string, Summary> = {};

  const header = h('div', { class: 'run-header' });
  const overview = h('div');
  const params = h('div');
  const tags = h('div');
  const metricGrid = h('div', { class: 'chart-grid', id: 'charts' });
  const systemGrid = h('div', { class: 'chart-grid', id: 'system-charts' });
  const systemSection = h(
    'details',
    { class: 'panel', id: 'system' },
    h('summary', {}, h('h2', {}, 'System metrics')),
    systemGrid,
  );
  const mediaBox = h('div');
  const artifactsBox = h('div');
  const consoleBox = h('pre', { class: 'console', id: 'console-text' });
  const consoleSection = h(
    'details',
    { class: 'panel', id: 'console' },
    h('summary', {}, h('h2', {}, 'Console output')),
    consoleBox,
  );
  consoleSection.addEventListener('toggle', () => {
    if (consoleSection.open) void loadConsole();
  });
  const bar = settingsBar(settings, (next: ChartSettings) => {
    settings = next;
    for (const chart of charts.values()) chart.update(settings);
  });

  root.append(
    header,
    h(
      'div',
      { class: 'columns' },
      section('Overview', 'overview', overview),
      h('div', {}, section('Params', 'params', params), section('Tags', 'tags', tags)),
    ),
    section('Metrics', 'metrics', bar, metricGrid),
    systemSection,
    h('div', { id: 'media-section' }, mediaBox),
    section('Artifacts', 'artifacts', artifactsBox),
    consoleSection,
  );

  async function loadConsole() {
    consoleBox.textContent = (await api.console(uid)) || '(no console output)';
  }

  function renderRun() {
    document.title = `${run.name} · trackstack`;
    fill(
      header,
      h('a', { href: '#/', class: 'back' }, '← runs'),
      h('h1', {}, run.name || run.uid),
      h(
        'span',
        { class: `status status-${run.status.toLowerCase()}`, id: 'run-status' },
        run.status,
      ),
      h('span', { class: 'muted' }, run.experiment, ' · ', run.uid),
    );
    const source = run.source;
    const entries: [string, Node | string][] = [
      ['status', run.status],
      ['started', formatTime(run.startTime)],
      ['ended', run.endTime ? formatTime(run.endTime) : '—'],
      ['duration', runDuration(run)],
      ['experiment', run.experiment],
      ['uid', run.uid],
    ];
    if (run.parentUid)
      entries.push([
        'parent',
        h('a', { href: `#/run/${encodeURIComponent(run.parentUid)}` }, run.parentUid),
      ]);
    entries.push(['delivery', deliveryCell(run)]);
    if (source) {
      if (source.git) {
        entries.push([
          'git',
          `${source.git.commit.slice(0, 12)}${source.git.branch ? ` (${source.git.branch})` : ''}${source.git.dirty ? ' dirty' : ''}`,
        ]);
        if (source.git.remoteUrl) entries.push(['repository', source.git.remoteUrl]);
      }
      if (source.entryPoint) entries.push(['entry point', source.entryPoint]);
      entries.push(['command', h('code', {}, source.command.join(' '))]);
      entries.push(['directory', source.cwd]);
      entries.push(['host', `${source.user ? `${source.user}@` : ''}${source.host}`]);
      entries.push(['environment', `Node ${source.node}, ${source.os}`]);
    }
    for (const input of run.inputs)
      entries.push([
        `input${input.context ? ` (${input.context})` : ''}`,
        `${input.name}${input.digest ? ` ${input.digest.slice(0, 12)}` : ''}`,
      ]);
    fill(overview, keyValueTable(entries));
    fill(
      params,
      keyValueTable(
        Object.entries(run.params).sort(([a], [b]) => a.localeCompare(b)),
        'no params',
      ),
    );
    fill(
      tags,
      keyValueTable(
        Object.entries(run.tags).sort(([a], [b]) => a.localeCompare(b)),
        'no tags',
      ),
    );
    const media = mediaView(uid, run.media);
    fill(mediaBox, media ? section('Media', 'media', media) : null);
    renderArtifacts();
  }

  function renderArtifacts() {
    if (run.artifacts.length === 0) {
      fill(artifactsBox, h('p', { class: 'muted' }, 'no artifacts'));
      return;
    }
    const preview = h('div', { class: 'previews', id: 'previews' });
    const open = async (index: number) => {
      const artifact = run.artifacts[index]!;
      const existing = preview.querySelector(`[data-artifact="${CSS.escape(artifact.path)}"]`);
      if (existing) {
        existing.scrollIntoView({ block: 'nearest' });
        return;
      }
      const box = h(
        'figure',
        { class: 'preview', 'data-artifact': artifact.path },
        h('figcaption', {}, artifact.path),
      );
      preview.append(box);
      try {
        box.append(await artifactPreview(uid, artifact));
      } catch (e) {
        box.append(h('p', { class: 'error' }, (e as Error).message));
      }
    };
    const rows = run.artifacts.map((a, i) =>
      h(
        'tr',
        {},
        h('td', {}, h('button', { class: 'link', onclick: () => void open(i) }, a.path)),
        h('td', { class: 'number' }, formatBytes(a.size)),
        h('td', { class: 'muted' }, a.contentType),
      ),
    );
    fill(artifactsBox, h('table', { class: 'data artifacts' }, h('tbody', {}, rows)), preview);
    run.artifacts
      .map((a, i) => [a, i] as const)
      .filter(([a]) => previewKind(a) === 'image')
      .slice(0, AUTO_PREVIEWS)
      .forEach(([, i]) => void open(i));
  }

  /**
   * Adds charts for keys not drawn yet (from `initial` when the run's answer had their
   * series); refreshes the others (a live run).
   */
  async function renderCharts(refresh: boolean, initial: Record<string, Series> = {}) {
    const keys = Object.keys(summaries).sort();
    const work: Promise<void>[] = [];
    for (const key of keys) {
      let chart = charts.get(key);
      if (chart === undefined) {
        chart = new MetricChart(
          key,
          [{ uid, key, label: key, startTime: run.startTime }],
          settings,
        );
        charts.set(key, chart);
        (key.startsWith(SYSTEM) ? systemGrid : metricGrid).append(chart.element);
        const series = initial[key];
        if (series !== undefined) chart.show([series]);
        else work.push(chart.load());
      } else if (refresh) {
        work.push(chart.refresh());
      }
    }
    if (
      keys.filter((k) => !k.startsWith(SYSTEM)).length === 0 &&
      metricGrid.childElementCount === 0
    ) {
      metricGrid.append(h('p', { class: 'muted' }, 'no metrics'));
    }
    systemSection.hidden = !keys.some((k) => k.startsWith(SYSTEM));
    if (!systemSection.hidden && !systemSection.dataset.seen) {
      systemSection.dataset.seen = '1';
      systemSection.open = true;
    }
    for (const chart of charts.values())
      chart.element.title = describe(summaries[chart.element.dataset.key!]);
    await Promise.all(work);
  }

  function describe(summary: Summary | undefined): string {
    if (!summary) return '';
    return `${summary.count} points · min ${formatNumber(summary.min)} · max ${formatNumber(summary.max)} · latest ${formatNumber(summary.latest.value)} at step ${summary.latest.step}`;
  }

  async function load() {
    try {
      // The run and its first charts' series in one answer, at the width the charts will have.
      const answer = await api.run(uid, gridChartWidth(metricGrid));
      if (disposed) return;
      run = answer.run;
      summaries = answer.summaries;
      renderRun();
      await renderCharts(false, answer.series);
      if (run.status === 'RUNNING') follow();
    } catch (e) {
      fill(
        root,
        h('p', { class: 'error' }, (e as Error).message),
        h('a', { href: '#/' }, '← runs'),
      );
    }
  }

  /** A running run: new summaries redraw the charts, the end reloads the page's data. */
  function follow() {
    events = new EventSource(api.eventsUrl(uid));
    let busy = false;
    events.addEventListener('summaries', (event) => {
      summaries = JSON.parse((event as MessageEvent<string>).data) as Record<string, Summary>;
      if (busy) return;
      busy = true;
      void renderCharts(true).finally(() => {
        busy = false;
      });
    });
    events.addEventListener('end', () => {
      events?.close();
      events = undefined;
      void api.run(uid).then((answer) => {
        if (disposed) return;
        run = answer.run;
        summaries = answer.summaries;
        renderRun();
        void renderCharts(true);
      });
    });
  }

  void load();
  return () => {
    disposed = true;
    events?.close();
    for (const chart of charts.values()) chart.destroy();
  };
}
