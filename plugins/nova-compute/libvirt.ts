// libvirt and QEMU for nova-compute's libvirt driver: the host probe (KVM or TCG), the daemons
// (libvirtd and virtlogd, which keeps each guest's console log that os-getConsoleOutput reads),
// the qemu.conf lines this host needs, and what is left of guests at unstack/clean.
//
// With systemd the packages' own units run them. Without it (containers, WSL, the test hosts)
// nothing starts them on install, so stack.ts runs both in the foreground under its daemon layer,
// like every other service it starts.

import { StackError } from '../../lib/errors.ts';
import { type StackContext } from '../../lib/plugin.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { sh } from '../../lib/shell.ts';
import { memoKey } from '../../lib/cloud-state.ts';

export const QEMU_CONF = '/etc/libvirt/qemu.conf';
export const LIBVIRTD_LOG = '/var/log/libvirt/libvirtd.out';
export const QEMU_LOG_DIR = '/var/log/libvirt/qemu';
/** The user QEMU runs as (Debian's libvirt-daemon-system), and the group that owns /dev/kvm. */
export const QEMU_USER = 'libvirt-qemu';

/** A guest of the verify flavor (128 MiB) plus QEMU's own overhead and libvirtd. */
export const GUEST_MIN_MEM_MB = 384;

/** What the host offers a hypervisor; read once per run by probeHost. */
export interface HostProbe {
  readonly arch: string;
  readonly kvmDevice: boolean;
  /** /dev/kvm opened read-write (as the qemu user when it exists, else as root). */
  readonly kvmUsable: boolean;
  /** vmx (Intel) or svm (AMD) in /proc/cpuinfo, '' when neither. */
  readonly cpuFlag: string;
  readonly memAvailableMb: number;
  /** A cgroup filesystem is mounted and writable: libvirt can put guests in cgroups. */
  readonly cgroupsUsable: boolean;
}

export type VirtType = 'kvm' | 'qemu';

export interface Finding {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly hint: string;
}

/** One shell command; prints key=value lines parseProbe reads. */
export const PROBE_COMMAND = [
  'echo "arch=$(uname -m)"',
  'if [ -c /dev/kvm ]; then echo kvm=present; else echo kvm=absent; fi',
  // Opening it is the only real test: the node can exist where the kernel has no KVM (ENXIO) or it is not ours.
  `if id ${QEMU_USER} >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; then ` +
    `setpriv --reuid=${QEMU_USER} --regid=$(id -g ${QEMU_USER}) --init-groups sh -c 'exec 3<>/dev/kvm' 2>/dev/null && echo kvmopen=ok || echo kvmopen=fail; ` +
    `else (exec 3<>/dev/kvm) 2>/dev/null && echo kvmopen=ok || echo kvmopen=fail; fi`,
  `echo "cpuflag=$(grep -m1 -owE 'vmx|svm' /proc/cpuinfo 2>/dev/null | head -n1)"`,
  `echo "memavail=$(awk '/^MemAvailable:/{print int($2/1024)}' /proc/meminfo)"`,
  // Read-only (a container's /sys) or not mounted at all: libvirt must not try to use them.
  `if awk '$2=="/sys/fs/cgroup" && $3 ~ /^cgroup/ {f=1} END{exit !f}' /proc/self/mounts && [ -w /sys/fs/cgroup ]; then echo cgroups=yes; else echo cgroups=no; fi`,
].join('; ');

export function parseProbe(text: string): HostProbe {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(line.trim());
    if (m) kv.set(m[1]!, m[2]!.trim());
  }
  return {
    arch: kv.get('arch') ?? '',
    kvmDevice: kv.get('kvm') === 'present',
    kvmUsable: kv.get('kvm') === 'present' && kv.get('kvmopen') === 'ok',
    cpuFlag: kv.get('cpuflag') ?? '',
    memAvailableMb: Number.parseInt(kv.get('memavail') ?? '', 10) || 0,
    cgroupsUsable: kv.get('cgroups') === 'yes',
  };
}

/** Each host's own probe, made once per run. */
const PROBE = memoKey<HostProbe>('libvirt.probe');

export async function probeHost(ctx: StackContext): Promise<HostProbe> {
  return ctx.cloud.perHost(PROBE, ctx.host.name, async () => {
    const r = await ctx.host.run(PROBE_COMMAND, { check: false, label: 'libvirt: /dev/kvm, CPU flags, memory, cgroups' });
    return parseProbe(r.stdout);
  });
}

export const virtType = (p: HostProbe): VirtType => (p.kvmUsable ? 'kvm' : 'qemu');

/** One line for the summary and `status`: which hypervisor guests get, and why. */
export function describeHypervisor(p: HostProbe): string {
  if (p.kvmUsable) return 'libvirt/KVM (virt_type=kvm, /dev/kvm usable by the qemu user)';
  const why = p.kvmDevice ? '/dev/kvm exists but cannot be opened' : 'no /dev/kvm';
  return `libvirt/QEMU TCG (virt_type=qemu: ${why}; guests run emulated, 10-50x slower)`;
}

/** Architectures whose QEMU system emulator the nova-compute package list installs. */
const SUPPORTED_ARCH = new Set(['x86_64', 'aarch64']);

/** Preflight for VIRT_DRIVER=libvirt: errors where libvirt cannot work at all, warnings where it falls back to TCG. */
export function libvirtFindings(host: string, p: HostProbe): Finding[] {
  const out: Finding[] = [];
  const useFake = 'Set VIRT_DRIVER=fake in your localrc for a cloud without a hypervisor (servers become ACTIVE but no guest runs).';
  if (!SUPPORTED_ARCH.has(p.arch)) {
    out.push({ severity: 'error', message: `${host} is ${p.arch || 'of an unknown architecture'}: stack.ts installs QEMU for x86_64 and aarch64 only.`, hint: useFake });
  }
  if (p.memAvailableMb < GUEST_MIN_MEM_MB) {
    out.push({
      severity: 'error',
      message: `${host} has ${p.memAvailableMb} MiB available beyond the cloud's services; one small guest with QEMU and libvirtd needs about ${GUEST_MIN_MEM_MB} MiB.`,
      hint: `Free memory on ${host}, or ${useFake[0]!.toLowerCase()}${useFake.slice(1)}`,
    });
  }
  if (!p.kvmDevice) {
    out.push({
      severity: 'warning',
      message: `${host} has no /dev/kvm: guests will run on QEMU's TCG emulation (virt_type=qemu), slowly.`,
      hint: p.cpuFlag
        ? 'The CPU has virtualization extensions: load the kvm module (modprobe kvm_intel or kvm_amd) or pass /dev/kvm into this container.'
        : 'The CPU shows no vmx/svm flag: enable virtualization in the firmware, or nested virtualization for this VM.',
    });
  } else if (!p.kvmUsable) {
    out.push({
      severity: 'warning',
      message: `${host} has /dev/kvm but the qemu user (${QEMU_USER}) cannot open it: guests will run on TCG (virt_type=qemu).`,
      hint: `Check its owner and mode (crw-rw---- root:kvm) and that ${QEMU_USER} is in group kvm.`,
    });
  } else if (!p.cpuFlag) {
    out.push({ severity: 'warning', message: `${host}: /dev/kvm works but /proc/cpuinfo shows no vmx/svm flag.`, hint: 'Nested virtualization may hide the flag; KVM is used as it opened.' });
  }
  return out;
}

export async function preflightLibvirt(ctx: StackContext): Promise<void> {
  const findings = libvirtFindings(ctx.host.name, await probeHost(ctx));
  for (const f of findings.filter((x) => x.severity === 'warning')) ctx.log.warn(`${f.message} ${f.hint}`);
  const errors = findings.filter((x) => x.severity === 'error');
  if (errors.length) {
    throw new StackError(`libvirt cannot run guests on ${ctx.host.name}; nothing was changed:\n${errors.map((e) => `  - ${e.message}`).join('\n')}`, errors.map((e) => e.hint).join(' '));
  }
}

/**
 * virtlogd first: libvirtd hands each guest's console to it, and a guest started while it is down
 * fails. Without systemd both run in the foreground (no --daemon), so the daemon layer holds their pids.
 */
export function libvirtDaemons(ctx: StackContext): DaemonSpec[] {
  if (ctx.facts.init === 'systemd') {
    // Debian's units; virtlogd is socket-activated, so its socket is what must be up.
    return [
      { name: 'virtlogd', unit: 'virtlogd.socket' },
      { name: 'libvirtd', unit: 'libvirtd' },
    ];
  }
  const run = [{ path: '/run/libvirt', owner: 'root:root' }];
  return [
    { name: 'virtlogd', argv: ['/usr/sbin/virtlogd'], runtimeDirs: run, logFile: '/var/log/libvirt/virtlogd.out' },
    { name: 'libvirtd', argv: ['/usr/sbin/libvirtd'], runtimeDirs: run, logFile: LIBVIRTD_LOG },
  ];
}

const MARK = '# stack.ts:';

export const LIBVIRTD_CONF = '/etc/libvirt/libvirtd.conf';

interface OurLine {
  readonly key: string;
  readonly value: string;
  readonly why: string;
}

/**
 * A libvirt config file (qemu.conf, libvirtd.conf: `key = value` lines) with stack.ts's settings:
 * each written once with a marker comment (an earlier uncommented line for the same key is
 * commented out, or it would win), so clean can take exactly those lines back out.
 */
function withOurLines(current: string, wanted: readonly OurLine[]): string {
  const keys = new Set(wanted.map((w) => w.key));
  const kept = stripOurLines(current)
    .split('\n')
    .map((l) => {
      const key = /^\s*(\w+)\s*=/.exec(l)?.[1];
      return key && keys.has(key) ? `#${l}` : l;
    });
  while (kept.length && kept[kept.length - 1] === '') kept.pop();
  return [...kept, ...wanted.map((w) => `${w.key} = ${w.value} ${MARK} ${w.why}`), ''].join('\n');
}

/**
 * Without usable cgroups libvirt would fail every guest start. Without /dev/kvm its private /dev
 * for each guest fails too: it still lists /dev/kvm and stops at "Unable to move
 * /run/libvirt/qemu/N-instance-M.kvm mount to /dev/kvm" (seen on a test host), so the guest sees the host's /dev.
 */
export function qemuConf(current: string, p: HostProbe): string {
  const lines: OurLine[] = [];
  if (!p.cgroupsUsable) lines.push({ key: 'cgroup_controllers', value: '[ ]', why: 'no usable cgroup filesystem on this host' });
  if (!p.kvmDevice) lines.push({ key: 'namespaces', value: '[ ]', why: 'no /dev/kvm: the per-guest /dev namespace cannot be set up' });
  return withOurLines(current, lines);
}

/**
 * Where stack.ts runs libvirtd itself there is no polkit daemon to ask, and libvirt's default
 * (polkit) would refuse nova. The socket is then guarded by its group, as Debian's polkit rule
 * (members of libvirt may manage) would have it: 0770 root:libvirt and no further auth.
 */
export function libvirtdConf(current: string): string {
  const why = 'no polkit here: the socket is guarded by group libvirt';
  return withOurLines(current, [
    { key: 'unix_sock_group', value: '"libvirt"', why },
    { key: 'unix_sock_rw_perms', value: '"0770"', why },
    { key: 'auth_unix_rw', value: '"none"', why },
  ]);
}

/** A libvirt config file without stack.ts's lines (what clean writes back). */
export function stripOurLines(current: string): string {
  return current
    .split('\n')
    .filter((l) => !l.includes(MARK))
    .join('\n');
}

/**
 * Guests nova left running: libvirt starts each QEMU in its own session, so stopping libvirtd
 * does not end them. Unstack must leave no process behind; nova sees them SHUTOFF afterwards.
 */
export const DESTROY_GUESTS = `command -v virsh >/dev/null 2>&1 || exit 0; for d in $(virsh -c qemu:///system list --name 2>/dev/null); do virsh -c qemu:///system destroy "$d" >/dev/null && echo "$d"; done`;

/** What clean also removes: guests' definitions and logs of stack.ts's nova (instance-*). */
export const UNDEFINE_GUESTS = `command -v virsh >/dev/null 2>&1 || exit 0; for d in $(virsh -c qemu:///system list --all --name 2>/dev/null | grep '^instance-'); do virsh -c qemu:///system undefine --nvram "$d" >/dev/null 2>&1 || virsh -c qemu:///system undefine "$d" >/dev/null; done`;

/** libvirtd answers on its socket: what nova-compute connects to. */
export const LIBVIRT_READY = sh('virsh', '-c', 'qemu:///system', 'version');

/** The newest QEMU log of a guest: why a guest did not start or stopped. */
export const QEMU_LOG_TAIL = `f=$(ls -t ${QEMU_LOG_DIR}/*.log 2>/dev/null | head -n1); [ -n "$f" ] && echo "== $f" && tail -n 5 "$f"`;
