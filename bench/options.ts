// The bench's command line: which parts run and on which Debian release's test hosts.
//   npm run bench [-- --only <part>[,<part>...]] [--suite bookworm|trixie]
import { parseArgs } from 'node:util';
import { SUITES, type Suite } from '../test/hosts/index.ts';

/**
 * The parts in the order `npm run bench` runs them; libvirt prints itself beside allinone, and the
 * summary compares allinone, three-host and floor. The floor comes right after the all-in-one it
 * is compared with: the same package transaction swung 72-107 s between parts of one bench (after
 * the three-host stack's teardown it met a busy disk), so the two are measured side by side.
 */
export const BENCH_PARTS = ['allinone', 'floor', 'three-host', 'libvirt', 'rerun', 'fanout'] as const;
/** Asked for by name only (--only fanout): six hosts stacked three times is a long run. */
export const ON_REQUEST: readonly BenchPart[] = ['fanout'];
export type BenchPart = (typeof BENCH_PARTS)[number];

export interface BenchOptions {
  readonly parts: readonly BenchPart[];
  readonly suite: Suite;
}

/** Debian release of each suite, for the line that says what ran. */
export const SUITE_TITLE: Readonly<Record<Suite, string>> = {
  bookworm: 'Debian 12 (bookworm)',
  trixie: 'Debian 13 (trixie)',
};

const USAGE = `usage: npm run bench [-- --only <part>[,<part>...]] [--suite ${SUITES.join('|')}]   parts: ${BENCH_PARTS.join(', ')}`;

/** Throws an Error whose message is the problem and the usage line. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let values: { only?: string[]; suite?: string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: { only: { type: 'string', multiple: true }, suite: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  const suite = values.suite ?? 'bookworm';
  if (!(SUITES as readonly string[]).includes(suite)) throw new Error(`--suite ${suite}: the test hosts are built for ${SUITES.join(' or ')}.\n${USAGE}`);
  const asked = (values.only ?? []).flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean);
  const unknown = asked.filter((p) => !(BENCH_PARTS as readonly string[]).includes(p));
  if (unknown.length) throw new Error(`--only ${unknown.join(',')}: no such bench part.\n${USAGE}`);
  const parts = asked.length ? BENCH_PARTS.filter((p) => asked.includes(p)) : BENCH_PARTS.filter((p) => !ON_REQUEST.includes(p));
  return { parts, suite: suite as Suite };
}

/** The release a stack run's summary names ("OpenStack 2025.1 (epoxy)"), from its output. */
export function releaseRan(stackOutput: string): string {
  return /(OpenStack [^\n]*?) is up on /.exec(stackOutput)?.[1] ?? 'OpenStack (release not in the output)';
}
