// npm run bench (second part): what a re-run costs against the first run, on a fresh isolated
// test host: with nothing changed (goal <= 0.05 of the first run's wall clock, issue 18) and with one glance-api.conf
// option changed through local.conf (goal < 0.15). Prints the ratios; never fails on a slow machine.

import { startTestHosts, type Suite } from '../test/hosts/index.ts';
import { criticalPath, formatChain } from './analysis.ts';
import { benchLocalrc, benchWork, timedStack, type StackRun } from './stack-run.ts';
import { GOALS, type Rerun } from './summary.ts';

/** The first run and the no-change re-run's whole-command wall clocks, for the summary; undefined when either failed. */
export async function benchRerun(suite: Suite): Promise<Rerun | undefined> {
  const hosts = await startTestHosts({ count: 1, prefix: 'sbr', suite, log: (l) => console.error(`[hosts] ${l}`) });
  const work = await benchWork('rerun');
  try {
    const conf = `[[local|localrc]]\n${benchLocalrc(hosts, work, hosts.hosts[0]!)}`;
    const run = async (text: string): Promise<StackRun> => {
      const r = await timedStack(work, text, { configName: 'local.conf' });
      if (!r.ok) console.log(r.tail);
      return r;
    };
    const first = await run(conf);
    if (!first.ok) {
      console.log('bench rerun: the first stack failed; no ratios.');
      process.exitCode = 1;
      return undefined;
    }
    const same = await run(conf);
    const changed = await run(`${conf}\n[[post-config|$GLANCE_API_CONF]]\n[DEFAULT]\nshow_image_direct_url = True\n`);
    const ratio = (t: StackRun, of: 'wallMs' | 'totalMs') => (t.ok ? (t[of] / first[of]).toFixed(3) : 'failed');
    console.log('');
    console.log(`first run:                         ${(first.wallMs / 1000).toFixed(1)} s wall, ${(first.totalMs / 1000).toFixed(1)} s run`);
    console.log(`no-change re-run:                  ${(same.wallMs / 1000).toFixed(1)} s wall, ${(same.totalMs / 1000).toFixed(1)} s run`);
    console.log(`changed-setting re-run (glance):   ${(changed.wallMs / 1000).toFixed(1)} s wall, ${(changed.totalMs / 1000).toFixed(1)} s run`);
    console.log(`ratio no-change / first:           ${ratio(same, 'wallMs')} wall, ${ratio(same, 'totalMs')} run   (goal: <= ${GOALS.rerunRatio}, the wall clock)`);
    console.log(`ratio changed-setting / first:     ${ratio(changed, 'wallMs')} wall, ${ratio(changed, 'totalMs')} run   (goal: < 0.15)`);
    if (same.ok) console.log(`\n${formatChain(criticalPath(same.timings), 'no-change re-run')}`);
    return same.ok ? { firstMs: first.wallMs, sameMs: same.wallMs } : undefined;
  } finally {
    await hosts.stop();
    work.remove();
  }
}
