// What `npm run bench` prints at the end: the all-in-one, the three-host stack and the package
// floor side by side. Pure: the parts measure, this only compares.

import type { TimingRecord } from '../lib/timing.ts';
import { criticalPath, formatChain, formatSlowest, isPackageInstall } from './analysis.ts';

/** Time of every task that ran (skipped ones cost nothing), summed over hosts: above the wall clock when tasks overlap. */
export const taskSumMs = (timings: readonly TimingRecord[]): number => timings.filter((r) => r.status !== 'skipped').reduce((a, r) => a + r.ms, 0);

/** One measured run: its wall clock, and (for a stack run) the sum of its task times. */
export interface Measured {
  readonly wallMs: number;
  readonly taskSumMs?: number;
  /** The whole ./stack.ts command around the run (node start, config, SSH included). */
  readonly commandMs?: number;
}

/** A stack and its no-change re-run on the same hosts, each the whole command's wall clock. */
export interface Rerun {
  readonly firstMs: number;
  readonly sameMs: number;
}

export interface BenchResults {
  /** The first fake-driver all-in-one, with its step records (the slowest steps, the critical path). */
  readonly allInOne?: Measured & { readonly timings?: readonly TimingRecord[] };
  readonly threeHost?: Measured;
  readonly floor?: Measured & { readonly packages: number };
  /** The all-in-one run again with nothing changed (the rerun part). */
  readonly rerun?: Rerun;
  /** The three-host stack run again with nothing changed (the three-host part). */
  readonly threeHostRerun?: Rerun;
}

/** Goals of issue 18, printed beside the figures. */
export const GOALS = { floorRatio: 1.2, rerunRatio: 0.05 } as const;

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const ratio = (a: Measured | undefined, b: Measured | undefined): string => (a && b && b.wallMs > 0 ? (a.wallMs / b.wallMs).toFixed(2) : '-');

function overlap(m: Measured): string {
  if (m.taskSumMs === undefined) return '';
  return `   tasks sum ${s(m.taskSumMs)}, ${(m.taskSumMs / m.wallMs).toFixed(2)}x the wall clock`;
}

/** The first all-in-one's wall clock against the floor: the whole command's where it was measured. */
export function floorRatio(r: BenchResults): number | undefined {
  const aio = r.allInOne?.commandMs ?? r.allInOne?.wallMs;
  return aio !== undefined && r.floor && r.floor.wallMs > 0 ? aio / r.floor.wallMs : undefined;
}

/** The no-change re-run's wall clock as a share of the first run's. */
export const rerunRatio = (r: Rerun | undefined): number | undefined => (r && r.firstMs > 0 ? r.sameMs / r.firstMs : undefined);

const rerunLine = (label: string, r: Rerun | undefined, goal = ''): string => {
  const q = rerunRatio(r);
  return `${label.padEnd(30)} ${q === undefined || !r ? '-' : `${q.toFixed(3)}   (${s(r.sameMs)} of the first run's ${s(r.firstMs)}, the whole command${goal})`}`;
};

/**
 * The first all-in-one against its own package step: the same transaction in the same run. The
 * floor is measured on another fresh host at another moment, and on this shared machine the same
 * install took 90 to 110 s from one run to the next; this ratio does not move with that.
 */
function ownPackagesLine(r: BenchResults): string {
  const pkgMs = (r.allInOne?.timings ?? []).filter(isPackageInstall).reduce((a, t) => a + t.ms, 0);
  const aio = r.allInOne?.commandMs ?? r.allInOne?.wallMs;
  const value = aio !== undefined && pkgMs > 0 ? `${(aio / pkgMs).toFixed(2)}   (${s(aio)} over its own package step's ${s(pkgMs)}: the same transaction in the same run)` : '-';
  return `${'ratio all-in-one / own install:'.padEnd(30)} ${value}`;
}

/** The comparison lines; a part that did not run (or failed) shows "-". */
export function formatSummary(r: BenchResults): string {
  const line = (label: string, m: Measured | undefined, note = '') => `${label.padEnd(30)} ${m ? s(m.wallMs) + overlap(m) : '-'}${note}`;
  const fr = floorRatio(r);
  const aioCommand = r.allInOne?.commandMs;
  const lines = [
    '== summary (fresh test hosts, warm package cache, VIRT_DRIVER=fake) ==',
    line('all-in-one total:', r.allInOne, r.allInOne ? '   (goal < 180 s)' : ''),
    line('three-host total:', r.threeHost),
    line('package floor:', r.floor, r.floor ? `   (apt-get update + install of the same ${r.floor.packages} packages)` : ''),
    `${'ratio three-host / all-in-one:'.padEnd(30)} ${ratio(r.threeHost, r.allInOne)}   (goal <= 1.3)`,
    `${'ratio all-in-one / floor:'.padEnd(30)} ${fr === undefined ? '-' : `${fr.toFixed(2)}   (goal <= ${GOALS.floorRatio}${aioCommand !== undefined ? `; the first all-in-one's whole command, ${s(aioCommand)}` : ''})`}`,
    ownPackagesLine(r),
    rerunLine('no-change re-run / first:', r.rerun, `; goal <= ${GOALS.rerunRatio}`),
    rerunLine('three-host re-run / first:', r.threeHostRerun),
  ];
  const timings = r.allInOne?.timings;
  if (timings?.length) lines.push('', formatSlowest(timings, 5), '', formatChain(criticalPath(timings)));
  return lines.join('\n');
}
