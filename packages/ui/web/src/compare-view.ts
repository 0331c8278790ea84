/** Runs side by side: a metric overlaid across them, and their params, differing ones first. */
import { api, type Run, type Summary } from './api';
import { loadSettings, settingsBar } from './chart-settings';
import { fill, h, section } from './dom';
import { formatNumber } from './format';
import { colorOf, MetricChart } from './metric-chart';

export function compareView(root: HTMLElement, uids: string[]): () => void {
  let settings = loadSettings();
  let chart: MetricChart | undefined;
  const chartBox = h('div', { class: 'chart-wide', id: 'overlay' });
  const keySelect = h('select', { id: 'compare-key', 'aria-label': 'metric' });
  const onlyDiff = h('input', { type: 'checkbox', id: 'only-diff' });
  const paramsBox = h('div', { id: 'param-diff' });
  const metricsBox = h('div', { id: 'metric-table' });
  const bar = settingsBar(settings, (next) => {
    settings = next;
    chart?.update(settings);
  });
  root.append(
    h(
      'div',
      { class: 'run-header' },
      h('a', { href: '#/', class: 'back' }, '← runs'),
      h('h1', {}, `Compare ${uids.length} runs`),
    ),
    section('Metric', 'compare-metric', h('div', { class: 'toolbar' }, keySelect), bar, chartBox),
    section(
      'Params',
      'compare-params',
      h('label', {}, onlyDiff, ' only params that differ'),
      paramsBox,
    ),
    section('Latest metrics', 'compare-metrics', metricsBox),
  );

  let runs: { run: Run; summaries: Record<string, Summary> }[] = [];

  function draw() {
    chart?.destroy();
    const key = keySelect.value;
    if (!key) return;
    const sources = runs
      .filter((r) => r.summaries[key] !== undefined)
      .map(({ run }) => ({
        uid: run.uid,
        key,
        label: run.name || run.uid,
        startTime: run.startTime,
      }));
    chart = new MetricChart(key, sources, settings, 320);
    fill(chartBox, chart.element);
    void chart.load();
  }

  function renderParams() {
    const names = [...new Set(runs.flatMap(({ run }) => Object.keys(run.params)))].sort();
    const differs = (name: string) =>
      new Set(runs.map(({ run }) => run.params[name] ?? '')).size > 1;
    const shown = names
      .filter((n) => !onlyDiff.checked || differs(n))
      .sort((a, b) => Number(differs(b)) - Number(differs(a)) || a.localeCompare(b));
    fill(
      paramsBox,
      h(
        'table',
        { class: 'data diff' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'param'),
            runs.map(({ run }, i) =>
              h('th', { style: `color:${colorOf(i)}` }, run.name || run.uid),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          shown.map((name) =>
            h(
              'tr',
              { class: differs(name) ? 'differs' : undefined, 'data-param': name },
              h('th', {}, name),
              runs.map(({ run }) => h('td', {}, run.params[name] ?? '—')),
            ),
          ),
        ),
      ),
    );
  }

  function renderMetrics() {
    const keys = [...new Set(runs.flatMap(({ summaries }) => Object.keys(summaries)))]
      .filter((k) => !k.startsWith('system/'))
      .sort();
    fill(
      metricsBox,
      h(
        'table',
        { class: 'data' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'metric'),
            runs.map(({ run }, i) =>
              h('th', { style: `color:${colorOf(i)}` }, run.name || run.uid),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          keys.map((key) =>
            h(
              'tr',
              {},
              h('th', {}, key),
              runs.map(({ summaries }) =>
                h('td', { class: 'number' }, formatNumber(summaries[key]?.latest.value)),
              ),
            ),
          ),
        ),
      ),
    );
  }

  onlyDiff.addEventListener('change', renderParams);
  keySelect.addEventListener('change', draw);

  void (async () => {
    try {
      runs = await Promise.all(uids.map((uid) => api.run(uid)));
    } catch (e) {
      fill(root, h('p', { class: 'error' }, (e as Error).message));
      return;
    }
    const keys = [...new Set(runs.flatMap(({ summaries }) => Object.keys(summaries)))].sort(
      (a, b) =>
        Number(a.startsWith('system/')) - Number(b.startsWith('system/')) || a.localeCompare(b),
    );
    fill(
      keySelect,
      keys.map((k) => h('option', { value: k }, k)),
    );
    renderParams();
    renderMetrics();
    draw();
  })();
  return () => chart?.destroy();
}
