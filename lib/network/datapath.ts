// Which Open vSwitch datapath a chassis gets: the kernel's (system) where the openvswitch module is
// loaded or can be, else OVS's userspace one (netdev), which works everywhere but forwards every
// packet through ovs-vswitchd (slower; these machines' kernels have no module at all). Said in
// preflight, the summary and `status`, as KVM or TCG is.

import { memoKey } from '../cloud-state.ts';
import type { StackContext } from '../plugin.ts';

export type DatapathType = 'system' | 'netdev';

export interface DatapathProbe {
  /** /sys/module/openvswitch exists: the module is loaded (or built in). */
  readonly loaded: boolean;
  /** `modprobe -n openvswitch` found it: it can be loaded. */
  readonly loadable: boolean;
  /** /dev/net/tun exists: the userspace datapath makes its ports as tap devices there. */
  readonly tun: boolean;
}

export interface DatapathChoice {
  readonly type: DatapathType;
  /** Why, in words for the summary. */
  readonly reason: string;
  /** Set when the user should know (the slow datapath was taken, or a wish cannot be met). */
  readonly warning?: string;
  /** Set when the wish cannot be met at all. */
  readonly error?: string;
}

/** The shell line whose output probeFromOutput reads. */
export const DATAPATH_PROBE =
  '[ -c /dev/net/tun ] && echo tun; if [ -d /sys/module/openvswitch ]; then echo loaded; elif modprobe -n -q openvswitch 2>/dev/null; then echo loadable; else echo none; fi';

export const probeFromOutput = (out: string): DatapathProbe => {
  const words = out.trim().split('\n');
  const w = words[words.length - 1];
  return { loaded: w === 'loaded', loadable: w === 'loaded' || w === 'loadable', tun: words.includes('tun') };
};

/** Pure: the wish (OVS_DATAPATH_TYPE, '' = choose) against what the host's kernel has. */
export function chooseDatapath(wish: '' | DatapathType, probe: DatapathProbe, host: string): DatapathChoice {
  const kernel = probe.loaded || probe.loadable;
  if (wish === 'system' && !kernel) {
    return {
      type: 'system',
      reason: 'OVS_DATAPATH_TYPE=system',
      error: `OVS_DATAPATH_TYPE=system, but ${host}'s kernel has no openvswitch module (none loaded, and modprobe finds none)`,
    };
  }
  if (wish !== 'netdev' && kernel) return { type: 'system', reason: `the openvswitch module is ${probe.loaded ? 'loaded' : 'loadable'}` };
  if (!probe.tun) {
    return {
      type: 'netdev',
      reason: 'no openvswitch module',
      error: `${host} has ${kernel ? '' : 'no openvswitch kernel module and '}no /dev/net/tun, where Open vSwitch's userspace datapath makes its ports`,
    };
  }
  if (wish === 'netdev') return { type: 'netdev', reason: 'OVS_DATAPATH_TYPE=netdev' };
  return {
    type: 'netdev',
    reason: 'the kernel has no openvswitch module',
    warning: `${host}: the kernel has no openvswitch module; Open vSwitch uses its userspace datapath (every packet passes through ovs-vswitchd: works, slower)`,
  };
}

const DATAPATH = memoKey<DatapathChoice>('ovs.datapath');

/** The choice for ctx's host: probed once per run and host. */
export async function datapathOf(ctx: StackContext): Promise<DatapathChoice> {
  return ctx.cloud.perHost(DATAPATH, ctx.host.name, async () => {
    const r = await ctx.host.run(DATAPATH_PROBE, { check: false, label: 'openvswitch kernel module' });
    return chooseDatapath(ctx.config.settings.OVS_DATAPATH_TYPE as '' | DatapathType, probeFromOutput(r.stdout), ctx.host.name);
  });
}
