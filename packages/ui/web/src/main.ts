/**
 * The viewer's pages, routed by the address's hash: `#/` the runs table,
 * `#/run/<uid>` a run, `#/compare/<uid>,<uid>` runs side by side.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { compareView } from './compare-view';
import { runView } from './run-view';
import { runsView } from './runs-view';

const app = document.getElementById('app')!;
let dispose: (() => void) | undefined;

// The token came in the printed URL; the server set a cookie from it. Keep it out of the
// address bar (screenshots, bookmarks, shared links).
if (new URLSearchParams(location.search).has('token')) {
  history.replaceState(null, '', `${location.pathname}${location.hash || '#/'}`);
}

function route() {
  dispose?.();
  app.replaceChildren();
  document.title = 'trackstack';
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = hash.split('?');
  const run = /^\/run\/([^/]+)$/.exec(path);
  const compare = /^\/compare\/(.+)$/.exec(path);
  if (run) {
    dispose = runView(app, decodeURIComponent(run[1]!));
  } else if (compare) {
    dispose = compareView(app, compare[1]!.split(',').map(decodeURIComponent));
  } else {
    dispose = runsView(app, new URLSearchParams(query));
  }
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
route();
