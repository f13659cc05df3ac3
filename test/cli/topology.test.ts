// Bad topologies through the command line: each exits 2 naming the hosts file line or the host,
// before any host is changed. The hosts are a real sshd on loopback and this machine ("local");
// `plan` and a refused `stack` only read.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { freePort, makeKey, startSshd, type Sshd } from '../fixtures/sshd.ts';

const REPO = resolve(import.meta.dirname, '..', '..');

describe('a bad hosts file or host exits 2 before anything changes', () => {
  let sshd: Sshd;
  let dir: string;
  let wrongKey: string;
  let closedPort: number;

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'stackts-topology-'));
    wrongKey = makeKey(join(dir, 'not_authorized'));
    closedPort = await freePort();
  });
  afterAll(async () => {
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const host = (name: string, address: string, roles: string, extra = '') =>
    `  - name: ${name}\n    address: ${address}\n    roles: [${roles}]\n${extra}`;
  const run = async (command: string, hostsYaml: string) => {
    writeFileSync(join(dir, 'hosts.yaml'), hostsYaml);
    writeFileSync(join(dir, 'localrc'), `HOSTS_FILE=hosts.yaml\nSSH_KEY=${sshd.keyPath}\nVIRT_DRIVER=fake\n`);
    return execa(join(REPO, 'stack.ts'), [command, '--config', join(dir, 'localrc')], { cwd: dir, reject: false, env: { CI: 'true' } });
  };
  const sshTarget = () => `root@127.0.0.1:${sshd.port}`;

  it.each([
    ['a YAML syntax error (stack)', 'stack', () => `hosts:\n${host('ctl', 'root@192.0.2.1', 'controller, database, messaging')}  - name: [c1\n`, /hosts\.yaml:\d+: not valid YAML/],
    ['a singleton on two hosts (stack)', 'stack', () => `hosts:\n${host('ctl', 'root@192.0.2.1', 'controller, database, messaging')}${host('c1', 'root@192.0.2.2', 'compute, database')}`, /hosts\.yaml:5: mysql is on 2 hosts/],
    ['an unreachable host', 'plan', () => `hosts:\n${host('ctl', sshTarget(), 'controller, database, messaging')}${host('c1', `root@127.0.0.1:${closedPort}`, 'compute', '    ip: 192.0.2.2\n')}`, /host c1 \(hosts\.yaml:5\): cannot reach root@127\.0\.0\.1:\d+: .*refused/],
    ['a wrong key', 'plan', () => `hosts:\n${host('ctl', sshTarget(), 'controller, database, messaging')}${host('c1', sshTarget(), 'compute', `    ip: 192.0.2.2\n    ssh_key: ${wrongKey}\n`)}`, /host c1 \(hosts\.yaml:5\): cannot reach root@127\.0\.0\.1:\d+: .*(key|auth)/i],
    ['two hosts at one address', 'plan', () => `hosts:\n${host('ctl', sshTarget(), 'controller, database, messaging')}${host('c1', `root@localhost:${sshd.port}`, 'compute')}`, /host c1 \(hosts\.yaml:5\) and host ctl are both at 127\.0\.0\.1/],
    [
      'a host on which another host name resolves elsewhere',
      'plan',
      () => `hosts:\n${host('localhost', sshTarget(), 'controller, database, messaging', '    ip: 192.0.2.50\n')}${host('other', 'local', 'compute', '    ip: 192.0.2.51\n')}`,
      /on other, the name localhost resolves to 127\.0\.0\.1, but host localhost is at 192\.0\.2\.50/,
    ],
  ])('%s', async (_what, command, yaml, expected) => {
    const r = await run(command, yaml());
    expect(r.stderr).toMatch(expected);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).not.toContain('Plan for');
  });
});
