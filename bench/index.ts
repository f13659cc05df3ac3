// npm run bench: each part stacks on its own fresh isolated test host(s) of the chosen Debian release
// and prints its figures, one part after the other (each finds the package cache the one before
// warmed); then the all-in-one, the three-host stack and the package floor side by side, the
// no-change re-runs against their first runs, the five slowest steps and the critical path (issue 18).
// Informational, it never fails on a slow machine (see bench/options.ts).
import { parseBenchArgs, SUITE_TITLE } from './options.ts';
import { benchAllInOne } from './allinone.ts';
import { benchThreeHost } from './multihost.ts';
import { benchFloor } from './floor.ts';
import { benchLibvirt } from './libvirt.ts';
import { benchRerun } from './rerun.ts';
import { benchFanout } from './fanout.ts';
import { formatSummary, type BenchResults } from './summary.ts';
import type { AllInOneFigures } from './allinone.ts';

let opts;
try {
  opts = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  console.error(`bench: ${(err as Error).message}`);
  process.exit(2);
}
console.log(`bench: ${opts.parts.join(', ')} on ${SUITE_TITLE[opts.suite]} test hosts (--suite ${opts.suite})`);
let fake: AllInOneFigures | undefined;
const results: { -readonly [K in keyof BenchResults]: BenchResults[K] } = {};
for (const part of opts.parts) {
  console.log(`\n== ${part} (${SUITE_TITLE[opts.suite]})`);
  if (part === 'allinone') {
    fake = await benchAllInOne(opts.suite);
    if (fake) results.allInOne = { wallMs: fake.totalMs, ...(fake.taskSumMs !== undefined ? { taskSumMs: fake.taskSumMs } : {}), commandMs: fake.commandMs, timings: fake.timings };
  }
  if (part === 'three-host') {
    const three = await benchThreeHost(opts.suite);
    if (three) results.threeHost = three.first;
    if (three?.rerun) results.threeHostRerun = three.rerun;
  }
  if (part === 'floor') results.floor = await benchFloor(opts.suite);
  if (part === 'libvirt') await benchLibvirt(fake, opts.suite);
  if (part === 'rerun') {
    const rerun = await benchRerun(opts.suite);
    if (rerun) results.rerun = rerun;
  }
  if (part === 'fanout') await benchFanout(opts.suite);
}
if (opts.parts.some((p) => p === 'allinone' || p === 'three-host' || p === 'floor' || p === 'rerun')) console.log(`\n${formatSummary(results)}`);
