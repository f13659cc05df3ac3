// The same all-in-one, but with the local host layer: stack.ts itself runs on a fresh isolated
// test host (TARGET_HOST=local, commands through execa, files through node:fs), as a user who
// clones the repo onto the machine they want the cloud on would run it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestHosts, type TestHosts } from '../hosts/index.ts';
import { SshHost } from '../../lib/host/ssh.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const ADMIN_PASSWORD = `L0cal$adm'n @:/%#`;

let hosts: TestHosts;
let ssh: SshHost;
let work: string;

const run = (cmd: string, timeoutMs = 1_500_000) => ssh.run(cmd, { check: false, timeoutMs });

describe.sequential('all-in-one with the local host layer, stack.ts running on the host itself', () => {
  beforeAll(async () => {
    hosts = await startTestHosts({ count: 1, prefix: 'stl', log: (l) => process.stderr.write(`[hosts] ${l}\n`) });
    const h = hosts.hosts[0]!;
    work = mkdtempSync(join(tmpdir(), 'stackts-local-'));
    // The checkout and this machine's Node go onto the host through its root filesystem.
    mkdirSync(join(h.rootDir, 'opt', 'stack.ts'), { recursive: true });
    await execa('sh', ['-c', `tar -C "$1" --exclude=./.git --exclude=./.stack --exclude=./files/images -cf - . | tar -C "$2" -xf -`, 'sh', REPO, join(h.rootDir, 'opt', 'stack.ts')]);
    copyFileSync(process.execPath, join(h.rootDir, 'usr', 'local', 'bin', 'node'));
    await execa('chmod', ['0755', join(h.rootDir, 'usr', 'local', 'bin', 'node')]);
    writeFileSync(join(work, 'seed.raw'), Buffer.alloc(1024 * 1024, 'local layer image '));
    await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', join(work, 'seed.raw'), join(h.rootDir, 'root', 'local.qcow2')]);
    writeFileSync(
      join(h.rootDir, 'root', 'localrc'),
      ['TARGET_HOST=local', 'VIRT_DRIVER=fake', 'APT_UNSAFE_IO=True', 'IMAGE_URLS=/root/local.qcow2', `ADMIN_PASSWORD='${ADMIN_PASSWORD.replace(/'/g, `'\\''`)}'`, ''].join('\n'),
    );
    ssh = new SshHost({ host: h.address, privateKey: h.keyPath, log: new MemoryLogger(), commandTimeoutMs: 1_500_000 });
  }, 900_000);

  afterAll(async () => {
    await ssh?.close();
    await hosts?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('stacks and verifies on the host it runs on', async () => {
    const r = await run('cd /root && CI=true /opt/stack.ts/stack.ts --config /root/localrc --verbose 2>&1');
    expect(r.exitCode, r.stdout.split('\n').slice(-60).join('\n')).toBe(0);
    expect(r.stdout).toMatch(/OpenStack 2022\.2 \(zed\) is up on local\./);
    expect(r.stdout).not.toContain(ADMIN_PASSWORD);
    const list = await run('openstack --os-cloud stack image list -f value -c Name -c Status');
    expect(list.stdout.trim()).toBe('local active');
  }, 1_500_000);

  it('unstack leaves no process of the cloud', async () => {
    const r = await run('cd /root && CI=true /opt/stack.ts/stack.ts --config /root/localrc --verbose unstack 2>&1', 300_000);
    expect(r.exitCode, r.stdout).toBe(0);
    const ps = await run('ps -eo comm= | sort -u');
    expect(ps.stdout.split('\n').filter((c) => /uwsgi|glance|nova|mysqld|mariadbd|beam|epmd|memcached|python3/.test(c))).toEqual([]);
  }, 300_000);
});
