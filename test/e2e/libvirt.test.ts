// End to end with a real hypervisor: VIRT_DRIVER=libvirt on a fresh isolated test host, which has
// no systemd and no /dev/kvm, so stack.ts itself must start libvirtd and virtlogd and Nova runs
// the guest on QEMU's TCG. The image is a tiny bootable disk built here from Debian's kernel and
// busybox (no internet for CirrOS); verify passes only when the guest's own init has printed its
// marker on the serial console and Nova's os-getConsoleOutput returned it.
// One stacked cloud serves every check in order: stack, status, unstack (no qemu or libvirt
// process left), clean.

import { e2eDescribe } from './pending.ts';
import { newestLogTail } from './run-log.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestHosts, testHostSettings, type TestHosts } from '../hosts/index.ts';
import { SshHost } from '../../lib/host/ssh.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';
import { BOOT_MARKER, bootImage } from '../fixtures/boot-image.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const STACK = join(REPO, 'stack.ts');

let hosts: TestHosts;
let work: string;
let ssh: SshHost;
let baseLocalrc: string;

async function stack(args: string[], extraLocalrc: string[] = []) {
  writeFileSync(join(work, 'localrc'), [baseLocalrc, ...extraLocalrc, ''].join('\n'));
  const r = await execa(STACK, ['--config', join(work, 'localrc'), '--verbose', ...args], { cwd: work, reject: false, all: true, env: { CI: 'true' }, timeout: 2_900_000 });
  if (r.exitCode !== 0) r.all = `${r.all}\n--- tail of the run log ---\n${newestLogTail(work)}`;
  return r;
}

const onHost = (cmd: string) => ssh.run(cmd, { check: false, timeoutMs: 120_000 });

/** Hypervisor processes on the host: QEMU guests, libvirtd, virtlogd. */
async function hypervisorProcesses(): Promise<string[]> {
  const r = await onHost('ps -eo comm= | sort -u');
  return r.stdout.split('\n').filter((c) => /qemu|libvirtd|virtlogd/.test(c));
}

e2eDescribe(undefined)('all-in-one with libvirt/QEMU (TCG) on a host without systemd', () => {
  beforeAll(async () => {
    const log = (l: string) => process.stderr.write(`[libvirt e2e] ${l}\n`);
    const image = await bootImage(log);
    hosts = await startTestHosts({ count: 1, prefix: 'stv', log });
    work = mkdtempSync(join(tmpdir(), 'stackts-libvirt-'));
    const h = hosts.hosts[0]!;
    baseLocalrc = [
      ...testHostSettings(hosts, h),
      'VIRT_DRIVER=libvirt',
      'APT_UNSAFE_IO=True',
      'COMMAND_TIMEOUT=3000',
      `IMAGE_URLS=file://${image}`,
      `VERIFY_CONSOLE_PATTERN=${BOOT_MARKER}`,
    ].join('\n');
    ssh = new SshHost({ host: h.address, privateKey: h.keyPath, log: new MemoryLogger(), commandTimeoutMs: 120_000 });
  }, 900_000);

  afterAll(async () => {
    await ssh?.close();
    await hosts?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('stacks, starts libvirtd itself, and verify sees the guest boot marker on its console', async () => {
    // The premise: nothing on this host would start libvirtd for us.
    expect((await onHost('readlink /proc/1/exe')).stdout).not.toMatch(/systemd/);
    const r = await stack([]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/no \/dev\/kvm: guests will run on QEMU's TCG/);
    expect(r.all).toMatch(new RegExp(`guest booted: "${BOOT_MARKER} kernel \\S+ up [\\d.]+ s" on the console [\\d.]+ s after server create`));
    expect(r.all).toMatch(/Hypervisor: +libvirt\/QEMU TCG \(virt_type=qemu/);
    // The guest was deleted again; libvirtd and virtlogd stay for the next server.
    expect(await hypervisorProcesses()).toEqual(expect.arrayContaining(['libvirtd', 'virtlogd']));
    expect((await hypervisorProcesses()).filter((c) => /qemu/.test(c))).toEqual([]);
    expect((await onHost("sed -n '/^\\[libvirt\\]/,/^\\[/p' /etc/nova/nova-compute.conf")).stdout).toMatch(/virt_type = qemu/);
  }, 3_000_000);

  it('status shows libvirtd and virtlogd running and names the hypervisor', async () => {
    const r = await stack(['status']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/nova-compute +libvirtd +running \(pid \d+\)/);
    expect(r.all).toMatch(/nova-compute +virtlogd +running \(pid \d+\)/);
    expect(r.all).toMatch(/Hypervisor: libvirt\/QEMU TCG/);
  }, 300_000);

  it('unstack leaves no qemu, libvirtd or virtlogd process', async () => {
    const r = await stack(['unstack']);
    expect(r.exitCode, r.all).toBe(0);
    expect(await hypervisorProcesses()).toEqual([]);
  }, 300_000);

  it('clean removes what stack made and takes its lines out of qemu.conf', async () => {
    const r = await stack(['clean']);
    expect(r.exitCode, r.all).toBe(0);
    expect(await hypervisorProcesses()).toEqual([]);
    const left = await onHost('grep -l "stack.ts:" /etc/libvirt/qemu.conf; ls /etc/libvirt/qemu/instance-*.xml /var/lib/nova/instances /etc/nova/nova-compute.conf 2>/dev/null');
    expect(left.stdout.trim()).toBe('');
  }, 600_000);
});
