// Where the time went: one record per leaf task, summed per phase and per service for the
// summary table and the benchmark.

import { PHASES } from './plugin.ts';

export type TimingStatus = 'done' | 'skipped' | 'failed';

export interface TimingRecord {
  readonly id: string;
  readonly host?: string;
  readonly service?: string;
  readonly phase?: string;
  readonly ms: number;
  readonly status: TimingStatus;
  /** When it started (after waiting for its edges) and ended, in ms from the run's start: the bench's critical path. */
  readonly startMs?: number;
  readonly endMs?: number;
  /** The leaf ids it waited for (its edges, its group's, earlier siblings in a sequential group). */
  readonly after?: readonly string[];
}

const OTHER = 'other';

/** Known phases in lifecycle order, then any others in the order first seen. */
const phaseOrder = (records: readonly TimingRecord[]): string[] => {
  const seen = [...new Set(records.map((r) => r.phase ?? OTHER))];
  const known = (PHASES as readonly string[]).filter((p) => seen.includes(p));
  return [...known, ...seen.filter((p) => !known.includes(p))];
};

/**
 * Milliseconds per phase, summed over hosts and services (so with parallel hosts the sum can
 * exceed the wall clock). Keys in lifecycle order.
 */
export function phaseTotals(records: readonly TimingRecord[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const p of phaseOrder(records)) totals[p] = 0;
  for (const r of records) totals[r.phase ?? OTHER]! += r.ms;
  return totals;
}

const secs = (ms: number): string => (ms / 1000).toFixed(1);

/**
 * Rows: one per service (per host/service when several hosts ran), then the phase totals.
 * Columns: the phases that ran, then the row total. Times in seconds; "-" where nothing ran,
 * "skip" where every task in the cell was skipped, a trailing "!" where one failed.
 */
export function formatTimingTable(records: readonly TimingRecord[], totalMs: number): string {
  if (records.length === 0) return `Total: ${secs(totalMs)} s (no steps ran)`;
  const phases = phaseOrder(records);
  const manyHosts = new Set(records.map((r) => r.host ?? '')).size > 1;
  const rowKey = (r: TimingRecord): string => {
    const svc = r.service ?? OTHER;
    return manyHosts ? `${r.host ?? '-'}/${svc}` : svc;
  };
  const rowKeys = [...new Set(records.map(rowKey))];

  const cell = (rs: readonly TimingRecord[]): string => {
    if (rs.length === 0) return '-';
    if (rs.every((r) => r.status === 'skipped')) return 'skip';
    const ms = rs.reduce((a, r) => a + r.ms, 0);
    return secs(ms) + (rs.some((r) => r.status === 'failed') ? '!' : '');
  };

  const header = [manyHosts ? 'host/service' : 'service', ...phases, 'total'];
  const body = rowKeys.map((k) => {
    const mine = records.filter((r) => rowKey(r) === k);
    return [k, ...phases.map((p) => cell(mine.filter((r) => (r.phase ?? OTHER) === p))), cell(mine)];
  });
  const totals = phaseTotals(records);
  const sum = records.reduce((a, r) => a + r.ms, 0);
  const footer = ['all (sum)', ...phases.map((p) => secs(totals[p] ?? 0)), secs(sum)];

  const rows = [header, ...body, footer];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [
    line(header),
    rule,
    ...body.map(line),
    rule,
    line(footer),
    '',
    `Wall clock: ${secs(totalMs)} s (times in seconds; "!" marks a failed step)`,
  ].join('\n');
}
