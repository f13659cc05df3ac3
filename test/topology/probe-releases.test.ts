// One cloud, one release: probing refuses hosts of different distribution releases before any
// host is changed, and names which host runs which.
import { describe, expect, it } from 'vitest';
import { probeHosts } from '../../lib/probe.ts';
import { mixedReleases } from '../../lib/preflight.ts';
import { parseTopology } from '../../lib/topology.ts';
import { StackError } from '../../lib/errors.ts';
import type { HostFacts } from '../../lib/host/types.ts';
import { DEBIAN_SYSV, RecordingHost } from '../fixtures/recording-host.ts';

const BOOKWORM: HostFacts = DEBIAN_SYSV;
const TRIXIE: HostFacts = { ...DEBIAN_SYSV, version: '13', codename: 'trixie' };

const THREE = parseTopology(
  `hosts:
  - name: ctl
    address: root@10.0.0.11
    roles: [controller, database, messaging]
  - name: c1
    address: root@10.0.0.12
    roles: [compute]
  - name: c2
    address: root@10.0.0.13
    roles: [compute]
`,
  'hosts.yaml',
  '/cfg',
);

/** Probes THREE with each host's facts; returns the hosts opened (to see they were closed). */
async function probe(facts: Record<string, HostFacts>) {
  const opened: RecordingHost[] = [];
  const closed: string[] = [];
  const run = probeHosts(THREE, (spec) => {
    // Three machines, each with its own hostname (two computes sharing one are refused: Nova would take them for one).
    const h = new RecordingHost({ name: spec.name, facts: { ...facts[spec.name]!, hostname: spec.name } });
    h.close = async () => void closed.push(spec.name);
    opened.push(h);
    return h;
  });
  return { run, opened, closed };
}

describe('hosts of one cloud on different releases', () => {
  it('are refused before anything changes, each release with its hosts named', async () => {
    const { run, opened, closed } = await probe({ ctl: BOOKWORM, c1: BOOKWORM, c2: TRIXIE });
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StackError);
    const e = err as StackError;
    expect(e.message).toMatch(/debian 12 \(bookworm\) on ctl, c1; debian 13 \(trixie\) on c2/);
    expect(e.message).toMatch(/Nothing was changed on any host/);
    expect(e.hint).toMatch(/same release on every host/);
    // Probing only read facts and the release (names and package versions): no command changed a host, and every host opened was closed.
    expect(opened.flatMap((h) => h.commandLines).filter((c) => !/getent|@@stackts:installed/.test(c))).toEqual([]);
    expect(opened.flatMap((h) => h.writes)).toEqual([]);
    expect(closed.sort()).toEqual(['c1', 'c2', 'ctl']);
  });

  it('pass when every host runs the same release (point releases of it included)', async () => {
    const { run } = await probe({ ctl: TRIXIE, c1: { ...TRIXIE, version: '13.2' }, c2: TRIXIE });
    const probed = await run;
    expect(probed.map((p) => `${p.spec.name} ${p.facts.codename}`)).toEqual(['ctl trixie', 'c1 trixie', 'c2 trixie']);
  });

  it('are told apart by distribution as well as version', () => {
    const rocky: HostFacts = { ...DEBIAN_SYSV, family: 'rhel', id: 'rocky', version: '12.0', codename: '' };
    expect(mixedReleases([{ name: 'a', facts: BOOKWORM }, { name: 'b', facts: rocky }])?.message).toMatch(/debian 12 \(bookworm\) on a; rocky 12 on b/);
    expect(mixedReleases([{ name: 'only', facts: BOOKWORM }])).toBeUndefined();
  });
});
