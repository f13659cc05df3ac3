import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostFacts } from '../../lib/host/types.ts';
import {
  aptListsStale,
  failureLines,
  installCommands,
  installPackages,
  missingPackagesCommand,
  packageListNames,
  packageTool,
  parsePackageList,
  readPackageList,
  removeCommands,
} from '../../lib/packages.ts';
import { StackError } from '../../lib/errors.ts';
import { DEBIAN_SYSTEMD, DEBIAN_SYSV, RecordingHost, RHEL_SYSTEMD } from '../fixtures/recording-host.ts';

const UBUNTU: HostFacts = { ...DEBIAN_SYSTEMD, id: 'ubuntu', version: '22.04', codename: 'jammy' };
const ROCKY9: HostFacts = RHEL_SYSTEMD;
const CENTOS7: HostFacts = { ...RHEL_SYSTEMD, id: 'centos', version: '7' };
const APT_PREFIX =
  'DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';
const LEAN = { recommends: false, unsafeIo: false, offline: false };

describe('installCommands', () => {
  it('debian without recommends', () => {
    expect(installCommands(DEBIAN_SYSV, ['keystone', 'glance-api'], LEAN)).toEqual([
      `${APT_PREFIX} --no-install-recommends install keystone glance-api`,
    ]);
  });
  it('debian with recommends and unsafe io', () => {
    expect(installCommands(DEBIAN_SYSV, ['mariadb-server'], { recommends: true, unsafeIo: true, offline: false })).toEqual([
      `${APT_PREFIX} -o Dpkg::Options::=--force-unsafe-io install mariadb-server`,
    ]);
  });
  it('ubuntu uses apt like debian', () => {
    expect(installCommands(UBUNTU, ['nova-api'], { ...LEAN, unsafeIo: true })).toEqual([
      `${APT_PREFIX} --no-install-recommends -o Dpkg::Options::=--force-unsafe-io install nova-api`,
    ]);
  });
  it('rocky 9 uses dnf without weak deps', () => {
    expect(packageTool(ROCKY9)).toBe('dnf');
    expect(installCommands(ROCKY9, ['openstack-glance'], LEAN)).toEqual(['dnf -y --setopt=install_weak_deps=False install openstack-glance']);
    expect(installCommands(ROCKY9, ['openstack-glance'], { recommends: true, unsafeIo: true, offline: true })).toEqual([
      'dnf -y --cacheonly install openstack-glance',
    ]);
  });
  it('centos 7 uses yum, which has no weak deps option', () => {
    expect(packageTool(CENTOS7)).toBe('yum');
    expect(installCommands(CENTOS7, ['openstack-keystone', 'httpd'], LEAN)).toEqual(['yum -y install openstack-keystone httpd']);
  });
  it('nothing to install gives no command', () => {
    expect(installCommands(DEBIAN_SYSV, [], LEAN)).toEqual([]);
  });
  it('remove and purge', () => {
    expect(removeCommands(DEBIAN_SYSV, ['keystone'], true)).toEqual([`${APT_PREFIX} purge keystone`]);
    expect(removeCommands(DEBIAN_SYSV, ['keystone'], false)).toEqual([`${APT_PREFIX} remove keystone`]);
    expect(removeCommands(ROCKY9, ['openstack-keystone'], true)).toEqual(['dnf -y remove openstack-keystone']);
    expect(removeCommands(CENTOS7, ['openstack-keystone'], false)).toEqual(['yum -y remove openstack-keystone']);
  });
});

describe('package lists in files/', () => {
  for (const family of ['debian', 'rhel'] as const) {
    it(`every ${family} list is non-empty, duplicate-free and valid`, async () => {
      const names = await packageListNames(family);
      expect(names).toEqual(
        expect.arrayContaining(['mariadb', 'rabbitmq', 'memcached', 'keystone', 'glance', 'placement', 'nova', 'nova-api', 'nova-conductor', 'nova-scheduler', 'nova-compute', 'nova-compute-fake', 'image', 'client']),
      );
      for (const n of names) {
        const pkgs = await readPackageList(n, family);
        expect(pkgs.length, `${family}/${n}`).toBeGreaterThan(0);
        expect(new Set(pkgs).size, `${family}/${n}`).toBe(pkgs.length);
      }
    });
  }
  it('both families have the same lists', async () => {
    expect(await packageListNames('debian')).toEqual(await packageListNames('rhel'));
  });
  it('the fake compute list does not pull a hypervisor, but brings the nova user (nova-common)', async () => {
    expect(await readPackageList('nova-compute-fake', 'debian')).toEqual(['nova-common', 'python3-nova']);
    expect(await readPackageList('nova-compute-fake', 'rhel')).toEqual(['openstack-nova-common', 'python3-nova']);
    expect(await readPackageList('keystone', 'debian')).toEqual(['keystone', 'python3-openstackclient']);
    expect(await readPackageList('mariadb', 'rhel')).toEqual(['mariadb-server', 'python3-PyMySQL']);
  });
});

describe('parsePackageList / readPackageList', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  it('drops comments and blank lines, keeps order, drops duplicates', () => {
    expect(parsePackageList('# c\nfoo  # why\n\n  bar\nfoo\nbaz qux\n', 'x')).toEqual(['foo', 'bar', 'baz', 'qux']);
  });
  it('refuses a line that is not a package name, with file:line', () => {
    expect(() => parsePackageList('ok\nrm -rf /;\n', 'files/debs/x')).toThrow(/files\/debs\/x:2: "\/;"|files\/debs\/x:2/);
  });
  it('a missing list says which file to create', async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'pkglist-'));
    dirs.push(d);
    await mkdir(path.join(d, 'rpms'));
    await writeFile(path.join(d, 'rpms', 'svc'), 'openstack-svc\n');
    expect(await readPackageList('svc', 'rhel', d)).toEqual(['openstack-svc']);
    await expect(readPackageList('svc', 'debian', d)).rejects.toThrow(/no package list for "svc" on debian hosts: .*debs\/svc does not exist/);
  });
});

describe('aptListsStale', () => {
  it('fresh directory mtime or stamp means no update', () => {
    expect(aptListsStale('10000\n9000\n0\n3\n')).toBe(false);
    expect(aptListsStale('10000\n1000\n9999\n3\n')).toBe(false);
  });
  it('old lists, no lists, or garbage mean update', () => {
    expect(aptListsStale('10000\n1000\n2000\n3\n')).toBe(true);
    expect(aptListsStale('10000\n9999\n0\n0\n')).toBe(true);
    expect(aptListsStale('')).toBe(true);
  });
});

describe('failureLines', () => {
  it('keeps apt\'s dependency report and its E: lines, not the progress before them', () => {
    const stdout = [
      'Reading package lists...',
      'Building dependency tree...',
      'Some packages could not be installed. This may mean that you have',
      'The following packages have unmet dependencies:',
      ' pcre-devel : Depends: pcre (= 8.35-7) but 8.36-1 is to be installed',
    ].join('\n');
    const stderr = 'W: some warning\nE: Unable to correct problems, you have held broken packages.';
    const lines = failureLines({ stdout, stderr });
    expect(lines).toContain('pcre-devel : Depends: pcre (= 8.35-7)');
    expect(lines).toContain('E: Unable to correct problems');
    expect(lines).not.toContain('Reading package lists');
    expect(lines).not.toContain('W: some warning');
  });
});

describe('missingPackagesCommand', () => {
  it('asks dpkg-query for every package in one command', () => {
    const c = missingPackagesCommand(DEBIAN_SYSV, ['a', 'b']);
    expect(c).toContain('for p in a b;');
    expect(c).toContain("dpkg-query -W -f='${db:Status-Abbrev}'");
  });
  it('uses rpm --whatprovides on rhel (list names may be Provides)', () => {
    expect(missingPackagesCommand(ROCKY9, ['python3-PyMySQL'])).toContain('rpm -q --whatprovides "$p"');
  });
});

describe('installPackages (recording host)', () => {
  const fresh = () => '10000\n9999\n0\n3\n';
  it('does nothing but ask when everything is installed', async () => {
    const h = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/dpkg-query/, { stdout: '' });
    await installPackages(h, DEBIAN_SYSV, ['keystone'], LEAN);
    expect(h.commandLines).toHaveLength(1);
    expect(h.writes).toHaveLength(0);
  });

  it('installs only the missing ones, behind a temporary policy-rc.d that it removes', async () => {
    const h = new RecordingHost({ facts: DEBIAN_SYSV })
      .reply(/dpkg-query/, { stdout: 'glance-api\n' })
      .reply(/^date \+%s/, { stdout: fresh() });
    await installPackages(h, DEBIAN_SYSV, ['keystone', 'glance-api'], LEAN);
    const install = h.commandLines.find((c) => c.includes(' install '));
    expect(install).toMatch(/install glance-api$/);
    expect(h.commandLines.some((c) => / update$/.test(c))).toBe(false);
    expect(h.writes[0]).toMatchObject({ path: '/usr/sbin/policy-rc.d', mode: 0o755 });
    expect(h.writes[0]!.data).toMatch(/exit 101/);
    expect(h.commandLines.at(-1)).toBe('rm -f /usr/sbin/policy-rc.d');
  });

  it('leaves a policy-rc.d the host already had alone', async () => {
    const h = new RecordingHost({ facts: DEBIAN_SYSV, files: { '/usr/sbin/policy-rc.d': '#!/bin/sh\nexit 101\n' } })
      .reply(/dpkg-query/, { stdout: 'keystone\n' })
      .reply(/^date \+%s/, { stdout: fresh() });
    await installPackages(h, DEBIAN_SYSV, ['keystone'], LEAN);
    expect(h.writes).toHaveLength(0);
    expect(h.commandLines.some((c) => c.includes('policy-rc.d'))).toBe(false);
  });

  it('updates stale lists first; offline never updates', async () => {
    const h = new RecordingHost({ facts: DEBIAN_SYSV })
      .reply(/dpkg-query/, { stdout: 'keystone\n' })
      .reply(/^date \+%s/, { stdout: '10000\n10\n0\n3\n' });
    await installPackages(h, DEBIAN_SYSV, ['keystone'], LEAN);
    const i = h.commandLines.findIndex((c) => / update$/.test(c));
    const j = h.commandLines.findIndex((c) => c.includes(' install '));
    expect(i).toBeGreaterThanOrEqual(0);
    expect(i).toBeLessThan(j);

    const off = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/dpkg-query/, { stdout: 'keystone\n' });
    await installPackages(off, DEBIAN_SYSV, ['keystone'], { ...LEAN, offline: true });
    expect(off.commandLines.some((c) => / update$/.test(c) || c.startsWith('date'))).toBe(false);
  });

  it('"Unable to locate" with fresh-looking lists: update once and retry', async () => {
    const h = new RecordingHost({ facts: DEBIAN_SYSV })
      .reply(/dpkg-query/, { stdout: 'keystone\n' })
      .reply(/^date \+%s/, { stdout: fresh() })
      .reply(/ install keystone$/, [{ exitCode: 100, stderr: 'E: Unable to locate package keystone' }, { exitCode: 0 }]);
    await installPackages(h, DEBIAN_SYSV, ['keystone'], LEAN);
    expect(h.commandLines.filter((c) => c.endsWith(' install keystone'))).toHaveLength(2);
    expect(h.commandLines.filter((c) => / update$/.test(c))).toHaveLength(1);
    expect(h.commandLines.at(-1)).toBe('rm -f /usr/sbin/policy-rc.d');
  });

  it('a broken dependency surfaces apt\'s own lines, and policy-rc.d is still removed', async () => {
    const h = new RecordingHost({ facts: DEBIAN_SYSV })
      .reply(/dpkg-query/, { stdout: 'pcre-devel\n' })
      .reply(/^date \+%s/, { stdout: fresh() })
      .reply(/ install /, {
        exitCode: 100,
        stdout: 'Reading package lists...\nThe following packages have unmet dependencies:\n pcre-devel : Depends: pcre (= 8.35-7) but 8.36-1 is to be installed',
        stderr: 'E: Unable to correct problems, you have held broken packages.',
      });
    const err = await installPackages(h, DEBIAN_SYSV, ['pcre-devel'], LEAN).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    const se = err as StackError;
    expect(se.message).toMatch(/apt-get could not install packages on h1 \(exit code 100\)/);
    expect(se.logTail?.lines).toContain('pcre-devel : Depends: pcre (= 8.35-7) but 8.36-1 is to be installed');
    expect(se.logTail?.lines).toContain('E: Unable to correct problems');
    expect(h.commandLines.at(-1)).toBe('rm -f /usr/sbin/policy-rc.d');
  });

  it('rhel: one dnf transaction, no policy-rc.d', async () => {
    const h = new RecordingHost({ facts: ROCKY9 }).reply(/rpm -q/, { stdout: 'openstack-glance\n' });
    await installPackages(h, ROCKY9, ['openstack-keystone', 'openstack-glance'], LEAN);
    expect(h.commandLines.at(-1)).toBe('dnf -y --setopt=install_weak_deps=False install openstack-glance');
    expect(h.writes).toHaveLength(0);
  });

  it('rhel failure names the missing repository', async () => {
    const h = new RecordingHost({ facts: ROCKY9 })
      .reply(/rpm -q/, { stdout: 'openstack-glance\n' })
      .reply(/dnf -y/, { exitCode: 1, stderr: 'No match for argument: openstack-glance\nError: Unable to find a match: openstack-glance' });
    await expect(installPackages(h, ROCKY9, ['openstack-glance'], LEAN)).rejects.toMatchObject({
      message: expect.stringMatching(/dnf could not install packages on h1/),
      hint: expect.stringMatching(/centos-release-openstack/),
    });
  });

  it('an aborted signal stops before anything runs', async () => {
    const h = new RecordingHost({ facts: DEBIAN_SYSV });
    const ac = new AbortController();
    ac.abort(new Error('user pressed ^C'));
    await expect(installPackages(h, DEBIAN_SYSV, ['keystone'], LEAN, ac.signal)).rejects.toThrow('user pressed ^C');
    expect(h.commandLines).toHaveLength(0);
  });
});
