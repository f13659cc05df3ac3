// Prints the seconds of each test file from vitest's own per-file lines in the test output
// ("✓ test/e2e/x.test.ts (32 tests) 1034934ms"): every end-to-end file on its own line, the
// other files as one sum. These include a file's hooks (test hosts started, package layers made),
// which vitest's JSON report leaves out of a file's start and end.
import { readFileSync } from 'node:fs';

export interface FileTime {
  readonly file: string;
  readonly seconds: number;
  readonly failed: boolean;
}

/** The per-file summary lines of vitest's default reporter, colours and all. */
export function fileTimes(output: string): FileTime[] {
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const out: FileTime[] = [];
  for (const m of plain.matchAll(/^ ([✓×❯]) (test\/\S+\.test\.ts) \((\d+) tests?[^)]*\) (\d+)ms$/gm)) {
    out.push({ file: m[2]!, seconds: Number(m[4]) / 1000, failed: m[1] !== '✓' || /failed/.test(m[0]) });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] ?? '.ci/test-output.log';
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    console.log(`  (no per-file times: ${file} unreadable: ${(e as Error).message})`);
    process.exit(0);
  }
  const times = fileTimes(text);
  const e2e = times.filter((t) => t.file.startsWith('test/e2e/') && t.seconds > 60).sort((a, b) => b.seconds - a.seconds);
  const rest = times.filter((t) => !e2e.includes(t));
  for (const t of e2e) console.log(`  ${t.file.padEnd(40)} ${t.seconds.toFixed(0).padStart(6)} s  ${t.failed ? 'failed' : 'passed'}`);
  console.log(`  ${`${rest.length} other files (summed)`.padEnd(40)} ${rest.reduce((s, t) => s + t.seconds, 0).toFixed(0).padStart(6)} s`);
}
