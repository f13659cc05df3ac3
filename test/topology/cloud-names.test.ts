// The names Nova knows hosts by (their own hostnames) beside the hosts file's names: both must
// resolve to the right host everywhere, and no two hosts may share one.
import { describe, expect, it } from 'vitest';
import { cloudNames } from '../../lib/cloud-names.ts';
import { probeHosts } from '../../lib/probe.ts';
import { parseTopology } from '../../lib/topology.ts';
import { StackError } from '../../lib/errors.ts';
import { DEBIAN_SYSV, RecordingHost } from '../fixtures/recording-host.ts';

const THREE = parseTopology(
  `hosts:
  - name: controller
    address: root@10.0.0.11
    roles: [controller, database, messaging]
  - name: compute1
    address: root@10.0.0.12
    roles: [compute]
  - name: compute2
    address: root@10.0.0.13
    roles: [compute]
`,
  'hosts.yaml',
  '/cfg',
);
const ADDR: Record<string, string> = { controller: '10.0.0.11', compute1: '10.0.0.12', compute2: '10.0.0.13' };

describe('cloudNames', () => {
  it("adds each host's own hostname where it differs from the hosts file's name", () => {
    const { table, clashes } = cloudNames([
      { name: 'controller', hostname: 'h1', address: '10.0.0.11' },
      { name: 'compute1', hostname: 'h2', address: '10.0.0.12' },
      { name: 'compute2', hostname: 'compute2', address: '10.0.0.13' },
    ]);
    expect(clashes).toEqual([]);
    expect([...table]).toEqual([
      ['controller', '10.0.0.11'], ['compute1', '10.0.0.12'], ['compute2', '10.0.0.13'], ['h1', '10.0.0.11'], ['h2', '10.0.0.12'],
    ]);
  });

  it("refuses an own hostname that is another host's name, in the file or its own", () => {
    expect(cloudNames([
      { name: 'compute1', hostname: 'compute2', address: '10.0.0.12' },
      { name: 'compute2', hostname: 'x', address: '10.0.0.13' },
    ]).clashes).toEqual(["host compute1's own hostname is compute2, which is also the name of host compute2 (at 10.0.0.13)"]);
    expect(cloudNames([
      { name: 'compute1', hostname: 'node', address: '10.0.0.12' },
      { name: 'compute2', hostname: 'node', address: '10.0.0.13' },
    ]).clashes).toEqual(["host compute2's own hostname is node, which is also the name of host compute1 (at 10.0.0.12)"]);
  });
});

/** Probes THREE; hostnames are the hosts' own, `resolves` what getent answers on every host. */
async function probe(hostnames: Record<string, string>, resolves: Record<string, string>) {
  const asked: string[][] = [];
  const run = probeHosts(THREE, (spec) =>
    new RecordingHost({ name: spec.name, facts: { ...DEBIAN_SYSV, hostname: hostnames[spec.name]! } }).reply(/getent/, (cmd) => {
      const names = [...cmd.matchAll(/for n in (.*?); do/g)][0]![1]!.split(' ').map((n) => n.replace(/'/g, ''));
      asked.push(names);
      return { stdout: names.map((n) => `${n} ${resolves[n] ?? ''}`).join('\n') };
    }),
  );
  return { run, asked };
}

describe('probing a cloud whose hosts have their own hostnames', () => {
  it('asks every host to resolve both names of every host, and passes when they resolve right or not at all', async () => {
    const { run, asked } = await probe({ controller: 'h1', compute1: 'h2', compute2: 'h3' }, { ...ADDR, h2: '10.0.0.12' });
    await run;
    expect(asked).toHaveLength(3);
    for (const names of asked) expect(names.sort()).toEqual(['compute1', 'compute2', 'controller', 'h1', 'h2', 'h3']);
  });

  it("refuses a compute's own hostname that resolves to another address, naming it as the name Nova uses", async () => {
    const { run } = await probe({ controller: 'h1', compute1: 'h2', compute2: 'h3' }, { h3: '10.0.0.99' });
    const err = await run.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    expect((err as StackError).message).toMatch(/on controller, the name h3 resolves to 10\.0\.0\.99, but host compute2 \(its own hostname, which Nova uses\) is at 10\.0\.0\.13/);
    expect((err as StackError).message).toMatch(/Nothing was changed on any host/);
  });

  it('refuses two computes with one own hostname before anything changes', async () => {
    const { run } = await probe({ controller: 'h1', compute1: 'node', compute2: 'node' }, {});
    const err = await run.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    expect((err as StackError).message).toMatch(/host compute2's own hostname is node, which is also the name of host compute1/);
    expect((err as StackError).hint).toMatch(/no two hosts share a name/);
  });
});
