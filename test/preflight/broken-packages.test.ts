// A package left half-configured (a killed apt) makes every later install fail: preflight names it.
import { describe, expect, it } from 'vitest';
import { checkBrokenPackages } from '../../lib/preflight.ts';
import { DEBIAN_SYSV, RecordingHost, RHEL_SYSTEMD } from '../fixtures/recording-host.ts';

const AUDIT = `The following packages are only half configured, probably due to problems
configuring them the first time.  The configuration should be retried using
dpkg --configure <package> or the configure menu option in dselect:
 keystone             OpenStack identity service - daemons`;

describe('preflight: unfinished packages', () => {
  it('dpkg --audit output is an error that names the package and dpkg --configure -a', async () => {
    const host = new RecordingHost().reply(/dpkg --audit/, { stdout: AUDIT, exitCode: 0 });
    const [p, ...rest] = await checkBrokenPackages(host, DEBIAN_SYSV);
    expect(rest).toEqual([]);
    expect(p!.severity).toBe('error');
    expect(p!.message).toContain('keystone');
    expect(p!.hint).toContain('dpkg --configure -a');
  });

  it('a clean dpkg (and a dnf host) pass', async () => {
    expect(await checkBrokenPackages(new RecordingHost().reply(/dpkg --audit/, { stdout: '' }), DEBIAN_SYSV)).toEqual([]);
    const rhel = new RecordingHost();
    expect(await checkBrokenPackages(rhel, RHEL_SYSTEMD)).toEqual([]);
    expect(rhel.commandLines).toEqual([]);
  });
});
