// End-to-end test of the test-host harness itself: real namespaces, overlays, sshd, apt proxy.
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshExec, startTestHosts, type TestHosts } from './index.ts';
import { isAlive, run } from './proc.ts';

describe('test hosts (2 hosts in network namespaces)', () => {
  let th: TestHosts;
  const lines: string[] = [];

  beforeAll(async () => {
    th = await startTestHosts({ count: 2, log: (l) => (lines.push(l), console.log(l)) });
  }, 600_000);

  afterAll(async () => {
    await th?.stop();
  });

  const on = async (i: number, cmd: string) => {
    const r = await sshExec(th, th.hosts[i]!, cmd);
    if (r.exitCode !== 0) throw new Error(`${th.hosts[i]!.name}: ${cmd} -> exit ${r.exitCode}: ${r.stderr}`);
    return r.stdout.trim();
  };

  it('gives each host its own hostname, reachable over SSH with strict host keys', async () => {
    expect(th.hosts.map((h) => h.name)).toEqual(['h1', 'h2']);
    expect(await on(0, 'hostname')).toBe('h1');
    expect(await on(1, 'hostname')).toBe('h2');
    expect(th.hosts[0]!.target).toBe(`root@${th.hosts[0]!.address}`);
  });

  it('connects the hosts to each other by name, and to nothing else', async () => {
    await on(0, 'ping -c1 -W2 h2');
    expect(await on(0, `bash -c 'exec 3<>/dev/tcp/${th.hosts[1]!.address}/22 && head -c 7 <&3'`)).toBe('SSH-2.0');
    expect(await on(1, 'getent hosts h1')).toContain(th.hosts[0]!.address);
    expect(await on(0, 'ip route show default')).toBe('');
  });

  it('runs apt-get update through the apt proxy', async () => {
    const out = await on(0, 'apt-get update 2>&1');
    expect(out).toMatch(/(Get|Hit):\d+ http/);
    expect(out).not.toMatch(/^(W|E):/m);
    expect(await on(0, 'apt-cache policy openssh-server')).toMatch(/Candidate: \S+/);
    expect(await on(0, 'apt-config dump Acquire::http::Proxy')).toContain(th.proxyUrl);
    // A real install (download through the proxy, dpkg with maintainer scripts), then use it.
    await on(0, 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends netcat-openbsd');
    await on(0, `nc -z -w 3 h2 22`);
  }, 180_000);

  it('isolates the file systems of the hosts from each other and from this machine', async () => {
    const name = `/root/isolation-${randomBytes(6).toString('hex')}`;
    await on(0, `echo from-h1 > ${name}`);
    expect(readFileSync(`${th.hosts[0]!.rootDir}${name}`, 'utf8')).toBe('from-h1\n'); // the file is really there...
    expect(existsSync(name)).toBe(false); // ...but not on this machine's /
    expect((await sshExec(th, th.hosts[1]!, `test -e ${name}`)).exitCode).toBe(1); // nor on h2
  });

  it('runs tini as PID 1 with sshd as its grandchild, not systemd', async () => {
    expect(await on(0, 'cat /proc/1/comm')).toBe('tini');
    expect(await on(1, 'ps -o comm= -p 1')).toBe('tini');
    // The harness's own processes on this machine are invisible inside the host.
    expect(Number(await on(0, 'ls /proc | grep -c "^[0-9]"'))).toBeLessThan(20);
    // sshd is not tini's child: restarting it (as an installer might) keeps the host up.
    await on(1, 'service ssh restart');
    // The new sshd takes a moment to listen on a loaded machine: the host answering at all is the point.
    let name = '';
    for (let i = 0; i < 40 && name !== 'h2'; i++) {
      name = await on(1, 'hostname').catch(() => '');
      if (name !== 'h2') await new Promise((r) => setTimeout(r, 250));
    }
    expect(name).toBe('h2');
  });

  it('reports how long each start-up step took', () => {
    for (const step of ['base rootfs', 'network', 'apt proxy', 'host start', 'ssh ready']) {
      expect(th.timings[step], step).toBeGreaterThanOrEqual(0);
    }
    expect(lines.some((l) => /host start \d+\.\d\d s/.test(l))).toBe(true);
  });

  it('stop() leaves no namespace, bridge, mount, process or run dir behind', async () => {
    const info = th.run;
    expect(info.pids.every(isAlive)).toBe(true);
    await th.stop();
    const netns = run('ip', ['netns', 'list']).stdout;
    for (const ns of info.netns) expect(netns).not.toContain(ns);
    expect(run('ip', ['link', 'show', 'dev', info.bridge], { allowFail: true }).status).not.toBe(0);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(info.runDir);
    for (const pid of info.pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    expect(existsSync(info.runDir)).toBe(false);
    await th.stop(); // idempotent
  });
});
