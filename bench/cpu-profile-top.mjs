/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`): self time by function and
 * by file (packages collapsed to their name), to find hot spots.
 *
 * Usage: node cpu-profile-top.mjs <file.cpuprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';
import { options } from './lib.mjs';

const file = process.argv[2];
if (file === undefined || file.startsWith('--')) {
  process.stderr.write('usage: node cpu-profile-top.mjs <file.cpuprofile> [--top 25]\n');
  process.exit(2);
}
const { top } = options({ top: 25 }, process.argv.slice(3));
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);

function where(url) {
  if (!url) return '(native / vm)';
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pnpm) return pnpm[1];
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  return url.replace(/^file:\/\//, '').replace(/^.*\/work\/main\//, '');
}

const fns = new Map();
const files = new Map();
for (const [id, us] of self) {
  const { callFrame } = byId.get(id);
  const fn = `${callFrame.functionName || '(anonymous)'} ${where(callFrame.url)}:${callFrame.lineNumber + 1}`;
  fns.set(fn, (fns.get(fn) ?? 0) + us);
  const f = where(callFrame.url);
  files.set(f, (files.get(f) ?? 0) + us);
}
const print = (title, map) => {
  process.stdout.write(`\n${title} (total ${(total / 1000).toFixed(1)} ms sampled)\n`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(
      `${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}\n`,
    );
  }
};
print('self time by function', fns);
print('self time by file / package', files);
