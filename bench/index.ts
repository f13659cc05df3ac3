// npm run bench: each part stacks on its own fresh isolated test host of the chosen Debian release
// and prints its figures; informational, it never fails on a slow machine (see bench/options.ts).
import { parseBenchArgs, SUITE_TITLE } from './options.ts';
import { benchAllInOne } from './allinone.ts';
import { benchLibvirt } from './libvirt.ts';
import { benchRerun } from './rerun.ts';
import type { RunFigures } from './libvirt.ts';

let opts;
try {
  opts = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  console.error(`bench: ${(err as Error).message}`);
  process.exit(2);
}
console.log(`bench: ${opts.parts.join(', ')} on ${SUITE_TITLE[opts.suite]} test hosts (--suite ${opts.suite})`);
let fake: RunFigures | undefined;
for (const part of opts.parts) {
  console.log(`\n== ${part} (${SUITE_TITLE[opts.suite]})`);
  if (part === 'allinone') fake = await benchAllInOne(opts.suite);
  if (part === 'libvirt') await benchLibvirt(fake, opts.suite);
  if (part === 'rerun') await benchRerun(opts.suite);
}
