import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { arch } from 'node:os';
import { StackError } from '../../lib/errors.ts';
import novaCompute, { COMPUTE_ID } from '../../plugins/nova-compute/index.ts';
import {
  PROBE_COMMAND,
  QEMU_CONF,
  describeHypervisor,
  libvirtDaemons,
  libvirtFindings,
  parseProbe,
  libvirtdConf,
  qemuConf,
  stripOurLines,
  virtType,
  type HostProbe,
} from '../../plugins/nova-compute/libvirt.ts';
import { consolePattern, consoleTail, waitForBootMarker } from '../../plugins/nova-compute/guest.ts';
import { computeDeathCause } from '../../plugins/nova-compute/watch.ts';
import { DEBIAN_SYSTEMD, DEBIAN_SYSV, RecordingHost, makeContext } from '../fixtures/recording-host.ts';

const TCG: HostProbe = { arch: 'x86_64', kvmDevice: false, kvmUsable: false, cpuFlag: '', memAvailableMb: 8000, cgroupsUsable: false };
const KVM: HostProbe = { ...TCG, kvmDevice: true, kvmUsable: true, cpuFlag: 'vmx', cgroupsUsable: true };
const probeText = (p: HostProbe) =>
  `arch=${p.arch}\nkvm=${p.kvmDevice ? 'present' : 'absent'}\nkvmopen=${p.kvmUsable ? 'ok' : 'fail'}\ncpuflag=${p.cpuFlag}\nmemavail=${p.memAvailableMb}\ncgroups=${p.cgroupsUsable ? 'yes' : 'no'}\n`;

describe('libvirt host probe', () => {
  it('runs on a real shell and reads this machine', async () => {
    const r = await execa('sh', ['-c', PROBE_COMMAND]);
    const p = parseProbe(r.stdout);
    expect(p.arch).toBe(arch() === 'x64' ? 'x86_64' : p.arch);
    expect(p.memAvailableMb).toBeGreaterThan(0);
    expect(p.kvmUsable).toBe(p.kvmDevice && /kvmopen=ok/.test(r.stdout));
  });

  it('kvm only where /dev/kvm opens; TCG otherwise, and says why', () => {
    expect(virtType(KVM)).toBe('kvm');
    expect(virtType(TCG)).toBe('qemu');
    expect(virtType({ ...KVM, kvmUsable: false })).toBe('qemu');
    expect(describeHypervisor(TCG)).toMatch(/QEMU TCG .*no \/dev\/kvm/);
    expect(describeHypervisor({ ...KVM, kvmUsable: false })).toMatch(/cannot be opened/);
    expect(parseProbe('kvm=present\nkvmopen=fail\n').kvmUsable).toBe(false);
  });
});

describe('libvirt preflight', () => {
  it('warns (TCG fallback) without /dev/kvm, and names what to do by CPU flag', () => {
    const f = libvirtFindings('h1', TCG);
    expect(f.map((x) => x.severity)).toEqual(['warning']);
    expect(f[0]!.message).toMatch(/no \/dev\/kvm.*TCG/);
    expect(f[0]!.hint).toMatch(/no vmx\/svm/);
    expect(libvirtFindings('h1', { ...TCG, cpuFlag: 'svm' })[0]!.hint).toMatch(/modprobe/);
    expect(libvirtFindings('h1', KVM)).toEqual([]);
  });

  it('stops before anything changes where no guest fits or QEMU is not installed, naming VIRT_DRIVER=fake', async () => {
    const host = new RecordingHost().reply(/uname -m/, { stdout: probeText({ ...TCG, memAvailableMb: 200, arch: 'ppc64le' }) });
    const ctx = makeContext(host, DEBIAN_SYSV);
    const err = await novaCompute.preflight!(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    expect((err as StackError).message).toMatch(/200 MiB available/);
    expect((err as StackError).message).toMatch(/ppc64le/);
    expect((err as StackError).hint).toMatch(/VIRT_DRIVER=fake/);
    expect(host.writes).toEqual([]);
  });

  it('asks nothing of the host with the fake driver', async () => {
    const host = new RecordingHost();
    await novaCompute.preflight!(makeContext(host, DEBIAN_SYSV, { VIRT_DRIVER: 'fake' }));
    expect(host.commands).toEqual([]);
  });
});

describe('libvirt config', () => {
  const packaged = '# qemu.conf\n#cgroup_controllers = [ "cpu" ]\nuser = "libvirt-qemu"\n';

  it('turns cgroups off only where they cannot be used; clean takes exactly its lines back', () => {
    const off = qemuConf(packaged, TCG);
    expect(off).toMatch(/^cgroup_controllers = \[ \] # stack\.ts:/m);
    expect(stripOurLines(off)).toBe(packaged);
    expect(qemuConf(off, TCG)).toBe(off);
    expect(qemuConf(packaged, KVM)).toBe(packaged);
    expect(off).toMatch(/^namespaces = \[ \] # stack\.ts: no \/dev\/kvm/m);
    expect(qemuConf(packaged, { ...TCG, cgroupsUsable: true })).not.toMatch(/^cgroup_controllers/m);
    // An earlier setting of the same key would win over ours otherwise: it is commented out.
    expect(qemuConf('cgroup_controllers = [ "cpu" ]\n', TCG)).toMatch(/^#cgroup_controllers = \[ "cpu" \]\ncgroup_controllers = \[ \]/);
  });

  it('libvirtd.conf: group-guarded socket without polkit, reversible', () => {
    const packaged = '#unix_sock_group = "libvirt"\n#auth_unix_rw = "polkit"\n';
    const ours = libvirtdConf(packaged);
    expect(ours).toMatch(/^unix_sock_group = "libvirt" # stack\.ts:/m);
    expect(ours).toMatch(/^unix_sock_rw_perms = "0770" # stack\.ts:/m);
    expect(ours).toMatch(/^auth_unix_rw = "none" # stack\.ts:/m);
    expect(stripOurLines(ours)).toBe(packaged);
  });

  it('nova-compute.conf gets the libvirt driver with virt_type from the probe, and qemu.conf is rendered', async () => {
    const host = new RecordingHost({ files: { [QEMU_CONF]: packaged } }).reply(/uname -m/, { stdout: probeText(TCG) });
    const files = await novaCompute.configFiles!(makeContext(host, DEBIAN_SYSV));
    const conf = files.find((f) => f.path === '/etc/nova/nova-compute.conf')!.content;
    expect(conf).toMatch(/compute_driver = libvirt\.LibvirtDriver/);
    expect(conf).toMatch(/\[libvirt\][^[]*virt_type = qemu/);
    expect(conf).toMatch(/cpu_mode = none/);
    expect(files.find((f) => f.path === QEMU_CONF)!.mode).toBe(0o600);
    expect(files.map((f) => f.path)).toContain('/etc/libvirt/libvirtd.conf');
    const sd = new RecordingHost().reply(/uname -m/, { stdout: probeText(TCG) });
    expect((await novaCompute.configFiles!(makeContext(sd, DEBIAN_SYSTEMD))).map((f) => f.path)).not.toContain('/etc/libvirt/libvirtd.conf');
    const kvmHost = new RecordingHost().reply(/uname -m/, { stdout: probeText(KVM) });
    const kvmConf = (await novaCompute.configFiles!(makeContext(kvmHost, DEBIAN_SYSV)))[0]!.content;
    expect(kvmConf).toMatch(/virt_type = kvm/);
  });

  it('daemons: virtlogd and libvirtd before nova-compute; units on systemd, run by stack.ts without it', () => {
    const sysv = novaCompute.daemons!(makeContext(new RecordingHost(), DEBIAN_SYSV));
    expect(sysv.map((d) => d.name)).toEqual(['virtlogd', 'libvirtd', 'nova-compute']);
    expect(sysv[1]!.argv).toEqual(['/usr/sbin/libvirtd']);
    expect(sysv[1]!.runtimeDirs?.[0]?.path).toBe('/run/libvirt');
    const sd = libvirtDaemons(makeContext(new RecordingHost(), DEBIAN_SYSTEMD));
    expect(sd.map((d) => d.unit)).toEqual(['virtlogd.socket', 'libvirtd']);
    expect(novaCompute.daemons!(makeContext(new RecordingHost(), DEBIAN_SYSV, { VIRT_DRIVER: 'fake' })).map((d) => d.name)).toEqual(['nova-compute']);
  });
});

describe('boot marker on the console', () => {
  const clock = () => {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => void (t += ms) };
  };

  it('polls until the pattern appears and returns its line', async () => {
    const outputs = ['SeaBIOS\n', 'SeaBIOS\nLinux version 6.1\n', 'Linux version 6.1\nSTACKTS-GUEST-UP kernel 6.1 up 3.2 s\n'];
    let i = 0;
    const r = await waitForBootMarker(consolePattern('STACKTS-GUEST-UP'), { read: async () => outputs[i++]!, timeoutMs: 60_000, ...clock() });
    expect(r).toEqual({ seen: true, line: 'STACKTS-GUEST-UP kernel 6.1 up 3.2 s' });
    expect(i).toBe(3);
  });

  it('gives up at the timeout with the last console text', async () => {
    const r = await waitForBootMarker(/login:/m, { read: async () => 'Kernel panic - not syncing\n', timeoutMs: 10_000, intervalMs: 2000, ...clock() });
    expect(r).toEqual({ seen: false, lastOutput: 'Kernel panic - not syncing\n' });
  });

  it('stops at once when the check throws (compute died)', async () => {
    let reads = 0;
    const p = waitForBootMarker(/login:/m, {
      read: async () => (reads++, ''),
      check: async () => {
        if (reads >= 2) throw new StackError('nova-compute on h1 exited');
      },
      timeoutMs: 600_000,
      ...clock(),
    });
    await expect(p).rejects.toThrow(/nova-compute on h1 exited/);
    expect(reads).toBe(2);
  });

  it('a bad VERIFY_CONSOLE_PATTERN is named; the console tail drops escapes and blank lines', () => {
    expect(() => consolePattern('login:(')).toThrow(/VERIFY_CONSOLE_PATTERN=login:\( is not a valid regular expression/);
    expect(consoleTail('\x1b[2Ja\r\n\n b \nc', 2)).toBe(' b\nc');
  });
});

describe('a dead nova-compute names its cause', () => {
  const libvirtLog = [
    '2026-11-27 12:00:00.100 42 WARNING nova.virt.libvirt.driver [-] Connection to libvirt failed: Failed to connect socket to \'/var/run/libvirt/libvirt-sock\': No such file or directory',
    '2026-11-27 12:00:00.200 42 ERROR nova.compute.manager [-] HypervisorUnavailable: Connection to the hypervisor is broken on host: h1',
  ].join('\n');

  it('HypervisorUnavailable with libvirtd down blames libvirtd', () => {
    const d = computeDeathCause('h1', libvirtLog, false);
    expect(d.blame).toBe('libvirtd');
    expect(d.message).toBe('nova-compute on h1 exited: it cannot connect to libvirt (HypervisorUnavailable: Connection to the hypervisor is broken on host: h1)');
    expect(d.hint).toMatch(/libvirtd is not running on h1/);
    expect(computeDeathCause('h1', libvirtLog, true).hint).toMatch(/group libvirt/);
  });

  it('an error from before the window (a fault already repaired) is not given as the cause', () => {
    const log = '2026-11-27 12:00:01.1 7 ERROR oslo.messaging [-] Connection failed: [Errno 111] ECONNREFUSED\n2026-11-27 12:05:00.1 7 WARNING amqp [-] Received method (60, 30) during closing channel 1\n';
    expect(computeDeathCause('h1', log, undefined).message).toBe('nova-compute on h1 exited: Connection failed: [Errno 111] ECONNREFUSED');
    expect(computeDeathCause('h1', log, undefined, new Date('2026-11-27T12:04:00Z')).message).toBe('nova-compute on h1 exited without an error in its log');
  });

  it('any other death shows its last CRITICAL line', () => {
    const d = computeDeathCause('h1', '2026-11-27 12:00:00.1 7 ERROR nova x\n2026-11-27 12:00:01.1 7 CRITICAL nova [-] Unhandled error: oslo_config.cfg.ConfigFileValueError: bad\n', undefined);
    expect(d.message).toBe('nova-compute on h1 exited: Unhandled error: oslo_config.cfg.ConfigFileValueError: bad');
    expect(d.blame).toBeUndefined();
  });
});

describe('node identity with the fake driver', () => {
  const EPOXY = { name: 'epoxy', keystoneMajor: 27, hasGlanceRegistry: false };
  const driverOf = async (ctx: Parameters<NonNullable<typeof novaCompute.configFiles>>[0]) =>
    /compute_driver = (\S+)/.exec((await novaCompute.configFiles!(ctx)).find((f) => f.path.endsWith('nova-compute.conf'))!.content)?.[1];

  it('from 2023.1 the fake driver that keeps its node UUID in compute_id (a second start would otherwise fail); the plain one on Zed', async () => {
    expect(await driverOf({ ...makeContext(new RecordingHost(), DEBIAN_SYSV, { VIRT_DRIVER: 'fake' }), release: EPOXY })).toBe('fake.FakeDriverWithoutFakeNodes');
    expect(await driverOf(makeContext(new RecordingHost(), DEBIAN_SYSV, { VIRT_DRIVER: 'fake' }))).toBe('fake.FakeDriver');
  });

  it('clean removes the node identity with the rest of the compute state', async () => {
    const host = new RecordingHost();
    await novaCompute.clean!(makeContext(host, DEBIAN_SYSV, { VIRT_DRIVER: 'fake' }));
    expect(host.commandLines.some((c) => c.includes('rm') && c.includes(COMPUTE_ID))).toBe(true);
  });
});
