/** The charts' settings bar (smoothing, log y, x axis), kept across pages and reloads. */
import { h } from './dom';
import type { ChartSettings, XMode } from './metric-chart';

const KEY = 'trackstack.ui.chart';

export function loadSettings(): ChartSettings {
  const saved = JSON.parse(localStorage.getItem(KEY) ?? '{}') as Partial<ChartSettings>;
  return {
    smoothing: typeof saved.smoothing === 'number' ? saved.smoothing : 0,
    logY: saved.logY === true,
    x: saved.x === 'wall' || saved.x === 'relative' ? saved.x : 'step',
  };
}

export function settingsBar(
  settings: ChartSettings,
  onChange: (next: ChartSettings) => void,
): HTMLElement {
  const current = { ...settings };
  const changed = () => {
    localStorage.setItem(KEY, JSON.stringify(current));
    onChange({ ...current });
  };
  const slider = h('input', {
    type: 'range',
    min: 0,
    max: 0.99,
    step: 0.01,
    value: current.smoothing,
    id: 'smoothing',
  });
  const shown = h('output', {}, current.smoothing.toFixed(2));
  slider.addEventListener('input', () => {
    current.smoothing = Number(slider.value);
    shown.textContent = current.smoothing.toFixed(2);
    changed();
  });
  const log = h('input', { type: 'checkbox', checked: current.logY, id: 'log-y' });
  log.addEventListener('change', () => {
    current.logY = log.checked;
    changed();
  });
  const x = h(
    'select',
    { id: 'x-axis' },
    (
      [
        ['step', 'step'],
        ['wall', 'wall time'],
        ['relative', 'relative time'],
      ] as [XMode, string][]
    ).map(([value, label]) => h('option', { value, selected: value === current.x }, label)),
  );
  x.addEventListener('change', () => {
    current.x = x.value as XMode;
    changed();
  });
  return h(
    'div',
    { class: 'toolbar chart-settings' },
    h('label', {}, 'smoothing ', slider, ' ', shown),
    h('label', {}, log, ' log y'),
    h('label', {}, 'x ', x),
    h('span', { class: 'muted' }, 'drag to zoom, double-click to zoom out'),
  );
}
