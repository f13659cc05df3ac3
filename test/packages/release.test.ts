import { describe, expect, it } from 'vitest';
import { parseReleaseProbe, releaseFromKeystoneVersion, releaseProbeCommand } from '../../lib/release.ts';
import { DEBIAN_SYSV, RecordingHost, RHEL_SYSTEMD } from '../fixtures/recording-host.ts';
import { detectRelease } from '../../lib/release.ts';

describe('releaseFromKeystoneVersion', () => {
  const cases: [string, string, number | null, boolean][] = [
    ['2:22.0.2-0+deb12u6', 'zed', 22, false], // Debian bookworm
    ['2:21.0.0-0ubuntu1', 'yoga', 21, false], // Ubuntu jammy
    ['1:22.0.0-1.el9', 'zed', 22, false], // RDO, with epoch
    ['25.0.0', 'caracal', 25, false],
    ['23.0.0-1.el9s', 'antelope', 23, false],
    ['24.0.0', 'bobcat', 24, false],
    ['26.1.0', 'dalmatian', 26, false],
    ['27.0.0', 'epoxy', 27, false],
    ['17.0.0', 'ussuri', 17, false],
    ['16.0.2-0ubuntu1', 'train', 16, true],
    ['13.0.0', 'queens', 13, true],
    ['8.0.1-1.el7', 'liberty', 8, true], // seed 001's CentOS 7 Liberty
    ['2014.2.1-1', 'juno', 2014, true], // seed 003's Juno
    ['99.0.0', 'unknown', 99, false], // newer than this code knows: still a release without registry
    ['(none)', 'unknown', null, false],
    ['', 'unknown', null, false],
  ];
  for (const [v, name, major, registry] of cases) {
    it(`${JSON.stringify(v)} -> ${name}`, () => {
      expect(releaseFromKeystoneVersion(v)).toEqual({ name, keystoneMajor: major, hasGlanceRegistry: registry });
    });
  }
});

describe('parseReleaseProbe', () => {
  it('installed version wins over the candidate', () => {
    const out = '@@stackts:installed\n2:21.0.0-1\n@@stackts:candidate\n2:22.0.2-0+deb12u6\n@@stackts:registry\n';
    expect(parseReleaseProbe(out)).toMatchObject({ name: 'yoga', keystoneMajor: 21 });
  });
  it('falls back to the candidate; "(none)" is unknown', () => {
    expect(parseReleaseProbe('@@stackts:installed\n@@stackts:candidate\n2:22.0.2-0+deb12u6\n@@stackts:registry\n').name).toBe('zed');
    expect(parseReleaseProbe('@@stackts:installed\n@@stackts:candidate\n(none)\n@@stackts:registry\n').name).toBe('unknown');
  });
  it('a glance-registry present on the host counts even on a newer release', () => {
    const withBinary = '@@stackts:installed\n2:22.0.2\n@@stackts:candidate\n@@stackts:registry\nyes\n';
    expect(parseReleaseProbe(withBinary).hasGlanceRegistry).toBe(true);
    const withPackage = '@@stackts:installed\n2:22.0.2\n@@stackts:candidate\n@@stackts:registry-package\n@@stackts:registry\n';
    expect(parseReleaseProbe(withPackage).hasGlanceRegistry).toBe(true);
  });
});

describe('detectRelease', () => {
  it('debian: one probe with dpkg-query and apt-cache policy', async () => {
    const h = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/dpkg-query/, {
      stdout: '@@stackts:installed\n@@stackts:candidate\n2:22.0.2-0+deb12u6\n@@stackts:registry\n',
    });
    expect(await detectRelease(h, DEBIAN_SYSV)).toEqual({ name: 'zed', keystoneMajor: 22, hasGlanceRegistry: false });
    expect(h.commandLines).toHaveLength(1);
    expect(h.commandLines[0]).toContain('apt-cache policy keystone');
  });
  it('rhel: rpm for installed, dnf from cache for candidate', () => {
    const c = releaseProbeCommand(RHEL_SYSTEMD);
    expect(c).toContain("rpm -q --qf '%{VERSION}\\n' openstack-keystone");
    expect(c).toContain('dnf -q -C info --available openstack-keystone');
    expect(releaseProbeCommand({ ...RHEL_SYSTEMD, version: '7' })).toContain('yum -q -C info');
  });
});
