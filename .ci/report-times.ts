// Prints the seconds of each test file from vitest's JSON report (written when CI is set, see
// vitest.config.ts): every end-to-end file on its own line, the other files as one sum.
import { readFileSync } from 'node:fs';

interface FileResult {
  readonly name: string;
  readonly startTime: number;
  readonly endTime: number;
  readonly status: string;
}

const file = process.argv[2] ?? '.ci/results.json';
let results: FileResult[];
try {
  results = (JSON.parse(readFileSync(file, 'utf8')) as { testResults: FileResult[] }).testResults;
} catch (e) {
  console.log(`(no per-file times: ${file} unreadable: ${(e as Error).message})`);
  process.exit(0);
}
const secs = (r: FileResult) => (r.endTime - r.startTime) / 1000;
const rel = (r: FileResult) => r.name.replace(`${process.cwd()}/`, '');
const e2e = results.filter((r) => rel(r).startsWith('test/e2e/') && secs(r) > 60).sort((a, b) => secs(b) - secs(a));
const rest = results.filter((r) => !e2e.includes(r));
for (const r of e2e) console.log(`  ${rel(r).padEnd(40)} ${secs(r).toFixed(0).padStart(6)} s  ${r.status}`);
console.log(`  ${`${rest.length} other files (summed)`.padEnd(40)} ${rest.reduce((s, r) => s + secs(r), 0).toFixed(0).padStart(6)} s`);
