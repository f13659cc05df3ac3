// npm run bench, its three-host part: a controller (with the database and RabbitMQ) and two compute
// hosts, fresh test hosts, stacked by one ./stack.ts run. Its total against the all-in-one's says
// what the second and third host cost (goal: at most 1.3 times); its task sum against its wall
// clock says how much the hosts' tasks overlap. Then the same stack again with nothing changed: the
// three-host no-change re-run against the first run (issue 18).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestHosts, type Suite } from '../test/hosts/index.ts';
import { formatTimingTable } from '../lib/timing.ts';
import { criticalPath, formatChain } from './analysis.ts';
import { benchLocalrc, benchWork, timedStack } from './stack-run.ts';
import { rerunRatio, taskSumMs, type Measured, type Rerun } from './summary.ts';

const ROLES = ['controller, database, messaging', 'compute', 'compute'] as const;

/**
 * Stacks the three hosts and prints the run's table, then runs the same stack again with nothing
 * changed; undefined when the first stack failed, no rerun when the second did.
 */
export async function benchThreeHost(suite: Suite): Promise<{ first: Measured; rerun?: Rerun } | undefined> {
  // eth1 for the Geneve tunnels: without the openvswitch module OVS tunnels only through a NIC of its own.
  const hosts = await startTestHosts({ count: 3, prefix: 'stbm', suite, tunnelNetwork: true, log: (l) => console.error(`[hosts] ${l}`) });
  const work = await benchWork('three-host');
  try {
    writeFileSync(join(work.dir, 'hosts.yaml'), `hosts:\n${hosts.hosts.map((h, i) => `  - { name: ${h.name}, address: ${h.target}, roles: [${ROLES[i]}] }\n`).join('')}`);
    const localrc = benchLocalrc(hosts, work, 'HOSTS_FILE=hosts.yaml', ['TUNNEL_INTERFACE=eth1']);
    const r = await timedStack(work, localrc);
    if (!r.ok) {
      console.log(r.tail);
      console.log(`bench: the three-host stack failed (exit ${r.exitCode}); no three-host figures.`);
      process.exitCode = 1;
      return undefined;
    }
    console.log('== three hosts: controller + two computes ==');
    console.log(formatTimingTable(r.timings, r.totalMs));
    console.log(`wall clock (incl. node start, config, SSH):   ${(r.wallMs / 1000).toFixed(1)} s`);
    const first: Measured = { wallMs: r.totalMs, taskSumMs: taskSumMs(r.timings), commandMs: r.wallMs };
    // The same stack again, nothing changed: what a re-run of three hosts costs.
    const same = await timedStack(work, localrc);
    if (!same.ok) {
      console.log(same.tail);
      console.log(`bench: the three-host no-change re-run failed (exit ${same.exitCode}); no re-run ratio.`);
      process.exitCode = 1;
      return { first };
    }
    const rerun: Rerun = { firstMs: r.wallMs, sameMs: same.wallMs };
    console.log(`no-change re-run:                            ${(same.wallMs / 1000).toFixed(1)} s wall, ${(same.totalMs / 1000).toFixed(1)} s run: ${(rerunRatio(rerun) ?? NaN).toFixed(3)} of the first's wall clock`);
    // Where a re-run's seconds go (which host's verify, which wait): its own chain.
    console.log(`\n${formatChain(criticalPath(same.timings), 'three-host no-change re-run')}`);
    return { first, rerun };
  } finally {
    await hosts.stop();
    work.remove();
  }
}
