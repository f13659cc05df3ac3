// End-to-end test of the harness's Debian suite parameter: a trixie host beside the default
// bookworm base, both bases cached side by side, one apt proxy serving the suite asked for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseRecipe, findBase } from './base-rootfs.ts';
import { sshExec, startTestHosts, type TestHosts } from './index.ts';

describe('test hosts of Debian 13 (trixie)', () => {
  let th: TestHosts;

  beforeAll(async () => {
    th = await startTestHosts({ count: 1, suite: 'trixie', prefix: 'sts', log: (l) => console.log(l) });
  }, 900_000);

  afterAll(async () => {
    await th?.stop();
  });

  const on = async (cmd: string) => {
    const r = await sshExec(th, th.hosts[0]!, cmd);
    if (r.exitCode !== 0) throw new Error(`${cmd} -> exit ${r.exitCode}: ${r.stderr}`);
    return r.stdout.trim();
  };

  it('runs Debian 13 and reads trixie (with its updates and security suites) through the apt proxy', async () => {
    expect(th.suite).toBe('trixie');
    expect(await on('. /etc/os-release && echo "$VERSION_ID $VERSION_CODENAME"')).toBe('13 trixie');
    const update = await on('apt-get update 2>&1');
    expect(update).toMatch(/(Get|Hit):\d+ http\S+ trixie /);
    expect(update).toMatch(/trixie-security/);
    expect(update).not.toMatch(/^(W|E):/m);
    // Epoxy: keystone 27 is what trixie carries.
    expect(await on('apt-cache policy keystone')).toMatch(/Candidate: 2:27\./);
  }, 120_000);

  it('keeps its base beside the bookworm one instead of replacing it', async () => {
    expect(findBase(baseRecipe('trixie'))).toMatch(/base-trixie-/);
    // Starting bookworm hosts afterwards uses (or builds) its own base; the trixie one stays.
    const bw = await startTestHosts({ count: 1, prefix: 'stc', log: () => {} });
    try {
      expect(bw.suite).toBe('bookworm');
      expect((await sshExec(bw, bw.hosts[0]!, '. /etc/os-release && echo $VERSION_CODENAME')).stdout.trim()).toBe('bookworm');
    } finally {
      await bw.stop();
    }
    expect(findBase(baseRecipe('trixie'))).toMatch(/base-trixie-/);
    expect(findBase(baseRecipe('bookworm'))).toBeDefined();
  }, 600_000);
});
