/**
 * A run's media, by key: images with a step slider, histograms (bars) with a
 * step slider, tables as tables.
 */
import uPlot from 'uplot';
import { api, type Media, num } from './api';
import { dataTable } from './artifact-preview';
import { fill, h } from './dom';
import { formatNumber } from './format';

type Indexed = Media & { n: number };

export function mediaView(uid: string, media: readonly Media[]): HTMLElement | null {
  if (media.length === 0) return null;
  const byKey = new Map<string, Indexed[]>();
  media.forEach((m, n) => {
    const id = `${m.kind}:${m.key}`;
    byKey.set(id, [...(byKey.get(id) ?? []), { ...m, n }]);
  });
  const cards = [...byKey.values()].map((values) => stepCard(uid, values));
  return h('div', { class: 'media-grid' }, cards);
}

/** One key's values, a slider over their steps (the last shown first). */
function stepCard(uid: string, values: Indexed[]): HTMLElement {
  const first = values[0]!;
  const body = h('div', { class: 'media-body' });
  const label = h('span', { class: 'muted' });
  const show = (i: number) => {
    const value = values[i]!;
    label.textContent = `step ${value.step}${values.length > 1 ? ` (${i + 1} of ${values.length})` : ''}`;
    void render(uid, value, body);
  };
  const slider =
    values.length > 1
      ? h('input', {
          type: 'range',
          min: 0,
          max: values.length - 1,
          value: values.length - 1,
          'aria-label': `${first.key} step`,
        })
      : null;
  slider?.addEventListener('input', () => show(Number(slider.value)));
  show(values.length - 1);
  return h(
    'figure',
    { class: `media media-${first.kind}`, 'data-key': first.key },
    h(
      'figcaption',
      {},
      h('strong', {}, first.key),
      ' ',
      h('span', { class: 'muted' }, first.kind),
      ' ',
      label,
    ),
    slider,
    body,
  );
}

async function render(uid: string, value: Indexed, into: HTMLElement): Promise<void> {
  switch (value.kind) {
    case 'image':
      fill(
        into,
        h('img', {
          src: api.mediaUrl(uid, value.n),
          alt: value.image.caption ?? value.key,
          width: value.image.width,
          height: value.image.height,
          class: 'media-image',
        }),
        value.image.caption ? h('p', {}, value.image.caption) : null,
        h(
          'p',
          { class: 'muted' },
          `${value.image.width}×${value.image.height} ${value.image.format}`,
        ),
      );
      return;
    case 'table': {
      const table = await api.mediaTable(uid, value.n);
      const cell = (c: unknown): Node | string => {
        if (typeof c === 'object' && c !== null) {
          const tagged = c as { $image?: number; $number?: string };
          if (tagged.$image !== undefined)
            return h('img', {
              src: api.mediaUrl(uid, value.n, tagged.$image),
              class: 'cell-image',
              alt: '',
            });
          if (tagged.$number !== undefined) return tagged.$number;
        }
        return c === null ? '' : typeof c === 'number' ? formatNumber(c) : String(c);
      };
      fill(into, dataTable([table.columns, ...table.rows], cell));
      return;
    }
    case 'histogram': {
      fill(into);
      const edges = value.bins.map(num);
      const centers = value.counts.map((_, i) => (edges[i]! + edges[i + 1]!) / 2);
      const plot = new uPlot(
        {
          width: 360,
          height: 180,
          legend: { show: false },
          scales: { x: { time: false } },
          series: [
            {},
            {
              stroke: '#2563eb',
              fill: '#2563eb55',
              paths: uPlot.paths.bars!({ size: [1, Number.POSITIVE_INFINITY] }),
            },
          ],
          axes: [{ values: (_u, ticks) => ticks.map((t) => formatNumber(t)) }, { size: 50 }],
        },
        [centers, value.counts],
        into,
      );
      into.dataset.bins = String(value.counts.length);
      void plot;
      return;
    }
  }
}
