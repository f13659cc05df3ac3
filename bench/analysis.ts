// What the bench reads out of a stack run's timing records (lib/timing.ts, written by --timings):
// the slowest steps, and the longest chain of steps after the package install (the critical path:
// what to shorten to make the whole run shorter). Pure: made-up records test it.

import type { TimingRecord } from '../lib/timing.ts';

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** "h1 keystone/init" (and the task id where it says more, e.g. the two links/verify steps). */
export function stepLabel(r: TimingRecord): string {
  const plain = `${r.host ?? '-'} ${r.service ?? 'other'}/${r.phase ?? '?'}`;
  return r.host && r.service && r.phase && r.id === `${r.host}/${r.service}/${r.phase}` ? plain : `${plain} [${r.id}]`;
}

/** The n longest steps that ran (skipped ones cost nothing), longest first. */
export function slowestSteps(records: readonly TimingRecord[], n = 5): TimingRecord[] {
  return records
    .filter((r) => r.status !== 'skipped')
    .slice()
    .sort((a, b) => b.ms - a.ms)
    .slice(0, n);
}

/** `run` names the run the records are of, in the heading. */
export function formatSlowest(records: readonly TimingRecord[], n = 5, run = 'first all-in-one'): string {
  const top = slowestSteps(records, n);
  if (!top.length) return `the ${n} slowest steps left: - (no step records)`;
  const w = Math.max(...top.map((r) => stepLabel(r).length));
  return [`the ${n} slowest steps left (${run}):`, ...top.map((r, i) => `  ${i + 1}. ${stepLabel(r).padEnd(w)}  ${secs(r.ms).padStart(8)}`)].join('\n');
}

/** One step of the chain, and how long after its predecessor ended it started (the runner's own delay). */
export interface ChainLink {
  readonly record: TimingRecord;
  readonly gapMs: number;
}

export interface Chain {
  /** The package install the chain starts after (undefined: it reached the run's first step without one). */
  readonly anchor?: TimingRecord;
  /** From the first step after the anchor to the last step of the run. */
  readonly links: readonly ChainLink[];
  /** From the anchor's end (or the first link's start) to the last link's end. */
  readonly totalMs: number;
  /** Whether the links came from the recorded edges (else: the step that ended latest before each one started). */
  readonly fromEdges: boolean;
}

type Timed = TimingRecord & { readonly startMs: number; readonly endMs: number };
const timed = (r: TimingRecord): r is Timed => r.startMs !== undefined && r.endMs !== undefined;

/** The package transaction of a host ("h1/packages/install"): where the chain starts. */
export const isPackageInstall = (r: TimingRecord): boolean => r.service === 'packages' && r.phase === 'install';

/** Of the candidates, the one that ended last (on a tie, the one that took longer). */
function latest(candidates: readonly Timed[]): Timed | undefined {
  let best: Timed | undefined;
  for (const c of candidates) if (!best || c.endMs > best.endMs || (c.endMs === best.endMs && c.ms > best.ms)) best = c;
  return best;
}

/**
 * The critical path: from the step that ended last, back through the step that held each one up,
 * to the package install (or the run's first step). What held a step up is, of the steps it
 * waited for (its recorded `after`), the one that ended last; where no edges were recorded, the
 * step that ended latest before it started.
 */
export function criticalPath(records: readonly TimingRecord[]): Chain {
  const all = records.filter(timed);
  const byId = new Map(all.map((r) => [r.id, r]));
  const fromEdges = all.some((r) => r.after !== undefined);
  const predecessor = (r: Timed): Timed | undefined =>
    fromEdges
      ? latest((r.after ?? []).flatMap((id) => byId.get(id) ?? []))
      : latest(all.filter((x) => x !== r && x.endMs <= r.startMs));
  let cur = latest(all);
  const back: Timed[] = [];
  const seen = new Set<string>();
  let anchor: Timed | undefined;
  while (cur && !seen.has(cur.id)) {
    if (isPackageInstall(cur)) {
      anchor = cur;
      break;
    }
    seen.add(cur.id);
    back.push(cur);
    cur = predecessor(cur);
  }
  const chain = back.reverse();
  const links = chain.map((r, i) => {
    const before = i === 0 ? anchor : chain[i - 1];
    return { record: r, gapMs: before ? Math.max(0, r.startMs - before.endMs) : 0 };
  });
  const last = chain[chain.length - 1];
  const from = anchor?.endMs ?? chain[0]?.startMs ?? 0;
  return { ...(anchor ? { anchor } : {}), links, totalMs: last ? last.endMs - from : 0, fromEdges };
}

export function formatChain(c: Chain, run = 'first all-in-one'): string {
  if (!c.links.length) return 'longest chain after the package install: - (the records have no start and end times)';
  const w = Math.max(...c.links.map((l) => stepLabel(l.record).length));
  const head = `longest chain after the package install (${run}), ${secs(c.totalMs)}${c.anchor ? ` from the end of ${stepLabel(c.anchor)}` : ' from the first step'} to the end of the last step (${c.fromEdges ? 'by the task graph\'s edges' : 'each link: the step that ended latest before the next started'}):`;
  const rows = c.links.map((l) => `  ${stepLabel(l.record).padEnd(w)}  ${secs(l.record.ms).padStart(8)}${l.gapMs >= 50 ? `   (started ${secs(l.gapMs)} after the link before ended)` : ''}${l.record.status === 'skipped' ? '   (skipped)' : ''}`);
  const steps = c.links.reduce((a, l) => a + l.record.ms, 0);
  return [head, ...rows, `  ${'steps'.padEnd(w)}  ${secs(steps).padStart(8)}   (the rest, ${secs(Math.max(0, c.totalMs - steps))}, between steps)`].join('\n');
}
