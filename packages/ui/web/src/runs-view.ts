/**
 * The runs table: every run of the store, an experiment filter, a search box
 * in MLflow's filter syntax (the server's parser, the CLI's), sort by any
 * column, a column picker for params and metrics, status and delivery per
 * destination, and runs picked to compare.
 */
import { api, type Run } from './api';
import { deliveryCell } from './delivery';
import { fill, h } from './dom';
import { formatNumber, formatTime, runDuration } from './format';

interface Column {
  id: string;
  title: string;
  value: (run: Run) => string | number;
  cell?: (run: Run) => Node | string;
}

const PICKED = 'trackstack.ui.columns';
const REFRESH_MS = 5000;

export function runsView(root: HTMLElement, query: URLSearchParams): () => void {
  const state = {
    experiment: query.get('experiment') ?? '',
    filter: query.get('filter') ?? '',
    sort: { id: 'start', descending: true },
    selected: new Set<string>(),
    runs: [] as Run[],
    experiments: [] as string[],
    picked: new Set<string>(JSON.parse(localStorage.getItem(PICKED) ?? 'null') ?? []),
    pickedDefault: localStorage.getItem(PICKED) === null,
  };
  const experimentSelect = h('select', { id: 'experiment', 'aria-label': 'experiment' });
  const filterInput = h('input', {
    id: 'filter',
    type: 'search',
    placeholder: "metrics.val/acc > 0.9 and params.lr = '0.01' and tags.team = 'ml'",
    'aria-label': 'filter',
    spellcheck: 'false',
  });
  filterInput.value = state.filter;
  const error = h('p', { class: 'error', id: 'filter-error', role: 'alert' });
  const compare = h('button', { id: 'compare', disabled: true }, 'Compare');
  const pickerBox = h('div', { class: 'picker', hidden: true });
  const pickerButton = h('button', { id: 'columns' }, 'Columns');
  const count = h('span', { class: 'muted', id: 'run-count' });
  const table = h('table', { class: 'runs', id: 'runs' });
  root.append(
    h(
      'div',
      { class: 'toolbar' },
      experimentSelect,
      h(
        'form',
        { class: 'filter-form', onsubmit: onFilter },
        filterInput,
        h('button', { type: 'submit' }, 'Filter'),
      ),
      pickerButton,
      compare,
      count,
    ),
    error,
    pickerBox,
    h('div', { class: 'table-wrap' }, table),
  );

  function onFilter(event: Event) {
    event.preventDefault();
    state.filter = filterInput.value.trim();
    remember();
    void load();
  }
  experimentSelect.addEventListener('change', () => {
    state.experiment = experimentSelect.value;
    remember();
    void load();
  });
  pickerButton.addEventListener('click', () => {
    pickerBox.hidden = !pickerBox.hidden;
  });
  compare.addEventListener('click', () => {
    location.hash = `#/compare/${[...state.selected].map(encodeURIComponent).join(',')}`;
  });

  /** The filter in the page's address, so a reload or a link keeps it. */
  function remember() {
    const params = new URLSearchParams();
    if (state.experiment) params.set('experiment', state.experiment);
    if (state.filter) params.set('filter', state.filter);
    const text = params.toString();
    history.replaceState(null, '', `#/${text ? `?${text}` : ''}`);
  }

  async function load() {
    try {
      const [{ runs }, all] = await Promise.all([
        api.runs({ experiment: state.experiment, filter: state.filter }),
        state.experiments.length === 0 ? api.runs() : Promise.resolve(undefined),
      ]);
      if (all !== undefined) {
        state.experiments = [...new Set(all.runs.map((r) => r.experiment))].sort();
        fill(
          experimentSelect,
          h('option', { value: '' }, 'all experiments'),
          state.experiments.map((e) =>
            h('option', { value: e, selected: e === state.experiment }, e),
          ),
        );
      }
      state.runs = runs;
      error.textContent = '';
      filterInput.classList.remove('invalid');
      render();
    } catch (e) {
      error.textContent = (e as Error).message;
      filterInput.classList.add('invalid');
    }
  }

  function columns(): Column[] {
    const params = [...new Set(state.runs.flatMap((r) => Object.keys(r.params)))].sort();
    const metrics = [...new Set(state.runs.flatMap((r) => Object.keys(r.metrics)))]
      .filter((k) => !k.startsWith('system/'))
      .sort();
    if (state.pickedDefault) {
      state.picked = new Set([
        ...params.slice(0, 3).map((p) => `params.${p}`),
        ...metrics.slice(0, 4).map((m) => `metrics.${m}`),
      ]);
    }
    fill(
      pickerBox,
      h('strong', {}, 'Params'),
      params.map((p) => pickerOption(`params.${p}`, p)),
      h('strong', {}, 'Metrics'),
      metrics.map((m) => pickerOption(`metrics.${m}`, m)),
    );
    const chosen: Column[] = [];
    for (const p of params) {
      if (state.picked.has(`params.${p}`))
        chosen.push({ id: `params.${p}`, title: p, value: (r) => r.params[p] ?? '' });
    }
    for (const m of metrics) {
      if (state.picked.has(`metrics.${m}`)) {
        chosen.push({
          id: `metrics.${m}`,
          title: m,
          value: (r) => (r.metrics[m] === undefined ? '' : Number(r.metrics[m])),
          cell: (r) => formatNumber(r.metrics[m]),
        });
      }
    }
    return [
      {
        id: 'name',
        title: 'Run',
        value: (r) => r.name,
        cell: (r) =>
          h(
            'a',
            { href: `#/run/${encodeURIComponent(r.uid)}`, class: 'run-link' },
            r.name || r.uid,
          ),
      },
      { id: 'experiment', title: 'Experiment', value: (r) => r.experiment },
      {
        id: 'status',
        title: 'Status',
        value: (r) => r.status,
        cell: (r) => h('span', { class: `status status-${r.status.toLowerCase()}` }, r.status),
      },
      {
        id: 'start',
        title: 'Started',
        value: (r) => r.startTime,
        cell: (r) => formatTime(r.startTime),
      },
      {
        id: 'duration',
        title: 'Duration',
        value: (r) => (r.endTime ?? Date.now()) - r.startTime,
        cell: (r) => runDuration(r),
      },
      {
        id: 'delivery',
        title: 'Delivery',
        value: (r) => (r.deliveries ?? []).reduce((n, d) => n + d.pending, 0),
        cell: (r) => deliveryCell(r),
      },
      ...chosen,
    ];
  }

  function pickerOption(id: string, label: string): HTMLElement {
    const box = h('input', { type: 'checkbox', checked: state.picked.has(id), 'data-column': id });
    box.addEventListener('change', () => {
      if (box.checked) state.picked.add(id);
      else state.picked.delete(id);
      state.pickedDefault = false;
      localStorage.setItem(PICKED, JSON.stringify([...state.picked]));
      render();
    });
    return h('label', {}, box, label);
  }

  function render() {
    const cols = columns();
    const sortColumn = cols.find((c) => c.id === state.sort.id) ?? cols[3]!;
    const sign = state.sort.descending ? -1 : 1;
    const runs = [...state.runs].sort((a, b) => {
      const x = sortColumn.value(a);
      const y = sortColumn.value(b);
      if (x === y) return 0;
      if (x === '') return 1;
      if (y === '') return -1;
      return (x < y ? -1 : 1) * sign;
    });
    const header = h(
      'tr',
      {},
      h('th', {}, ''),
      cols.map((c) => {
        const th = h(
          'th',
          {
            class: 'sortable',
            'data-column': c.id,
            'aria-sort':
              c.id === sortColumn.id
                ? state.sort.descending
                  ? 'descending'
                  : 'ascending'
                : undefined,
          },
          c.title,
          c.id === sortColumn.id ? (state.sort.descending ? ' ▾' : ' ▴') : '',
        );
        th.addEventListener('click', () => {
          state.sort = {
            id: c.id,
            descending: c.id === state.sort.id ? !state.sort.descending : false,
          };
          render();
        });
        return th;
      }),
    );
    const rows = runs.map((run) => {
      const box = h('input', {
        type: 'checkbox',
        checked: state.selected.has(run.uid),
        'aria-label': `select ${run.name}`,
      });
      box.addEventListener('change', () => {
        if (box.checked) state.selected.add(run.uid);
        else state.selected.delete(run.uid);
        updateCompare();
      });
      return h(
        'tr',
        { 'data-uid': run.uid },
        h('td', {}, box),
        cols.map((c) =>
          h(
            'td',
            { class: c.id.startsWith('metrics.') ? 'number' : undefined },
            c.cell ? c.cell(run) : String(c.value(run)),
          ),
        ),
      );
    });
    fill(table, h('thead', {}, header), h('tbody', {}, rows));
    count.textContent = `${runs.length} run${runs.length === 1 ? '' : 's'}`;
    updateCompare();
  }

  function updateCompare() {
    for (const uid of [...state.selected])
      if (!state.runs.some((r) => r.uid === uid)) state.selected.delete(uid);
    compare.disabled = state.selected.size < 2;
    compare.textContent = `Compare${state.selected.size ? ` (${state.selected.size})` : ''}`;
  }

  void load();
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible' && !filterInput.classList.contains('invalid'))
      void load();
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
