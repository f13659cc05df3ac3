// Which network interface carries a host's address (kolla-ansible's network_interface), and which
// interfaces hold no address at all (candidates for neutron_external_interface, which kolla-ansible
// hands to Neutron's external bridge whole). One read-only command per host.

import type { Host } from '../host/types.ts';

export interface InterfaceFacts {
  /** The interface the host's address is on; undefined when none of them has it. */
  readonly carrying?: string;
  /** The interface of the default route, if there is one. */
  readonly defaultRoute?: string;
  /** Interfaces with no global address, no master (not part of a bridge or bond) and not virtual, up ones first. */
  readonly spare: readonly string[];
}

const MARK = '@@stackts:';

export const INTERFACES_COMMAND = [
  `echo '${MARK}addr'`,
  'ip -o addr show 2>/dev/null',
  `echo '${MARK}link'`,
  'ip -o -d link show 2>/dev/null',
  `echo '${MARK}route'`,
  'ip -o -4 route show default 2>/dev/null',
  'true',
].join('\n');

/**
 * Devices that are no port for Neutron's external bridge: `ip -d` names the kind of a virtual
 * device after a backslash (a bridge, a tunnel, an IFB for traffic shaping). A NIC has none; a veth
 * or a dummy is kept, being what a one-NIC machine is given for the purpose.
 */
const NOT_A_PORT = /\\\s+(bridge|ifb|tun|vxlan|geneve|openvswitch|wireguard|bond|team|ipip|sit|gre|gretap|ip6gre|ip6tnl|vti|nlmon|macvtap)\s/;
/** Names a hypervisor, a container runtime or Open vSwitch gives its own devices. */
const VIRTUAL_NAME = /^(lo$|docker\d|virbr|vnet|tap|br-|ovs-system|qbr|qvb|qvo|genev_sys|vxlan_sys|cali|flannel|cni)/;

/** Pure: INTERFACES_COMMAND's output -> the facts, for the host at `address`. */
export function parseInterfaces(output: string, address: string): InterfaceFacts {
  const sections = new Map<string, string[]>();
  let current = '';
  for (const line of output.split('\n')) {
    if (line.startsWith(MARK)) sections.set((current = line.slice(MARK.length).trim()), []);
    else if (line.trim()) sections.get(current)?.push(line);
  }
  // "2: eth0    inet 192.0.2.5/24 brd ... scope global eth0\ ..."
  const addrs = (sections.get('addr') ?? []).map((l) => {
    const f = l.trim().split(/\s+/);
    return { name: (f[1] ?? '').replace(/@.*$/, ''), address: (f[3] ?? '').replace(/\/\d+$/, ''), global: /\bscope global\b/.test(l) };
  });
  const carrying = addrs.find((a) => a.address === address)?.name;
  // "3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ... state UP ..."; a veth is "veth1@veth0:".
  const links = (sections.get('link') ?? []).map((l) => {
    const m = /^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>/.exec(l.trim());
    return m ? { name: m[1]!, up: m[2]!.split(',').includes('UP'), enslaved: /\smaster\s/.test(l), port: !NOT_A_PORT.test(l) && !VIRTUAL_NAME.test(m[1]!) } : undefined;
  }).filter((l) => l !== undefined);
  const addressed = new Set(addrs.filter((a) => a.global).map((a) => a.name));
  const spare = links
    .filter((l) => l.port && !l.enslaved && !addressed.has(l.name) && l.name !== carrying)
    .sort((a, b) => Number(b.up) - Number(a.up))
    .map((l) => l.name);
  const route = /\bdev\s+(\S+)/.exec((sections.get('route') ?? [])[0] ?? '')?.[1];
  return { ...(carrying ? { carrying } : {}), ...(route ? { defaultRoute: route } : {}), spare };
}

export async function readInterfaces(host: Host, address: string): Promise<InterfaceFacts> {
  const r = await host.run(INTERFACES_COMMAND, { check: false, label: 'list the network interfaces (for kolla-ansible)' });
  return parseInterfaces(r.stdout, address);
}
