// Audits the production dependencies of the published packages against the
// registry's security advisories and prints each finding with its advisory. Usage:
//   node scripts/audit.mjs [--level low|moderate|high|critical] [--registry <url>]
// It runs `pnpm audit --prod --json` (pnpm 12 posts the lockfile's versions to the
// registry's bulk advisory endpoint, /-/npm/v1/security/advisories/bulk; `npm audit`
// posts to the same endpoint, so it is no fallback).
// Exit codes: 0 no finding at or above the level, 1 findings, 2 not audited (the
// registry refused or failed the audit request; the output says why).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const levels = ['info', 'low', 'moderate', 'high', 'critical'];
const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const level = option('--level') ?? 'low';
const registryOption = option('--registry');
if (!levels.includes(level)) {
  console.error(`--level must be one of ${levels.join(', ')}`);
  process.exit(2);
}
const root = join(import.meta.dirname, '..');
const pnpm = join(root, 'node_modules/.bin/pnpm');

function run(command, argv, cwd) {
  const result = spawnSync(command, argv, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return result;
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Why an audit produced no report: the last meaningful line of its output. */
function reason(result) {
  const text = `${result.stdout}\n${result.stderr}`;
  const json = parseJson(result.stdout);
  if (json?.error)
    return `${json.error.code ?? ''} ${json.error.summary ?? json.error.message ?? ''}`;
  // pnpm's message is wrapped in a box: join its lines again before reading the endpoint.
  const joined = text.replace(/\s*\n[\s│|]*/g, '');
  const refused = /audit endpoint \(at (\S+)\) responded with (\d{3})/i.exec(joined);
  if (refused) return `${refused[1]} answered HTTP ${refused[2]}`;
  const line = text
    .split('\n')
    .map((l) => l.replace(/^[\s×│|>-]+/, '').trim())
    .filter((l) => /\d{3}|endpoint|ERR_|error/i.test(l))
    .join(' ');
  return line || `exit ${result.status}`;
}

/** Findings from pnpm's report (npm audit v1 format: advisories keyed by id). */
function fromPnpm(report) {
  return Object.values(report.advisories ?? {}).map((a) => ({
    name: a.module_name,
    severity: a.severity,
    title: a.title,
    url: a.url,
    range: a.vulnerable_versions,
    fixed: a.patched_versions,
    installed: [...new Set((a.findings ?? []).map((f) => f.version))].join(', '),
    via: [...new Set((a.findings ?? []).flatMap((f) => f.paths ?? []))].slice(0, 3).join('; '),
  }));
}

/** The published packages' production dependencies, at the versions the lockfile pins. */
function productionDependencies() {
  const list = parseJson(
    run(pnpm, ['list', '--prod', '--depth', '0', '--json', '--filter', './packages/*'], root)
      .stdout,
  );
  const dependencies = {};
  for (const pkg of list ?? []) {
    // `pnpm list --prod` shows installed peers too (core's optional vitest): keep `dependencies`.
    const manifest = JSON.parse(readFileSync(join(pkg.path, 'package.json'), 'utf8'));
    for (const [name, dep] of Object.entries(pkg.dependencies ?? {})) {
      if (!manifest.dependencies?.[name] || dep.version.startsWith('link:')) continue;
      dependencies[name] = dep.version;
    }
  }
  return dependencies;
}

function pnpmAudit() {
  const result = run(
    pnpm,
    ['audit', '--prod', '--json', ...(registryOption ? [`--registry=${registryOption}`] : [])],
    root,
  );
  const report = parseJson(result.stdout);
  if (report?.advisories) return { source: 'pnpm audit --prod', findings: fromPnpm(report) };
  return { source: 'pnpm audit --prod', failure: reason(result) };
}

const registry = registryOption ?? run(pnpm, ['config', 'get', 'registry'], root).stdout.trim();
const dependencies = productionDependencies();
console.log(
  `== production dependencies of ${readdirSync(join(root, 'packages')).length} packages: ${Object.entries(
    dependencies,
  )
    .map(([n, v]) => `${n}@${v}`)
    .join(', ')}`,
);
const audit = pnpmAudit();
if (audit.failure) {
  console.log(`== ${audit.source}: no report (${audit.failure})`);
  console.log(
    `== NOT AUDITED: the advisory endpoint of ${registry} did not answer. A registry or mirror ` +
      'that only serves packages (GET) answers 405 to the audit POST; run this where the public ' +
      'registry is reachable.',
  );
  process.exit(2);
}
const shown = audit.findings.filter((f) => levels.indexOf(f.severity) >= levels.indexOf(level));
console.log(
  `== ${audit.source}: ${audit.findings.length} advisories, ${shown.length} at ${level} or above`,
);
for (const f of shown) {
  console.log(
    `${f.severity.padEnd(8)} ${f.name} ${f.installed} (affected ${f.range}${f.fixed ? `, fixed ${f.fixed}` : ''}): ${f.title}\n         ${f.url}\n         via ${f.via}`,
  );
}
process.exit(shown.length > 0 ? 1 : 0);
