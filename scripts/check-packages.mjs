// Checks every publishable package as users will get it:
// - the dependency policy: flavors take @trackstack/core as a peer dependency
//   whose range includes the current core, never as a plain dependency, and
//   depend on no other flavor;
// - the packed package.json (pnpm pack, as published) holds no `workspace:` range;
// - publint and @arethetypeswrong/cli find nothing wrong with the tarball.
// Exits 1 with one line per problem.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import semver from 'semver';

const root = join(import.meta.dirname, '..');
const bin = (name) => join(root, 'node_modules/.bin', name);
const packagesDir = join(root, 'packages');
const manifests = readdirSync(packagesDir)
  .map((name) => ({
    dir: join(packagesDir, name),
    manifest: JSON.parse(readFileSync(join(packagesDir, name, 'package.json'), 'utf8')),
  }))
  .filter(({ manifest }) => manifest.private !== true);
const core = manifests.find(({ manifest }) => manifest.name === '@trackstack/core');
const flavorNames = new Set(
  manifests
    .filter(({ manifest }) => manifest.trackstack !== undefined)
    .map(({ manifest }) => manifest.name),
);
const problems = [];

for (const { manifest } of manifests) {
  if (manifest.name === '@trackstack/core') continue;
  const name = manifest.name;
  if (manifest.dependencies?.['@trackstack/core'] !== undefined) {
    problems.push(
      `${name}: @trackstack/core is a plain dependency; make it a peer dependency (one registry per process)`,
    );
  }
  const peer = manifest.peerDependencies?.['@trackstack/core'];
  if (peer === undefined) problems.push(`${name}: no peer dependency on @trackstack/core`);
  else if (!semver.satisfies(core.manifest.version, peer)) {
    problems.push(
      `${name}: peer range ${peer} for @trackstack/core does not include core ${core.manifest.version}`,
    );
  }
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const dep of Object.keys(manifest[field] ?? {})) {
      if (dep !== name && flavorNames.has(dep))
        problems.push(`${name}: depends on another flavor, ${dep} (${field})`);
    }
  }
}

const out = mkdtempSync(join(tmpdir(), 'trackstack-pack-'));
try {
  for (const { dir, manifest } of manifests) {
    execFileSync(bin('pnpm'), ['pack', '--pack-destination', out], { cwd: dir, stdio: 'pipe' });
    const tarball = join(
      out,
      `${manifest.name.replace('@', '').replace('/', '-')}-${manifest.version}.tgz`,
    );
    const packed = execFileSync('tar', ['-xOzf', tarball, 'package/package.json'], {
      encoding: 'utf8',
    });
    if (packed.includes('workspace:'))
      problems.push(`${manifest.name}: the packed package.json still has a workspace: range`);
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    const leaked = files.filter((file) => /\.test\.|__fixtures__|\.int\.test/.test(file));
    if (leaked.length > 0)
      problems.push(
        `${manifest.name}: tests or fixtures in the tarball: ${leaked.slice(0, 3).join(', ')}`,
      );
    for (const [tool, args] of [
      ['publint', [tarball, '--strict']],
      ['attw', [tarball, '--profile', 'esm-only', '--format', 'ascii']],
    ]) {
      try {
        execFileSync(bin(tool), args, { cwd: dir, stdio: 'pipe', encoding: 'utf8' });
      } catch (error) {
        problems.push(
          `${manifest.name}: ${tool} found problems:\n${String(error.stdout ?? '')}${String(error.stderr ?? '')}`.trim(),
        );
      }
    }
    console.log(
      `checked ${manifest.name}@${manifest.version} (${files.filter(Boolean).length} files)`,
    );
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

if (problems.length > 0) {
  for (const problem of problems) console.error(`package check: ${problem}`);
  process.exit(1);
}
console.log(`package check: ${manifests.length} packages publishable as they are`);
