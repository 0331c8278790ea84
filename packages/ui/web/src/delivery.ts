/** A run's delivery to each destination: pending records, done, and a link to the backend's page. */
import type { Run } from './api';
import { h } from './dom';

export function deliveryCell(run: Run): Node {
  const deliveries = run.deliveries ?? [];
  if (deliveries.length === 0) return h('span', { class: 'muted' }, 'local');
  return h(
    'span',
    { class: 'deliveries' },
    deliveries.map((d) =>
      h(
        'span',
        {
          class: `delivery ${d.pending > 0 ? 'delivery-pending' : 'delivery-done'}`,
          title: d.runId ? `run ${d.runId}` : undefined,
        },
        d.url
          ? h('a', { href: d.url, target: '_blank', rel: 'noopener noreferrer' }, d.destination)
          : d.destination,
        d.pending > 0 ? ` ${d.pending} pending` : d.finished ? ' ✓' : ' ·',
      ),
    ),
  );
}
