// The libvirt all-in-one for `npm run bench`: the same stack as the fake-driver run but with
// VIRT_DRIVER=libvirt (QEMU TCG on a test host, which has no /dev/kvm), booting the tiny busybox
// disk the e2e test builds. Printed beside the fake-driver numbers: what grows is the package set
// (libvirt, QEMU) and verify (a real guest boots), plus the time from server create to the
// guest's boot marker on its console. Informational: it never fails on a slow machine.

import { $ } from 'zx';
import { sshArgs, startTestHosts, testHostSettings, type Suite, type TestHost, type TestHosts } from '../test/hosts/index.ts';
import { releaseRan } from './options.ts';
import { BOOT_MARKER, bootImage } from '../test/fixtures/boot-image.ts';
import { phaseTotals } from '../lib/timing.ts';
import { benchWork, timedStack } from './stack-run.ts';

/** What one stack run measured; the fake-driver run hands its own in for the side-by-side table. */
export interface RunFigures {
  readonly totalMs: number;
  readonly phases: Readonly<Record<string, number>>;
  /** Debian packages installed on the host after the stack (dpkg-query). */
  readonly packages?: number;
  /** Every task's time summed over hosts (above totalMs where tasks overlap). */
  readonly taskSumMs?: number;
}

/** Debian packages installed on a test host; undefined when dpkg could not be asked. */
export async function installedPackages(th: TestHosts, h: TestHost): Promise<number | undefined> {
  // One argument, so ssh hands it to the remote shell whole: a real newline in the format (the
  // template's '\n') split the command there, and every run counted no packages.
  const query = "dpkg-query -W -f '${db:Status-Status}\\n' | grep -cx installed";
  const r = await $`ssh ${sshArgs(th, h)} ${query}`.nothrow();
  const n = Number.parseInt(r.stdout.trim(), 10);
  return n > 0 ? n : undefined;
}

/** "[guest-boot-s=12.3]", logged by nova-compute's verify once the marker is on the console. */
export const guestBootSeconds = (log: string): number | undefined => {
  const m = /\[guest-boot-s=([\d.]+)\]/.exec(log);
  return m ? Number(m[1]) : undefined;
};

export function sideBySide(fake: RunFigures | undefined, libvirt: RunFigures): string {
  const s = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
  const phases = [...new Set([...Object.keys(fake?.phases ?? {}), ...Object.keys(libvirt.phases)])];
  const rows: [string, string, string][] = [
    ['packages on host', String(fake?.packages ?? '-'), String(libvirt.packages ?? '-')],
    ...phases.map((p): [string, string, string] => [p, s(fake?.phases[p]), s(libvirt.phases[p])]),
    ['total', s(fake?.totalMs), s(libvirt.totalMs)],
  ];
  return [
    `${'all-in-one'.padEnd(18)} ${'fake driver'.padStart(12)} ${'libvirt (TCG)'.padStart(14)}`,
    ...rows.map(([a, b, c]) => `${a.padEnd(18)} ${b.padStart(12)} ${c.padStart(14)}`),
  ].join('\n');
}

/** Stacks the libvirt all-in-one on its own test host and prints it beside `fake`. */
export async function benchLibvirt(fake: RunFigures | undefined, suite: Suite): Promise<void> {
  $.verbose = false;
  const image = await bootImage((l) => console.error(`[bench libvirt] ${l}`));
  const hosts = await startTestHosts({ count: 1, prefix: 'stbl', suite, log: (l) => console.error(`[hosts] ${l}`) });
  const work = await benchWork('libvirt', image);
  try {
    const h = hosts.hosts[0]!;
    const localrc = [...testHostSettings(hosts, h), 'VIRT_DRIVER=libvirt', 'APT_UNSAFE_IO=True', `IMAGE_URLS=file://${work.image}`, `VERIFY_CONSOLE_PATTERN=${BOOT_MARKER}`, ''].join('\n');
    const r = await timedStack(work, localrc);
    if (!r.ok) {
      console.log(r.tail);
      console.log(`bench: the libvirt stack failed (exit ${r.exitCode}); no libvirt figures.`);
      process.exitCode = 1;
      return;
    }
    const packages = await installedPackages(hosts, h);
    const libvirt: RunFigures = { totalMs: r.totalMs, phases: phaseTotals(r.timings), ...(packages ? { packages } : {}) };
    console.log(`all-in-one beside the fake driver, ${releaseRan(r.stdout)}:`);
    console.log(sideBySide(fake, libvirt));
    const boot = guestBootSeconds(r.log);
    console.log(`server create -> boot marker on the console (TCG): ${boot === undefined ? '-' : `${boot.toFixed(1)} s`}`);
  } finally {
    await hosts.stop();
    work.remove();
  }
}
