// What `npm run bench` prints at the end: the all-in-one, the three-host stack and the package
// floor side by side. Pure: the parts measure, this only compares.

import type { TimingRecord } from '../lib/timing.ts';

/** Time of every task that ran (skipped ones cost nothing), summed over hosts: above the wall clock when tasks overlap. */
export const taskSumMs = (timings: readonly TimingRecord[]): number => timings.filter((r) => r.status !== 'skipped').reduce((a, r) => a + r.ms, 0);

/** One measured run: its wall clock, and (for a stack run) the sum of its task times. */
export interface Measured {
  readonly wallMs: number;
  readonly taskSumMs?: number;
}

export interface BenchResults {
  readonly allInOne?: Measured;
  readonly threeHost?: Measured;
  readonly floor?: Measured & { readonly packages: number };
}

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const ratio = (a: Measured | undefined, b: Measured | undefined): string => (a && b && b.wallMs > 0 ? (a.wallMs / b.wallMs).toFixed(2) : '-');

function overlap(m: Measured): string {
  if (m.taskSumMs === undefined) return '';
  return `   tasks sum ${s(m.taskSumMs)}, ${(m.taskSumMs / m.wallMs).toFixed(2)}x the wall clock`;
}

/** The comparison lines; a part that did not run (or failed) shows "-". */
export function formatSummary(r: BenchResults): string {
  const line = (label: string, m: Measured | undefined, note = '') => `${label.padEnd(30)} ${m ? s(m.wallMs) + overlap(m) : '-'}${note}`;
  return [
    '== summary (fresh test hosts, warm package cache, VIRT_DRIVER=fake) ==',
    line('all-in-one total:', r.allInOne, r.allInOne ? '   (goal < 180 s)' : ''),
    line('three-host total:', r.threeHost),
    line('package floor:', r.floor, r.floor ? `   (apt-get update + install of the same ${r.floor.packages} packages)` : ''),
    `${'ratio three-host / all-in-one:'.padEnd(30)} ${ratio(r.threeHost, r.allInOne)}   (goal <= 1.3)`,
    `${'ratio all-in-one / floor:'.padEnd(30)} ${ratio(r.allInOne, r.floor)}`,
  ].join('\n');
}
