// npm run bench (first part): the all-in-one on a fresh isolated test host (warm apt proxy cache after the
// first run), timed per phase from the run's own records, against the critical path: the steps
// no installer can skip (package install, schema migrations, a service's first answer).
// Prints ratios and phase timings; it never fails on a slow machine.

import { $ } from 'zx';
import { sshArgs, startTestHosts, type Suite } from '../test/hosts/index.ts';
import { formatTimingTable, phaseTotals, type TimingRecord } from '../lib/timing.ts';
import { installedPackages, type RunFigures } from './libvirt.ts';
import { releaseRan } from './options.ts';
import { benchLocalrc, benchWork, timedStack } from './stack-run.ts';
import { taskSumMs } from './summary.ts';

$.verbose = false;

/** Commands whose time is unavoidable: the package transaction and every schema/bootstrap step. */
const CRITICAL = /apt-get .*install|dnf .*install|db_sync|db sync|api_db sync|map_cell0|create_cell|keystone-manage (bootstrap|fernet_setup|credential_setup)|db_load_metadefs/;

/** Sum of "exit N after X s" durations of the log's command records that match CRITICAL. */
function criticalCommandsMs(log: string): number {
  const lines = log.split('\n');
  let ms = 0;
  for (let i = 0; i < lines.length; i++) {
    const cmd = /\] \$ (.*)$/.exec(lines[i]!)?.[1];
    if (!cmd || !CRITICAL.test(cmd)) continue;
    for (let j = i + 1; j < Math.min(i + 4, lines.length); j++) {
      const d = /exit \d+ after ([\d.]+) s/.exec(lines[j]!);
      if (d) {
        ms += Number(d[1]) * 1000;
        break;
      }
    }
  }
  return ms;
}

/** The networking plugins' steps, as plugin/phase seconds. */
const NETWORKING = new Set(['ovn-northd', 'ovn-controller', 'ovn-metadata-agent', 'networks']);

/** "[guest-ping-s=12.3]", logged by nova-compute's verify once the test server answers at its floating IP. */
export const guestPingSeconds = (log: string): number | undefined => {
  const m = /\[guest-ping-s=([\d.]+)\]/.exec(log);
  return m ? Number(m[1]) : undefined;
};

export function formatNetworkingFigures(timings: readonly TimingRecord[], log: string): string {
  const steps = timings.filter((t) => t.service && NETWORKING.has(t.service));
  const total = steps.reduce((a, t) => a + t.ms, 0);
  const rows = steps.map((t) => `  ${`${t.service}/${t.phase ?? '?'}`.padEnd(30)}${(t.ms / 1000).toFixed(1)} s`);
  const ping = guestPingSeconds(log);
  return [
    'networking steps (OVN, the metadata agent, the initial networks):',
    ...rows,
    `  ${'sum'.padEnd(30)}${(total / 1000).toFixed(1)} s`,
    `guest from server create to answering ping at its floating IP: ${ping === undefined ? '- (not measured: no data path check ran)' : `${ping.toFixed(1)} s`}`,
  ].join('\n');
}

/** What the all-in-one part hands on: its figures for the libvirt table, and for the summary its whole command's wall clock and its step records. */
export type AllInOneFigures = RunFigures & { readonly commandMs: number; readonly timings: readonly TimingRecord[] };

/** The fake-driver all-in-one on a fresh `suite` test host; undefined if it failed. */
export async function benchAllInOne(suite: Suite): Promise<AllInOneFigures | undefined> {
  let figures: AllInOneFigures | undefined;
  const hosts = await startTestHosts({ count: 1, prefix: 'stb', suite, log: (l) => console.error(`[hosts] ${l}`) });
  const work = await benchWork('allinone');
  try {
    const h = hosts.hosts[0]!;
    const r = await timedStack(work, benchLocalrc(hosts, work, h));
    if (!r.ok) {
      console.log(r.tail);
      console.log(`bench: stack failed (exit ${r.exitCode}); no ratios.`);
      process.exitCode = 1;
    } else {
      const { timings, totalMs, wallMs, log } = r;
      const phases = phaseTotals(timings);
      const startMs = phases.start ?? 0;
      const criticalMs = criticalCommandsMs(log) + startMs;
      const rss = await $`ssh ${sshArgs(hosts, h)} ps -eo rss=,comm=`.nothrow();
      const cloudRssKb = rss.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter(([, c]) => c && /uwsgi|glance|nova|python3|mariadbd|mysqld|beam|epmd|memcached/.test(c))
        .reduce((a, [kb]) => a + Number(kb), 0);
      const packages = await installedPackages(hosts, h);
      figures = { totalMs, phases, ...(packages ? { packages } : {}), taskSumMs: taskSumMs(timings), commandMs: wallMs, timings };
      console.log(`all-in-one, fake driver, ${releaseRan(r.stdout)}:`);
      console.log(formatTimingTable(timings, totalMs));
      console.log('');
      console.log(`wall clock (incl. node start, config, SSH):   ${(wallMs / 1000).toFixed(1)} s`);
      console.log(`stack run total:                             ${(totalMs / 1000).toFixed(1)} s   (goal: < 240 s warm on 2 cores; devstack 900-1800 s)`);
      console.log(`critical path (install + migrations + starts): ${(criticalMs / 1000).toFixed(1)} s`);
      console.log(`overhead ratio total/critical:               ${(totalMs / criticalMs).toFixed(2)}`);
      console.log(`ratio to the 240 s goal:                     ${(totalMs / 240_000).toFixed(2)}`);
      console.log(`memory of the cloud's processes (RSS):       ${(cloudRssKb / 1024).toFixed(0)} MB`);
      console.log('');
      console.log(formatNetworkingFigures(timings, log));
    }
  } finally {
    await hosts.stop();
    work.remove();
  }
  return figures;
}
