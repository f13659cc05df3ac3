// Against this machine's real dpkg and apt (Debian): what is installed, the release probe, and a
// failing transaction's message. Nothing here changes the machine's packages: the only apt-get
// install asks for a package that does not exist, so apt stops before dpkg runs.

import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalHost } from '../../lib/host/local.ts';
import type { HostFacts } from '../../lib/host/types.ts';
import { installPackages, missingPackages } from '../../lib/packages.ts';
import { StackError } from '../../lib/errors.ts';
import { detectRelease, releaseFromKeystoneVersion } from '../../lib/release.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';

const isDebian = existsSync('/usr/bin/dpkg-query') && existsSync('/usr/bin/apt-get');

describe.runIf(isDebian)('packages on this machine', () => {
  let host: LocalHost;
  let facts: HostFacts;
  const policy = '/usr/sbin/policy-rc.d';
  const policyBefore = existsSync(policy) ? readFileSync(policy, 'utf8') : null;

  beforeAll(async () => {
    host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 120_000 });
    facts = await host.facts();
  });
  afterAll(async () => {
    await host.close();
  });

  it('missingPackages tells installed from missing in one command', async () => {
    const log = new MemoryLogger();
    const h = new LocalHost({ log, commandTimeoutMs: 60_000 });
    const missing = await missingPackages(h, facts, ['coreutils', 'stackts-no-such-package', 'dpkg']);
    expect(missing).toEqual(['stackts-no-such-package']);
    expect(log.records).toHaveLength(1);
  });

  it('detectRelease agrees with apt-cache policy keystone', async () => {
    const policyOut = execFileSync('apt-cache', ['policy', 'keystone'], { encoding: 'utf8' });
    const installed = /Installed: (\S+)/.exec(policyOut)?.[1];
    const candidate = /Candidate: (\S+)/.exec(policyOut)?.[1];
    const v = installed && installed !== '(none)' ? installed : candidate && candidate !== '(none)' ? candidate : '';
    const r = await detectRelease(host, facts);
    expect(r).toEqual(releaseFromKeystoneVersion(v));
    if (facts.codename === 'bookworm' && v !== '') expect(r.name).toBe('zed');
  });

  it('a package apt cannot find fails with apt\'s own error line, and the host\'s policy-rc.d is as before', async () => {
    const err = await installPackages(host, facts, ['stackts-no-such-package'], { recommends: false, unsafeIo: false, offline: true }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StackError);
    expect((err as StackError).message).toMatch(/apt-get could not install packages on local \(exit code 100\)/);
    expect((err as StackError).logTail?.lines).toMatch(/E: Unable to locate package stackts-no-such-package/);
    expect((err as StackError).hint).toMatch(/offline installation skips apt-get update/);
    expect(existsSync(policy) ? readFileSync(policy, 'utf8') : null).toBe(policyBefore);
  });
});
