// Releases that cannot be stacked here (Ubuntu 24.04, the RHEL family with RDO) are still detected
// and named right: versions as their own package managers print them, and the package names each
// family's lists ask for, as the distributions name them.
import { describe, expect, it } from 'vitest';
import { keystoneMajorOf, releaseAtLeast, releaseFromKeystoneVersion, releaseProbeCommand, releaseSeries, releaseTitle } from '../../lib/release.ts';
import { installCommands, readPackageList, packageListNames } from '../../lib/packages.ts';
import { DEBIAN_SYSV, RHEL_SYSTEMD } from '../fixtures/recording-host.ts';
import type { HostFacts } from '../../lib/host/types.ts';

const UBUNTU_NOBLE: HostFacts = { ...DEBIAN_SYSV, id: 'ubuntu', version: '24.04', codename: 'noble', init: 'systemd' };

describe('release series and titles', () => {
  const cases: [string, string, string | undefined, string][] = [
    ['2:22.0.2-0+deb12u6', 'zed', '2022.2', 'OpenStack 2022.2 (zed)'], // Debian 12
    ['2:27.0.0-3', 'epoxy', '2025.1', 'OpenStack 2025.1 (epoxy)'], // Debian 13
    ['2:25.0.0-0ubuntu1', 'caracal', '2024.1', 'OpenStack 2024.1 (caracal)'], // Ubuntu 24.04's own archive
    ['1:25.0.0-1.el9s', 'caracal', '2024.1', 'OpenStack 2024.1 (caracal)'], // RDO caracal on EL9 (rpm -q prints no epoch, but a repo list may)
    ['23.0.0-1.el9s', 'antelope', '2023.1', 'OpenStack 2023.1 (antelope)'],
    ['8.0.1-1.el7', 'liberty', '2015.2', 'OpenStack 2015.2 (liberty)'],
    ['2014.2.1-1', 'juno', undefined, 'OpenStack juno'],
    ['99.0.0', 'unknown', undefined, 'OpenStack (keystone 99, a release newer than stack.ts knows)'],
    ['', 'unknown', undefined, 'OpenStack (release unknown)'],
  ];
  for (const [version, name, series, title] of cases) {
    it(`${JSON.stringify(version)} is ${title}`, () => {
      const r = releaseFromKeystoneVersion(version);
      expect(r.name).toBe(name);
      expect(releaseSeries(r)).toBe(series);
      expect(releaseTitle(r)).toBe(title);
    });
  }

  it('orders releases by keystone major; an unreadable release is never "at least" anything', () => {
    const zed = releaseFromKeystoneVersion('2:22.0.2-0+deb12u6');
    const epoxy = releaseFromKeystoneVersion('2:27.0.0-3');
    expect(keystoneMajorOf('epoxy')).toBe(27);
    expect(releaseAtLeast(epoxy, 'caracal')).toBe(true);
    expect(releaseAtLeast(epoxy, 'epoxy')).toBe(true);
    expect(releaseAtLeast(zed, 'antelope')).toBe(false);
    expect(releaseAtLeast(releaseFromKeystoneVersion('99.0.0'), 'epoxy')).toBe(true);
    expect(releaseAtLeast(releaseFromKeystoneVersion(''), 'zed')).toBe(false);
    expect(releaseAtLeast(releaseFromKeystoneVersion('2014.2.1-1'), 'liberty')).toBe(false);
    expect(() => releaseAtLeast(zed, 'flamingo-typo')).toThrow(/unknown release name/);
  });
});

describe('Ubuntu 24.04 (2024.1 Caracal in its own archive)', () => {
  it('probes the release with dpkg-query and apt-cache like Debian', () => {
    const c = releaseProbeCommand(UBUNTU_NOBLE);
    expect(c).toContain('apt-cache policy keystone');
    expect(c).not.toMatch(/\bdnf\b|\brpm\b/);
  });
  it('installs with apt-get, and asks for the package names Ubuntu uses (the same as Debian\'s)', async () => {
    const [cmd] = installCommands(UBUNTU_NOBLE, ['keystone'], { recommends: false, unsafeIo: false, offline: false });
    expect(cmd).toMatch(/^DEBIAN_FRONTEND=noninteractive apt-get -y/);
    const names = await allPackages('debian');
    // Package names as in noble's main/universe: the services' own packages and their drivers.
    for (const n of ['keystone', 'glance-api', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'neutron-server', 'rabbitmq-server', 'mariadb-server', 'python3-pymysql', 'memcached', 'python3-openstackclient']) {
      expect(names, n).toContain(n);
    }
    expect(names.filter((n) => n.startsWith('openstack-'))).toEqual([]);
  });
});

describe('RHEL family with RDO', () => {
  it('probes the release with rpm and dnf (yum before EL8), from the cache only', () => {
    const c = releaseProbeCommand(RHEL_SYSTEMD);
    expect(c).toContain('openstack-keystone');
    expect(c).toContain('dnf -q -C info --available openstack-keystone');
    expect(releaseProbeCommand({ ...RHEL_SYSTEMD, version: '7.9' })).toContain('yum -q -C info');
  });
  it('asks for RDO\'s package names: openstack-<service>, python3-PyMySQL, and no Debian-only name', async () => {
    const names = await allPackages('rhel');
    for (const n of ['openstack-keystone', 'openstack-glance', 'openstack-placement-api', 'openstack-nova-api', 'openstack-nova-conductor', 'openstack-nova-scheduler', 'openstack-neutron', 'rabbitmq-server', 'mariadb-server', 'python3-PyMySQL', 'memcached', 'python3-openstackclient']) {
      expect(names, n).toContain(n);
    }
    for (const debianOnly of ['keystone', 'glance-api', 'nova-api', 'placement-api', 'neutron-server', 'python3-pymysql']) {
      expect(names, debianOnly).not.toContain(debianOnly);
    }
    const [cmd] = installCommands(RHEL_SYSTEMD, ['openstack-keystone'], { recommends: false, unsafeIo: false, offline: false });
    expect(cmd).toMatch(/^dnf -y/);
  });
});

async function allPackages(family: 'debian' | 'rhel'): Promise<string[]> {
  const out: string[] = [];
  for (const list of await packageListNames(family)) out.push(...(await readPackageList(list, family)));
  return out;
}
