// Sums the JSON reports vitest wrote under CI into one closing line, and fails
// when a package ran no test at all.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
let passed = 0;
let failed = 0;
let skipped = 0;
const empty = [];
for (const group of ['packages', 'examples', 'tools']) {
  for (const name of readdirSync(join(root, group))) {
    let report;
    try {
      report = JSON.parse(readFileSync(join(root, group, name, '.test-results.json'), 'utf8'));
    } catch {
      empty.push(`${group}/${name}`);
      continue;
    }
    passed += report.numPassedTests;
    failed += report.numFailedTests;
    skipped += report.numPendingTests + report.numTodoTests;
  }
}
if (empty.length > 0) console.error(`no test report from: ${empty.join(', ')}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || empty.length > 0 || passed === 0 ? 1 : 0);
