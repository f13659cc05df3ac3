// npm run bench -- --only fanout: a controller with 1, 3 and 5 computes (fake driver, so six hosts
// fit 2 cores; tunnels on eth1), each layout stacked by one ./stack.ts run on hosts started from the
// package layers, so the figures are the stack's own work, not apt's. Prints each run's wall clock
// and every host's task sum, and what one more compute costs.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestHosts, type Suite } from '../test/hosts/index.ts';
import { ALLINONE_FAKE, COMPUTE_FAKE } from '../test/e2e/layers.ts';
import type { TimingRecord } from '../lib/timing.ts';
import { benchLocalrc, benchWork, timedStack } from './stack-run.ts';

export const FANOUT_COMPUTES = [1, 3, 5] as const;

export interface FanoutRow {
  readonly computes: number;
  readonly wallMs: number;
  /** Task time summed per host name. */
  readonly perHostMs: ReadonlyMap<string, number>;
}

/** Pure: task time per host of one run's records. */
export function perHostSums(timings: readonly TimingRecord[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of timings) if (t.host) out.set(t.host, (out.get(t.host) ?? 0) + t.ms);
  return out;
}

// The controller first, then compute1, compute2, ... (the records come in the order tasks ended).
const byHostName = (a: string, b: string): number =>
  Number(b === 'controller') - Number(a === 'controller') || a.localeCompare(b, 'en', { numeric: true });

/** Pure: the table, and the cost of one more compute from the first and last rows. */
export function formatFanout(rows: readonly FanoutRow[]): string {
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const lines = ['computes  wall clock  per-host task sums (s)'];
  for (const r of rows) {
    const hosts = [...r.perHostMs.entries()].sort(([a], [b]) => byHostName(a, b)).map(([h, ms]) => `${h} ${s(ms)}`).join(', ');
    lines.push(`${String(r.computes).padEnd(10)}${`${s(r.wallMs)} s`.padEnd(12)}${hosts}`);
  }
  const [first, last] = [rows[0], rows[rows.length - 1]];
  if (first && last && last.computes > first.computes) {
    lines.push(`one more compute costs ${s((last.wallMs - first.wallMs) / (last.computes - first.computes))} s of wall clock (from ${first.computes} to ${last.computes} computes)`);
  }
  return lines.join('\n');
}

export async function benchFanout(suite: Suite): Promise<FanoutRow[]> {
  const rows: FanoutRow[] = [];
  for (const computes of FANOUT_COMPUTES) {
    const count = (computes + 1) as 2 | 4 | 6;
    const hosts = await startTestHosts({
      count,
      prefix: 'stbf',
      suite,
      tunnelNetwork: true,
      layers: [ALLINONE_FAKE, ...Array.from({ length: computes }, () => COMPUTE_FAKE)],
      log: (l) => console.error(`[hosts] ${l}`),
    });
    const work = await benchWork(`fanout-${computes}`);
    try {
      const names = hosts.hosts.map((_, i) => (i === 0 ? 'controller' : `compute${i}`));
      writeFileSync(
        join(work.dir, 'hosts.yaml'),
        `hosts:\n${hosts.hosts.map((h, i) => `  - { name: ${names[i]}, address: ${h.target}, roles: [${i === 0 ? 'controller, database, messaging' : 'compute'}] }\n`).join('')}`,
      );
      const r = await timedStack(work, benchLocalrc(hosts, work, 'HOSTS_FILE=hosts.yaml', ['TUNNEL_INTERFACE=eth1']));
      if (!r.ok) {
        console.log(r.tail);
        console.log(`bench: the fan-out stack with ${computes} computes failed (exit ${r.exitCode}).`);
        process.exitCode = 1;
        break;
      }
      rows.push({ computes, wallMs: r.totalMs, perHostMs: perHostSums(r.timings) });
      console.log(`fan-out: ${computes} compute(s): ${(r.totalMs / 1000).toFixed(1)} s`);
    } finally {
      await hosts.stop();
      work.remove();
    }
  }
  console.log(formatFanout(rows));
  return rows;
}
