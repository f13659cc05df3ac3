// What `plan` says of the guests' networks: the two networks and the router a stack makes, and the
// datapath each chassis will use (probed read-only, as preflight does).

import type { StackContext } from '../plugin.ts';
import { datapathOf } from './datapath.ts';
import { privateNetwork, publicNetwork } from './settings.ts';

export interface NetworkReport {
  readonly private: { readonly name: string; readonly cidr: string; readonly gateway: string; readonly project: string };
  readonly public: { readonly name: string; readonly cidr: string; readonly gateway: string; readonly bridge: string; readonly host: string };
  readonly router: { readonly name: string; readonly snat: true };
  readonly datapaths: ReadonlyArray<{ readonly host: string; readonly type: string; readonly reason: string }>;
}

/** undefined when the cloud has no OVN (neutron-server without networks). */
export async function collectNetworkReport(ctxs: readonly StackContext[]): Promise<NetworkReport | undefined> {
  const first = ctxs[0];
  if (!first || !first.topology.services.has('ovn-northd')) return undefined;
  const s = first.config.settings;
  const priv = privateNetwork(first.config);
  const pub = publicNetwork(first.config);
  const chassis = ctxs.filter((c) => c.topology.hostsFor('ovn-controller').some((h) => h.name === c.host.name));
  return {
    private: { name: priv.name, cidr: priv.cidr, gateway: priv.gateway, project: s.DEMO_PROJECT },
    public: { name: pub.name, cidr: pub.cidr, gateway: pub.gateway, bridge: s.PUBLIC_BRIDGE, host: first.endpoints.hostOf['ovn-northd'] ?? first.host.name },
    router: { name: s.Q_ROUTER_NAME, snat: true },
    datapaths: await Promise.all(chassis.map(async (c) => ({ host: c.host.name, ...(({ type, reason }) => ({ type, reason }))(await datapathOf(c)) }))),
  };
}

export function formatNetworkReport(n: NetworkReport): string[] {
  return [
    'Networks:',
    `  ${n.private.name.padEnd(10)}${n.private.cidr} gateway ${n.private.gateway} (project ${n.private.project}, Geneve, DHCP)`,
    `  ${n.public.name.padEnd(10)}${n.public.cidr} gateway ${n.public.gateway} on ${n.public.bridge} of ${n.public.host} (flat, floating IPs)`,
    `  ${n.router.name.padEnd(10)}${n.private.name} -> ${n.public.name}, SNAT`,
    ...n.datapaths.map((d) => `  datapath  ${d.host}: ${d.type === 'system' ? 'kernel' : 'userspace (netdev)'}: ${d.reason}`),
  ];
}
