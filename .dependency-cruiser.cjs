/**
 * The layers of DESIGN.md ("Layers"), checked in CI (`npm run lint:deps`):
 * no import cycle in any package, and inside @trackstack/core each folder
 * imports only the layers below it:
 *
 *   tracker/                    what user code holds (getTracker, Tracker, Run, ...)
 *   registry/, local/, store/   flavors on disk, the local flavor, the store
 *   engine/                     journal, batcher, sender, cursors, sync
 *   contract/                   the backend interface, flavors, types, errors: imports nothing
 *
 * `flavor/` (the helpers of @trackstack/core/flavor) sits on the contract alone;
 * `testing/` may use everything. Tests are held to the cycle rule only.
 */
const core = 'packages/core/src';
const notTest = '\\.test\\.ts$|__fixtures__';

/** A rule: files of `from` (not tests) may import nothing of core outside `allowed`. */
function layer(name, from, allowed) {
  return {
    name,
    severity: 'error',
    comment: `${from} imports only ${allowed.join(', ')} (DESIGN.md, "Layers")`,
    from: { path: `^${core}/${from}/`, pathNot: notTest },
    to: {
      path: `^${core}/`,
      pathNot: [`^${core}/(${allowed.join('|')})/`, `^${core}/(version|globals\\.d)\\.ts$`],
    },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'An import cycle hides which layer a file belongs to.',
      from: {},
      to: { circular: true },
    },
    layer('contract-imports-nothing', 'contract', ['contract']),
    layer('flavor-helpers-on-the-contract', 'flavor', ['flavor', 'contract']),
    layer('engine-on-the-contract', 'engine', ['engine', 'contract']),
    layer('store-below-local', 'store', ['store', 'engine', 'contract']),
    layer('local-below-registry', 'local', ['local', 'store', 'engine', 'contract']),
    layer('registry-below-tracker', 'registry', [
      'registry',
      'local',
      'store',
      'engine',
      'contract',
    ]),
    layer('tracker-above-all-but-testing', 'tracker', [
      'tracker',
      'registry',
      'local',
      'store',
      'engine',
      'contract',
    ]),
    {
      name: 'flavors-use-core-published-api',
      severity: 'error',
      comment: 'Flavors, the CLI and tools import core by its package name, never its files.',
      from: { path: '^(packages/(?!core/)|tools/|examples/|bench/)' },
      to: { path: '^packages/core/src/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules|\\.turbo)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.d.ts'],
    },
  },
};
