/**
 * One metric chart (uPlot, canvas): one line per run, asked of the server at
 * the chart's width in pixels (never more points than pixels), with the
 * min/max band of bucketed points, smoothing, a log y axis, x as step, wall
 * time or time since the run started, and zoom: dragging over a range loads
 * that range again, exact once it holds no more points than pixels;
 * double-click zooms out.
 */
import uPlot from 'uplot';
import { api, num, type Series, type SeriesPoint } from './api';
import { h } from './dom';
import { formatNumber } from './format';
import { smooth } from './smoothing';

export type XMode = 'step' | 'wall' | 'relative';

export interface ChartSettings {
  smoothing: number;
  logY: boolean;
  x: XMode;
}

/** One line: a run's key. */
export interface ChartSource {
  uid: string;
  key: string;
  label: string;
  /** The run's start (ms), for x = relative time. */
  startTime: number;
}

const COLORS = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#be185d',
  '#4d7c0f',
];

export function colorOf(index: number): string {
  return COLORS[index % COLORS.length]!;
}

interface Loaded {
  source: ChartSource;
  exact: boolean;
  points: SeriesPoint[];
}

const HEIGHT = 220;

export class MetricChart {
  readonly element: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly status: HTMLElement;
  private readonly sources: ChartSource[];
  private settings: ChartSettings;
  private plot: uPlot | undefined;
  private loaded: Loaded[] = [];
  /** The zoomed step range; undefined: the whole run. */
  private range: { from: number; to: number } | undefined;
  private loading = 0;
  private readonly resize: ResizeObserver;
  private readonly height: number;

  constructor(title: string, sources: ChartSource[], settings: ChartSettings, height = HEIGHT) {
    this.sources = sources;
    this.settings = settings;
    this.height = height;
    this.status = h('span', { class: 'chart-status muted' });
    this.plotBox = h('div', { class: 'chart-plot' });
    this.element = h(
      'figure',
      { class: 'chart', 'data-key': title },
      h('figcaption', {}, h('span', { class: 'chart-title' }, title), this.status),
      this.plotBox,
    );
    this.plotBox.addEventListener('dblclick', () => {
      if (this.range === undefined) return;
      this.range = undefined;
      void this.load();
    });
    this.resize = new ResizeObserver(() => {
      const width = this.width();
      if (this.plot !== undefined && Math.abs(this.plot.width - width) > 1) {
        this.plot.setSize({ width, height: this.height });
      }
    });
    this.resize.observe(this.plotBox);
  }

  /** The plot's width in CSS pixels: how many points it asks for. */
  private width(): number {
    return Math.max(200, Math.floor(this.plotBox.clientWidth || 400));
  }

  /** Draws series the page already has (one per source, as `load` would fetch them). */
  show(series: readonly Series[]): void {
    this.loading++;
    this.loaded = this.sources.map((source, i) => ({
      source,
      exact: series[i]?.exact ?? true,
      points: series[i]?.points ?? [],
    }));
    this.draw();
  }

  /** Loads the series (the zoomed range, else all) and draws them. */
  async load(): Promise<void> {
    const ticket = ++this.loading;
    const points = this.width();
    const range = this.range;
    const loaded = await Promise.all(
      this.sources.map(async (source) => {
        const series = await api.series(source.uid, source.key, { points, ...(range ?? {}) });
        return { source, exact: series.exact, points: series.points };
      }),
    );
    if (ticket !== this.loading) return; // a newer load is under way
    this.loaded = loaded;
    this.draw();
  }

  /** New settings (smoothing, log scale, x axis): drawn from the points already here. */
  update(settings: ChartSettings): void {
    const reload = settings.x !== this.settings.x && this.range !== undefined;
    this.settings = settings;
    if (reload) {
      this.range = undefined;
      void this.load();
    } else {
      this.draw();
    }
  }

  /** A live run logged more: load again (the zoom stays). */
  refresh(): Promise<void> {
    return this.load();
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
  }

  private xOf(point: SeriesPoint, source: ChartSource): number {
    const mid = (a: number, b: number) => (a + b) / 2;
    switch (this.settings.x) {
      case 'step':
        return mid(point.step, point.stepEnd);
      case 'wall':
        return mid(point.time ?? 0, point.timeEnd ?? point.time ?? 0) / 1000;
      case 'relative':
        return (mid(point.time ?? 0, point.timeEnd ?? point.time ?? 0) - source.startTime) / 1000;
    }
  }

  private draw(): void {
    const { logY, smoothing } = this.settings;
    const y = (value: number) => (Number.isFinite(value) && (!logY || value > 0) ? value : null);
    // One x axis for every line: the union of their x values, each line null where it has none.
    const xs = [
      ...new Set(this.loaded.flatMap((l) => l.points.map((p) => this.xOf(p, l.source)))),
    ].sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    const data: (number | null)[][] = [xs];
    const series: uPlot.Series[] = [{ label: this.settings.x === 'step' ? 'step' : 'time' }];
    const bands: uPlot.Band[] = [];
    /** The band's series: drawn, not listed in the legend. */
    const unlisted: number[] = [];
    const drawn = this.loaded.reduce((n, l) => n + l.points.length, 0);
    const single = this.loaded.length === 1;
    this.loaded.forEach((line, index) => {
      const color = colorOf(index);
      const column = (pick: (p: SeriesPoint) => number) => {
        const out: (number | null)[] = new Array(xs.length).fill(null);
        for (const p of line.points) out[at.get(this.xOf(p, line.source))!] = y(pick(p));
        return out;
      };
      const values = column((p) => num(p.value));
      if (single && !line.exact) {
        // The bucket's min and max, as a band under the line.
        data.push(
          column((p) => num(p.min)),
          column((p) => num(p.max)),
        );
        series.push(
          { label: 'min', stroke: 'transparent', points: { show: false } },
          { label: 'max', stroke: 'transparent', points: { show: false } },
        );
        bands.push({ series: [data.length - 1, data.length - 2], fill: `${color}22` });
        unlisted.push(data.length - 2, data.length - 1);
      }
      if (smoothing > 0) {
        data.push(values);
        series.push({
          label: `${line.source.label} (raw)`,
          stroke: `${color}55`,
          width: 1,
          points: { show: false },
        });
        data.push(smooth(values, smoothing));
      } else {
        data.push(values);
      }
      series.push({
        label: line.source.label,
        stroke: color,
        width: 1.5,
        spanGaps: true,
        value: (_u, v) => (v === null || v === undefined ? '' : formatNumber(v)),
        points: { show: line.points.length < 60 },
      });
    });
    this.element.dataset.points = String(drawn);
    // The x axis drawn (its values are on the canvas): its mode and first value.
    this.element.dataset.x = this.settings.x;
    this.element.dataset.xFirst = String(xs[0] ?? '');
    this.element.dataset.exact = String(this.loaded.every((l) => l.exact));
    const exact = this.loaded.every((l) => l.exact);
    this.status.textContent = `${drawn} ${exact ? 'points' : 'buckets'}${this.range ? ' · zoomed (double-click: all)' : ''}`;
    const options: uPlot.Options = {
      width: this.width(),
      height: this.height,
      scales: {
        x: { time: this.settings.x === 'wall' },
        y: { distr: logY ? 3 : 1 },
      },
      series,
      bands,
      axes: [
        {
          stroke: '#555',
          grid: { stroke: '#eee' },
          ...(this.settings.x === 'relative'
            ? { values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${formatNumber(t)} s`) }
            : {}),
        },
        {
          stroke: '#555',
          grid: { stroke: '#eee' },
          size: 60,
          values: (_u, ticks) => ticks.map((t) => formatNumber(t)),
        },
      ],
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        init: [
          (u) => {
            const rows = u.root.querySelectorAll<HTMLElement>('.u-legend .u-series');
            for (const i of unlisted) if (rows[i]) rows[i].style.display = 'none';
          },
        ],
        setSelect: [
          (u) => {
            if (u.select.width < 5) return;
            const x0 = u.posToVal(u.select.left, 'x');
            const x1 = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.zoomTo(x0, x1);
          },
        ],
      },
    };
    this.plot?.destroy();
    this.plot = new uPlot(options, data as uPlot.AlignedData, this.plotBox);
  }

  /** A dragged x range as steps: the steps of the points drawn inside it. */
  private zoomTo(x0: number, x1: number): void {
    let from = Number.POSITIVE_INFINITY;
    let to = Number.NEGATIVE_INFINITY;
    if (this.settings.x === 'step') {
      from = Math.ceil(x0);
      to = Math.floor(x1);
    } else {
      for (const line of this.loaded) {
        for (const p of line.points) {
          const x = this.xOf(p, line.source);
          if (x < x0 || x > x1) continue;
          from = Math.min(from, p.step);
          to = Math.max(to, p.stepEnd);
        }
      }
    }
    if (!(from <= to)) return;
    this.range = { from, to };
    void this.load();
  }
}

/** The minimum chart width of a `.chart-grid` (style.css) and the gap between charts, px. */
const GRID_MIN = 420;
const GRID_GAP = 11;
/** A chart's padding and border, and room for a scroll bar that may come. */
const CHART_CHROME = 30;

/**
 * How wide each chart of a grid will be, before any is made: what the page asks the server
 * for with the run (never more than the chart will have pixels).
 */
export function gridChartWidth(grid: HTMLElement): number {
  const width = grid.clientWidth || 400;
  const columns = Math.max(1, Math.floor((width + GRID_GAP) / (GRID_MIN + GRID_GAP)));
  return Math.max(200, Math.floor((width - GRID_GAP * (columns - 1)) / columns) - CHART_CHROME);
}
