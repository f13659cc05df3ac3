// What the kolla-ansible export writes, decided from the topology and what the hosts said: the
// release, the base distribution, each host's interfaces, the VIP, and which hosts go in which
// group. Pure. Everything kolla-ansible cannot take is refused at once, every reason together.

import { isIP } from 'node:net';
import type { ServiceName, Settings } from '../config/schema.ts';
import { parseTargetHost } from '../config/validate.ts';
import { InputError } from '../errors.ts';
import type { HostFacts } from '../host/types.ts';
import type { Release } from '../plugin.ts';
import type { HostSpec } from '../topology.ts';
import { KOLLA_RELEASES, isKollaRelease, type KollaRelease, type TopGroup } from './groups.ts';
import type { InterfaceFacts } from './interfaces.ts';

export interface ExportHost {
  readonly spec: HostSpec;
  readonly facts: HostFacts;
  readonly release: Release;
  /** The host's address in the cloud's address table. */
  readonly address: string;
  readonly interfaces: InterfaceFacts;
}

export interface InventoryHost {
  /** The inventory name: kolla-ansible makes it the host's name in /etc/hosts and for Nova. */
  readonly name: string;
  /** ansible_* variables and per-host kolla variables, in the order they are written. */
  readonly vars: ReadonlyArray<readonly [string, string | number]>;
}

export interface KollaLayout {
  readonly release: KollaRelease;
  readonly distro: string;
  readonly hosts: readonly InventoryHost[];
  /** Host names per top group. */
  readonly top: Readonly<Record<TopGroup, readonly string[]>>;
  /** Groups whose hosts this cloud places otherwise than kolla-ansible's default parents would. */
  readonly placed: ReadonlyMap<string, readonly string[]>;
  readonly networkInterface: string;
  readonly externalInterface: string;
  readonly vip: string;
  readonly haproxy: boolean;
  readonly fakeCompute: boolean;
  /** Facts that could not be read and the default taken instead, for the person at the terminal. */
  readonly notes: readonly string[];
}

/** Services of kolla-ansible's control group (its infrastructure and API services). */
const CONTROL: readonly ServiceName[] = ['mysql', 'rabbit', 'memcache', 'key', 'g-api', 'g-reg', 'placement-api', 'q-svc', 'n-api', 'n-cond', 'n-sch'];

/** kolla-ansible groups that take the hosts of control by default, and what runs there here. */
export const PLACED_SERVICES: Readonly<Record<string, readonly ServiceName[]>> = {
  mariadb: ['mysql'],
  rabbitmq: ['rabbit'],
  memcached: ['memcache'],
  keystone: ['key'],
  glance: ['g-api', 'g-reg'],
  placement: ['placement-api'],
  nova: ['n-api', 'n-cond', 'n-sch'],
  'neutron-server': ['q-svc'],
};

/** kolla_base_distro per os-release ID; the RHEL family runs Rocky Linux's images. */
const DISTRO: Readonly<Record<string, string>> = { debian: 'debian', ubuntu: 'ubuntu', rocky: 'rocky', centos: 'rocky', rhel: 'rocky', almalinux: 'rocky' };

/** The release when no host can say (no keystone package installed or installable). */
export const DEFAULT_KOLLA_RELEASE: KollaRelease = '2025.1';

const newest = KOLLA_RELEASES[KOLLA_RELEASES.length - 1]!.release;
const oldest = KOLLA_RELEASES[0].release;

function chooseRelease(hosts: readonly ExportHost[], setting: string, problems: string[], notes: string[]): KollaRelease {
  if (setting) return setting as KollaRelease;
  const known = hosts.find((h) => h.release.keystoneMajor !== null);
  if (!known) {
    notes.push(`no host has keystone installed or installable, so the OpenStack release could not be read: openstack_release is ${DEFAULT_KOLLA_RELEASE} (set KOLLA_OPENSTACK_RELEASE to choose another)`);
    return DEFAULT_KOLLA_RELEASE;
  }
  const major = known.release.keystoneMajor!;
  const match = KOLLA_RELEASES.find((r) => r.keystoneMajor === major);
  if (!match) {
    problems.push(`${known.spec.name} has OpenStack ${known.release.name === 'unknown' ? `with keystone ${major}` : known.release.name}, and the export writes kolla-ansible's inventory of ${oldest} to ${newest} only (${major < KOLLA_RELEASES[0].keystoneMajor ? 'kolla-ansible no longer deploys older releases' : 'a newer one is not known to stack.ts yet'}); set KOLLA_OPENSTACK_RELEASE to the kolla-ansible release to move to`);
  }
  return match?.release ?? DEFAULT_KOLLA_RELEASE;
}

/** The inventory's ansible_* variables: how kolla-ansible reaches the host as stack.ts does. */
function connectionVars(h: ExportHost, settings: Settings): Array<[string, string | number]> {
  if (h.spec.target === 'local') return [['ansible_connection', 'local']];
  const t = parseTargetHost(h.spec.target)!;
  const key = h.spec.sshKey || settings.SSH_KEY;
  return [
    ['ansible_host', t.host],
    ['ansible_user', t.user ?? 'root'],
    ['ansible_port', t.port ?? 22],
    ...(key ? [['ansible_ssh_private_key_file', key] as [string, string]] : []),
  ];
}

/** The interface that carries the host's address; the default route's when none does (a note says so). */
function networkInterfaceOf(h: ExportHost, problems: string[], notes: string[]): string {
  const { carrying, defaultRoute } = h.interfaces;
  if (carrying === 'lo') {
    problems.push(`${h.spec.name}'s address ${h.address} is on the loopback interface: the other hosts and kolla-ansible's containers cannot reach it there; give the host an address on a real interface (HOST_IP, or ip: in the hosts file)`);
    return 'lo';
  }
  if (carrying) return carrying;
  const fallback = defaultRoute ?? 'eth0';
  notes.push(`no interface of ${h.spec.name} has its address ${h.address} (a NAT address?): its network_interface is ${fallback}, ${defaultRoute ? 'the interface of its default route' : "kolla-ansible's own default"}; check it before deploying`);
  return fallback;
}

export function decideLayout(hosts: readonly ExportHost[], settings: Settings): KollaLayout {
  const problems: string[] = [];
  const notes: string[] = [];
  const release = chooseRelease(hosts, settings.KOLLA_OPENSTACK_RELEASE, problems, notes);
  if (settings.KOLLA_OPENSTACK_RELEASE && !isKollaRelease(settings.KOLLA_OPENSTACK_RELEASE)) problems.push(`KOLLA_OPENSTACK_RELEASE=${settings.KOLLA_OPENSTACK_RELEASE} is not one of ${KOLLA_RELEASES.map((r) => r.release).join(', ')}`);

  const first = hosts[0]!;
  const distro = DISTRO[first.facts.id];
  if (!distro) problems.push(`${first.spec.name} runs ${first.facts.id} ${first.facts.version}; kolla-ansible's images are built on Debian, Ubuntu and Rocky Linux only`);

  const alone = hosts.length === 1;
  const runs = (h: ExportHost, list: readonly ServiceName[]) => list.some((s) => h.spec.services.has(s));
  const names = (pick: (h: ExportHost) => boolean) => hosts.filter(pick).map((h) => inventoryName(h, alone));
  const control = names((h) => runs(h, CONTROL));
  const network = names((h) => h.spec.services.has('q-svc'));
  const top: Record<TopGroup, string[]> = {
    control,
    network: network.length ? network : control,
    compute: names((h) => h.spec.services.has('n-cpu')),
    // kolla-ansible's own all-in-one puts its one host in every group; several hosts of this cloud
    // run nothing of monitoring's or storage's.
    monitoring: alone ? control : [],
    storage: alone ? control : [],
    deployment: [],
  };
  const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));
  const placed = new Map<string, string[]>();
  for (const [group, services] of Object.entries(PLACED_SERVICES)) {
    const on = names((h) => runs(h, services));
    if (!sameSet(on, control)) placed.set(group, on);
  }

  // Interfaces: the one carrying each host's address; the globals take the first control host's,
  // a host whose interface differs gets its own in the inventory.
  const iface = new Map(hosts.map((h) => [h.spec.name, networkInterfaceOf(h, problems, notes)]));
  const networkHosts = hosts.filter((h) => top.network.includes(inventoryName(h, alone)));
  const external = new Map<string, string>();
  for (const h of networkHosts) {
    const chosen = settings.KOLLA_EXTERNAL_INTERFACE || h.interfaces.spare[0];
    if (!chosen) {
      problems.push(`${h.spec.name} has no interface without an address for neutron_external_interface (kolla-ansible gives that interface to Neutron's external bridge whole, so it must not be the one carrying ${h.address}): give the host one (a second NIC, or a veth pair: ip link add veth-ext type veth peer name veth-ext-peer) and set KOLLA_EXTERNAL_INTERFACE to it`);
    } else if (chosen === iface.get(h.spec.name)) {
      problems.push(`KOLLA_EXTERNAL_INTERFACE=${chosen} is the interface that carries ${h.spec.name}'s address ${h.address}; kolla-ansible would move it into Neutron's external bridge and cut the host off`);
    } else {
      external.set(h.spec.name, chosen);
      if (!settings.KOLLA_EXTERNAL_INTERFACE && h.interfaces.spare.length > 1) notes.push(`${h.spec.name}: neutron_external_interface is ${chosen}, the first of its interfaces without an address (${h.interfaces.spare.join(', ')}); set KOLLA_EXTERNAL_INTERFACE to choose another`);
    }
  }

  const controlHosts = hosts.filter((h) => control.includes(inventoryName(h, alone)));
  const lead = controlHosts[0] ?? first;
  const networkInterface = iface.get(lead.spec.name) ?? 'eth0';
  const externalInterface = external.get(networkHosts[0]?.spec.name ?? '') ?? settings.KOLLA_EXTERNAL_INTERFACE;
  const haproxy = controlHosts.length > 1;
  const vip = settings.KOLLA_INTERNAL_VIP || (haproxy ? '' : lead.address);
  if (haproxy && !settings.KOLLA_INTERNAL_VIP) {
    problems.push(`${controlHosts.length} hosts run control services (${controlHosts.map((h) => `${h.spec.name}: ${[...h.spec.services].filter((s) => CONTROL.includes(s)).join(' ')}`).join('; ')}); kolla-ansible reaches them through HAProxy at one virtual address, so set KOLLA_INTERNAL_VIP to a free address on their network (none of the hosts' own)`);
  }
  const taken = hosts.find((h) => h.address === settings.KOLLA_INTERNAL_VIP);
  if (haproxy && taken) problems.push(`KOLLA_INTERNAL_VIP=${settings.KOLLA_INTERNAL_VIP} is ${taken.spec.name}'s own address; keepalived needs a free one to move between the controllers`);
  if (settings.KOLLA_INTERNAL_VIP && !isIP(settings.KOLLA_INTERNAL_VIP)) problems.push(`KOLLA_INTERNAL_VIP=${settings.KOLLA_INTERNAL_VIP} is a name; kolla_internal_vip_address is an IP address`);

  if (problems.length) {
    throw new InputError(
      `kolla-ansible cannot take this cloud as it is:\n${problems.map((p) => `  - ${p}`).join('\n')}\nNothing was written.`,
      'fix each point above (the settings go in your localrc; every one is described in localrc.example), then run the export again',
    );
  }
  const inventoryHosts: InventoryHost[] = hosts.map((h) => {
    const own: Array<[string, string]> = [];
    if (iface.get(h.spec.name) !== networkInterface) own.push(['network_interface', iface.get(h.spec.name)!]);
    const ext = external.get(h.spec.name);
    if (ext && ext !== externalInterface) own.push(['neutron_external_interface', ext]);
    return { name: inventoryName(h, alone), vars: [...connectionVars(h, settings), ...own] };
  });
  return {
    release,
    distro: distro!,
    hosts: inventoryHosts,
    top,
    placed,
    networkInterface,
    externalInterface,
    vip,
    haproxy,
    fakeCompute: settings.VIRT_DRIVER === 'fake',
    notes,
  };
}

/**
 * A hosts file's names are the cloud's host names; the all-in-one is named by the machine's own
 * hostname (kolla-ansible writes the inventory name into /etc/hosts and Nova uses it).
 */
const inventoryName = (h: ExportHost, alone: boolean): string => (alone ? h.facts.hostname || h.spec.name : h.spec.name);
