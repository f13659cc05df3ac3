// Where a chassis's Geneve tunnels start and end. By default the host's own address. With
// TUNNEL_INTERFACE, that NIC's address; and with Open vSwitch's userspace datapath the NIC is given
// to OVS: the datapath sends a tunnel's packets only out of a bridge of its own, so the NIC goes
// into br-phy and its address moves onto br-phy (saved, so that clean puts it back).

import type { StackContext } from '../plugin.ts';
import { quote, sh } from '../shell.ts';
import { waitForLink } from './wait-link.ts';

export const PHYS_BRIDGE = 'br-phy';

export interface TunnelEndpoint {
  readonly nic: string;
  /** "10.98.0.12/24" */
  readonly cidr: string;
  readonly ip: string;
}

const savedPath = (ctx: StackContext): string => `${ctx.config.settings.STACK_STATE_DIR}/tunnel-interface`;
const sysctl = (nic: string, key: string): string => quote(`/proc/sys/net/ipv4/conf/${nic}/${key}`);

/** Pure: the first IPv4 address of `ip -4 -o addr show` output, as address/prefix. */
export const firstIpv4 = (text: string): string | undefined => /\binet (\d+\.\d+\.\d+\.\d+\/\d+)/.exec(text)?.[1];

/** The NIC's address, or the one saved when br-phy took it; undefined without TUNNEL_INTERFACE or when neither is there. */
export async function tunnelEndpoint(ctx: StackContext): Promise<TunnelEndpoint | undefined> {
  const nic = ctx.config.settings.TUNNEL_INTERFACE;
  if (!nic) return undefined;
  const r = await ctx.host.run(`ip -4 -o addr show dev ${quote(nic)} 2>/dev/null; echo ---; cat ${quote(savedPath(ctx))} 2>/dev/null`, { check: false, label: `address of ${nic}` });
  const [own, saved] = r.stdout.split('---');
  const cidr = firstIpv4(own ?? '') ?? (saved ?? '').trim().split(/\s+/)[1];
  return cidr ? { nic, cidr, ip: cidr.split('/')[0]! } : undefined;
}

/** The NIC into br-phy and its address onto br-phy; again at every start (a restarted ovs-vswitchd makes br-phy's port anew, without it). */
export async function ensurePhysBridge(ctx: StackContext, ep: TunnelEndpoint): Promise<void> {
  const b = PHYS_BRIDGE;
  await ctx.host.run(
    [
      // Saved once: the NIC, its address and the two settings below as they were, for clean.
      `if [ ! -s ${quote(savedPath(ctx))} ]; then install -d -m 0755 ${quote(ctx.config.settings.STACK_STATE_DIR)} && ` +
        `echo ${quote(`${ep.nic} ${ep.cidr}`)} "$(cat ${sysctl(ep.nic, 'rp_filter')})" "$(cat ${sysctl(ep.nic, 'arp_ignore')})" > ${quote(savedPath(ctx))}; fi`,
      // The kernel still sees what arrives on the NIC: it would answer a second time (duplicate
      // pings, tunnel packets refused with ICMP, BFD flapping). Strict reverse-path filtering drops
      // it there (the address's route is br-phy's), and ARP for it is answered by br-phy alone.
      `echo 1 > ${sysctl(ep.nic, 'rp_filter')}`,
      `echo 8 > ${sysctl(ep.nic, 'arp_ignore')}`,
      // br-phy wears the NIC's MAC: the kernel still answers ARP for the address on the NIC itself,
      // and OVS takes in a tunnel's packets only when they are addressed to its bridge.
      `mac=$(cat /sys/class/net/${ep.nic}/address)`,
      `ovs-vsctl --timeout=30 --may-exist add-br ${b} -- set bridge ${b} datapath_type=netdev "other-config:hwaddr=\"$mac\"" -- --may-exist add-port ${b} ${quote(ep.nic)}`,
      waitForLink(b),
      `ip addr del ${quote(ep.cidr)} dev ${quote(ep.nic)} 2>/dev/null; true`,
      sh('ip', 'addr', 'replace', ep.cidr, 'dev', b),
      sh('ip', 'link', 'set', b, 'up'),
      sh('ip', 'link', 'set', ep.nic, 'up'),
    ].join(' && '),
    { label: `${ep.nic} into ${b} (the tunnels' NIC)` },
  );
}

/** clean: the saved address back on the NIC. br-phy itself goes with the other bridges. */
export async function restoreTunnelInterface(ctx: StackContext): Promise<void> {
  const f = quote(savedPath(ctx));
  await ctx.host.run(
    `if [ -s ${f} ]; then set -- $(cat ${f}); ip addr replace "$2" dev "$1" && ip link set "$1" up && ` +
      `{ [ -z "$3" ] || echo "$3" > "/proc/sys/net/ipv4/conf/$1/rp_filter"; } && { [ -z "$4" ] || echo "$4" > "/proc/sys/net/ipv4/conf/$1/arp_ignore"; } && rm -f ${f}; fi`,
    { check: false, label: "the tunnels' NIC gets its address and settings back" },
  );
}
