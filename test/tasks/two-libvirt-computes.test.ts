// Two libvirt compute hosts of one cloud whose hardware differs: KVM on one, none on the other.
// Each host's probe is its own (a per-host memo): its own virt_type in its nova-compute.conf and
// its own hypervisor line in the summary, whichever host is probed first.
import { describe, expect, it } from 'vitest';
import novaCompute from '../../plugins/nova-compute/index.ts';
import type { HostProbe } from '../../plugins/nova-compute/libvirt.ts';
import type { RecordingHost } from '../fixtures/recording-host.ts';
import { recordingCloud } from '../fixtures/cloud.ts';

const LAYOUT = `hosts:
  - name: ctl
    address: root@10.0.0.12
    roles: [database, messaging, controller]
  - name: cpu-kvm
    address: root@10.0.0.13
    roles: [compute]
  - name: cpu-tcg
    address: root@10.0.0.14
    roles: [compute]
`;

const TCG: HostProbe = { arch: 'x86_64', kvmDevice: false, kvmUsable: false, cpuFlag: '', memAvailableMb: 8000, cgroupsUsable: false };
const KVM: HostProbe = { ...TCG, kvmDevice: true, kvmUsable: true, cpuFlag: 'vmx', memAvailableMb: 16000, cgroupsUsable: true };
const probeText = (p: HostProbe) =>
  `arch=${p.arch}\nkvm=${p.kvmDevice ? 'present' : 'absent'}\nkvmopen=${p.kvmUsable ? 'ok' : 'fail'}\ncpuflag=${p.cpuFlag}\nmemavail=${p.memAvailableMb}\ncgroups=${p.cgroupsUsable ? 'yes' : 'no'}\n`;

function cloud() {
  const probes: Record<string, HostProbe> = { 'cpu-kvm': KVM, 'cpu-tcg': TCG };
  const { ctxs } = recordingCloud(LAYOUT, { ctl: '10.0.0.12', 'cpu-kvm': '10.0.0.13', 'cpu-tcg': '10.0.0.14' }, { VIRT_DRIVER: 'libvirt' }, (name, host) => {
    if (probes[name]) host.reply(/uname -m/, { stdout: probeText(probes[name]!) });
  });
  return { kvm: ctxs.find((c) => c.host.name === 'cpu-kvm')!, tcg: ctxs.find((c) => c.host.name === 'cpu-tcg')! };
}

const virtTypeIn = async (ctx: Parameters<NonNullable<typeof novaCompute.configFiles>>[0]): Promise<string | undefined> => {
  const conf = (await novaCompute.configFiles!(ctx)).find((f) => f.path === '/etc/nova/nova-compute.conf')!.content;
  return /\[libvirt\][^[]*virt_type = (\w+)/.exec(conf)?.[1];
};

describe('two libvirt compute hosts whose probes differ', () => {
  for (const first of ['kvm', 'tcg'] as const) {
    it(`each gets its own virt_type and summary line (the ${first} host probed first)`, async () => {
      const c = cloud();
      const order = first === 'kvm' ? [c.kvm, c.tcg] : [c.tcg, c.kvm];
      for (const ctx of order) await virtTypeIn(ctx);
      expect(await virtTypeIn(c.kvm)).toBe('kvm');
      expect(await virtTypeIn(c.tcg)).toBe('qemu');
      expect(await novaCompute.describe!(c.kvm)).toEqual(['Hypervisor: libvirt/KVM (virt_type=kvm, /dev/kvm usable by the qemu user)']);
      expect(await novaCompute.describe!(c.tcg)).toEqual(['Hypervisor: libvirt/QEMU TCG (virt_type=qemu: no /dev/kvm; guests run emulated, 10-50x slower)']);
    });
  }

  it('probes each host once however often its probe is asked for', async () => {
    const c = cloud();
    for (let i = 0; i < 3; i++) for (const ctx of [c.kvm, c.tcg]) await novaCompute.describe!(ctx);
    for (const ctx of [c.kvm, c.tcg]) expect((ctx.host as RecordingHost).commandLines.filter((l) => l.includes('uname -m'))).toHaveLength(1);
  });
});
