// ./stack.ts export kolla-ansible from recording hosts: the inventory Debian's ansible reads has
// every group of kolla-ansible's own multinode inventory, each host where this cloud runs it and
// reached as stack.ts reaches it; globals.yml says what the hosts said; passwords.yml (0600) holds
// this cloud's passwords and is the only file that does. What kolla-ansible cannot take is refused.
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Config } from '../../lib/config/types.ts';
import { SECRET_NAMES, type ServiceName } from '../../lib/config/schema.ts';
import { InputError } from '../../lib/errors.ts';
import { exportKollaAnsible, KOLLA_FILES, type ExportSource } from '../../lib/kolla/export.ts';
import type { KollaRelease } from '../../lib/kolla/groups.ts';
import type { Release } from '../../lib/plugin.ts';
import { allInOne, parseTopology, type Topology } from '../../lib/topology.ts';
import { KOLLA_MULTINODE_GROUPS } from '../fixtures/kolla-groups.ts';
import { DEBIAN_SYSV, RecordingHost, ZED, defaultSettings, type SettingOverrides } from '../fixtures/recording-host.ts';
import { ensureMachinePackages } from '../hosts/machine-packages.ts';

const EPOXY: Release = { name: 'epoxy', keystoneMajor: 27, hasGlanceRegistry: false };

/** Every secret different, with the characters YAML, INI and shells treat specially. */
const SECRETS = {
  ADMIN_PASSWORD: `Adm1n'pa"ss`,
  DATABASE_PASSWORD: 'Db$root#pw 2',
  RABBIT_PASSWORD: 'Rabbit\\pw:3',
  SERVICE_PASSWORD: 'Svc-pass-4x',
  GLANCE_PASSWORD: 'Glance: {pw} 5',
  PLACEMENT_PASSWORD: 'Placement-pw-6',
  NOVA_PASSWORD: 'Nova-pw-7[x]',
  NEUTRON_PASSWORD: 'Neutron-pw-8',
  KEYSTONE_DB_PASSWORD: 'kdb-pw-0009',
  GLANCE_DB_PASSWORD: 'gdb-pw-0010',
  PLACEMENT_DB_PASSWORD: 'pdb-pw-0011',
  NOVA_DB_PASSWORD: 'ndb-pw-0012',
  NEUTRON_DB_PASSWORD: 'qdb-pw-0013',
  MEMCACHE_SECRET_KEY: 'memcache-key-0014',
  METADATA_PROXY_SHARED_SECRET: 'metadata-secret-0015',
} as const;

const THREE_HOSTS = `hosts:
  - { name: controller, address: root@192.0.2.11, roles: [controller, database, messaging] }
  - { name: compute1, address: stack@192.0.2.12:2222, roles: [compute], ssh_key: /keys/compute1 }
  - { name: compute2, address: root@192.0.2.13, roles: [compute] }
`;
const SPLIT = `hosts:
  - { name: infra, address: root@192.0.2.21, roles: [database, messaging] }
  - { name: ctl, address: root@192.0.2.22, roles: [controller] }
  - { name: cpu, address: root@192.0.2.23, roles: [compute] }
`;

/** What `ip` prints on a host with its address on `iface` and, unless `spare` is false, an idle eth1. */
function ipOutput(address: string, iface = 'eth0', spare = true): string {
  return [
    '@@stackts:addr',
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    `2: ${iface}    inet ${address}/24 brd 192.0.2.255 scope global ${iface}\\       valid_lft forever preferred_lft forever`,
    `2: ${iface}    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever`,
    '@@stackts:link',
    '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00',
    `2: ${iface}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP mode DEFAULT group default qlen 1000\\    link/ether 52:54:00:00:00:01 brd ff:ff:ff:ff:ff:ff promiscuity 0`,
    ...(spare ? ['3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP mode DEFAULT group default qlen 1000\\    link/ether 52:54:00:00:00:02 brd ff:ff:ff:ff:ff:ff promiscuity 0'] : []),
    '4: docker0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN mode DEFAULT group default\\    link/ether 02:42:00:00:00:01 brd ff:ff:ff:ff:ff:ff promiscuity 0 \\    bridge forward_delay 1500',
    '@@stackts:route',
    `default via 192.0.2.1 dev ${iface}`,
  ].join('\n');
}

interface Case {
  topology: Topology;
  addresses: Record<string, string>;
  overrides?: SettingOverrides;
  release?: Release;
  /** Per host: the interface carrying its address, and whether it has an idle one. */
  iface?: Record<string, string>;
  noSpare?: boolean;
  invented?: string[];
  /** The address on the host's interface, where it is not the table's (NAT). */
  onInterface?: Record<string, string>;
}

function source(c: Case): ExportSource {
  const config = {
    file: '/cfg/localrc',
    settings: defaultSettings({ ...SECRETS, SSH_KEY: '/keys/default', ...c.overrides }),
    services: c.topology.services,
    postConfig: [],
    secretsFile: '/cfg/.stack-secrets',
    ...(c.invented ? { inventedSecrets: c.invented } : {}),
  } as Config;
  return {
    config,
    hosts: c.topology.hosts.map((spec) => {
      const address = c.addresses[spec.name]!;
      const host = new RecordingHost({ name: spec.name, facts: { ...DEBIAN_SYSV, hostname: spec.name } });
      host.reply(/ip -o addr show/, { stdout: ipOutput(c.onInterface?.[spec.name] ?? address, c.iface?.[spec.name], !c.noSpare) });
      return { spec, host, facts: { ...DEBIAN_SYSV, hostname: spec.name === 'local' ? 'aio' : spec.name }, release: c.release ?? ZED, address };
    }),
  };
}

const ALL_IN_ONE: Case = {
  topology: allInOne({ target: 'root@192.0.2.10', sshKey: '', ip: '', services: new Set(defaultSettings().ENABLED_SERVICES as ServiceName[]), name: 'local' }),
  addresses: { local: '192.0.2.10' },
};
const THREE: Case = { topology: parseTopology(THREE_HOSTS, 'hosts.yaml', '/cfg'), addresses: { controller: '192.0.2.11', compute1: '192.0.2.12', compute2: '192.0.2.13' }, iface: { compute2: 'ens3' } };
const DB_CTL_CPU: Case = { topology: parseTopology(SPLIT, 'hosts.yaml', '/cfg'), addresses: { infra: '192.0.2.21', ctl: '192.0.2.22', cpu: '192.0.2.23' }, overrides: { KOLLA_INTERNAL_VIP: '192.0.2.250' } };

interface AnsibleInventory {
  _meta: { hostvars: Record<string, Record<string, unknown>> };
  [group: string]: { hosts?: string[]; children?: string[] } | AnsibleInventory['_meta'];
}

/** Debian's ansible reads the file; a file it cannot parse fails instead of warning. */
async function ansibleList(file: string): Promise<AnsibleInventory> {
  // ansible's own temp directory, removed afterwards (it is left behind otherwise).
  const temp = mkdtempSync(join(tmpdir(), 'stackts-ansible-'));
  try {
    const r = await execa('ansible-inventory', ['-i', file, '--list'], {
      env: { ANSIBLE_INVENTORY_ENABLED: 'ini', ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true', ANSIBLE_LOCAL_TEMP: temp },
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as AnsibleInventory;
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

/** Every group ansible knows: those with hosts or parts, and the empty ones named as parts. */
function groupsOf(inv: AnsibleInventory): Set<string> {
  const out = new Set<string>();
  for (const [name, g] of Object.entries(inv)) {
    if (name === '_meta') continue;
    out.add(name);
    for (const c of (g as { children?: string[] }).children ?? []) out.add(c);
  }
  out.delete('all');
  out.delete('ungrouped');
  return out;
}

/** The hosts of a group, through its parts, as ansible resolves them. */
function hostsOf(inv: AnsibleInventory, group: string): string[] {
  const g = inv[group] as { hosts?: string[]; children?: string[] } | undefined;
  return [...new Set([...(g?.hosts ?? []), ...(g?.children ?? []).flatMap((c) => hostsOf(inv, c))])].sort();
}

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'stackts-kolla-'));
  dirs.push(d);
  return join(d, 'kolla');
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

beforeAll(async () => {
  // CI runs as root with no stdin: install Debian's ansible-core here when it is missing.
  await ensureMachinePackages(['ansible-core'], (line) => console.log(line));
}, 600_000);

describe('export kolla-ansible: the inventory loads in ansible with every group of kolla-ansible', () => {
  const layouts: Array<[string, Case, KollaRelease]> = [
    ['the all-in-one', ALL_IN_ONE, 'zed'],
    ['a controller and two computes', THREE, 'zed'],
    ['database+messaging, controller, compute', DB_CTL_CPU, 'zed'],
    ['a controller and two computes on 2025.1', { ...THREE, release: EPOXY }, '2025.1'],
  ];
  it.each(layouts)('%s', async (_name, c, release) => {
    const dir = tempDir();
    const r = await exportKollaAnsible(source(c), dir);
    expect(r.files).toEqual([join(dir, 'multinode'), join(dir, 'globals.yml'), join(dir, 'passwords.yml')]);
    const inv = await ansibleList(join(dir, KOLLA_FILES.inventory));
    const groups = groupsOf(inv);
    const missing = KOLLA_MULTINODE_GROUPS[release]!.filter((g) => !groups.has(g));
    expect(missing).toEqual([]);
    expect(hostsOf(inv, 'deployment')).toEqual(['localhost']);
    expect(inv._meta.hostvars.localhost).toEqual({ ansible_connection: 'local' });
    const globals = parse(readFileSync(join(dir, KOLLA_FILES.globals), 'utf8'), { version: '1.1' }) as Record<string, unknown>;
    expect(globals.openstack_release).toBe(release);
    expect(globals.kolla_base_distro).toBe('debian');
  }, 120_000);

  it('the all-in-one: one host in every top group, reached by SSH as stack.ts reaches it, no HAProxy', async () => {
    const dir = tempDir();
    await exportKollaAnsible(source(ALL_IN_ONE), dir);
    const inv = await ansibleList(join(dir, KOLLA_FILES.inventory));
    for (const g of ['control', 'network', 'compute', 'monitoring', 'storage', 'mariadb', 'keystone', 'nova-api', 'neutron-server', 'placement-api']) expect(hostsOf(inv, g), g).toEqual(['aio']);
    expect(inv._meta.hostvars.aio).toEqual({ ansible_host: '192.0.2.10', ansible_user: 'root', ansible_port: 22, ansible_ssh_private_key_file: '/keys/default' });
    const globals = parse(readFileSync(join(dir, KOLLA_FILES.globals), 'utf8'), { version: '1.1' });
    expect(globals).toMatchObject({ network_interface: 'eth0', neutron_external_interface: 'eth1', kolla_internal_vip_address: '192.0.2.10', enable_haproxy: 'no' });
  });

  it('three hosts: each host its own user, port and key; a compute whose interface differs gets its own', async () => {
    const dir = tempDir();
    await exportKollaAnsible(source(THREE), dir);
    const inv = await ansibleList(join(dir, KOLLA_FILES.inventory));
    expect(hostsOf(inv, 'control')).toEqual(['controller']);
    expect(hostsOf(inv, 'compute')).toEqual(['compute1', 'compute2']);
    expect(hostsOf(inv, 'mariadb')).toEqual(['controller']);
    expect(hostsOf(inv, 'monitoring')).toEqual([]);
    expect(inv._meta.hostvars.compute1).toEqual({ ansible_host: '192.0.2.12', ansible_user: 'stack', ansible_port: 2222, ansible_ssh_private_key_file: '/keys/compute1' });
    expect(inv._meta.hostvars.compute2).toMatchObject({ ansible_user: 'root', ansible_ssh_private_key_file: '/keys/default', network_interface: 'ens3' });
    expect(inv._meta.hostvars.controller).not.toHaveProperty('network_interface');
  });

  it('database+messaging apart from the controller: kolla-ansible groups name the hosts that run them, HAProxy at the VIP', async () => {
    const dir = tempDir();
    await exportKollaAnsible(source(DB_CTL_CPU), dir);
    const inv = await ansibleList(join(dir, KOLLA_FILES.inventory));
    expect(hostsOf(inv, 'control')).toEqual(['ctl', 'infra']);
    for (const g of ['mariadb', 'rabbitmq', 'memcached', 'prometheus-mysqld-exporter']) expect(hostsOf(inv, g), g).toEqual(['infra']);
    for (const g of ['keystone', 'glance-api', 'nova-api', 'nova-scheduler', 'placement-api', 'neutron-server']) expect(hostsOf(inv, g), g).toEqual(['ctl']);
    expect(hostsOf(inv, 'network')).toEqual(['ctl']);
    expect(hostsOf(inv, 'compute')).toEqual(['cpu']);
    const globals = parse(readFileSync(join(dir, KOLLA_FILES.globals), 'utf8'), { version: '1.1' });
    expect(globals).toMatchObject({ kolla_internal_vip_address: '192.0.2.250', enable_haproxy: 'yes' });
  });
});

describe('export kolla-ansible: the passwords', () => {
  it.each([
    ['the all-in-one', ALL_IN_ONE],
    ['three hosts', THREE],
    ['database+messaging, controller, compute', DB_CTL_CPU],
  ] as const)('%s: passwords.yml is 0600 and holds them (as YAML 1.1 reads it); no other file holds one', async (_n, c) => {
    const dir = tempDir();
    await exportKollaAnsible(source(c), dir);
    const passwords = join(dir, KOLLA_FILES.passwords);
    expect(statSync(passwords).mode & 0o777).toBe(0o600);
    for (const f of [KOLLA_FILES.inventory, KOLLA_FILES.globals]) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o644);
    expect(parse(readFileSync(passwords, 'utf8'), { version: '1.1' })).toMatchObject({
      database_password: SECRETS.DATABASE_PASSWORD,
      rabbitmq_password: SECRETS.RABBIT_PASSWORD,
      keystone_admin_password: SECRETS.ADMIN_PASSWORD,
      glance_keystone_password: SECRETS.GLANCE_PASSWORD,
      nova_api_database_password: SECRETS.NOVA_DB_PASSWORD,
      memcache_secret_key: SECRETS.MEMCACHE_SECRET_KEY,
      metadata_secret: SECRETS.METADATA_PROXY_SHARED_SECRET,
    });
    for (const f of [KOLLA_FILES.inventory, KOLLA_FILES.globals]) {
      const text = readFileSync(join(dir, f), 'utf8');
      for (const name of SECRET_NAMES) {
        const value = String(source(c).config.settings[name]);
        expect(text.includes(value), `${name} in ${f}`).toBe(false);
      }
    }
  });
});

describe('export kolla-ansible: what kolla-ansible cannot take is refused, nothing written', () => {
  const refused = async (c: Case, ...expected: RegExp[]) => {
    const dir = tempDir();
    const err = await exportKollaAnsible(source(c), dir).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    for (const e of expected) expect((err as Error).message).toMatch(e);
    expect(existsSync(dir)).toBe(false);
    return err as InputError;
  };

  it('several hosts run control services and no VIP is set', async () => {
    await refused({ ...DB_CTL_CPU, overrides: {} }, /2 hosts run control services \(infra: mysql rabbit memcache; ctl: .*\).*set KOLLA_INTERNAL_VIP to a free address/);
  });
  it("a VIP that is a host's own address", async () => {
    await refused({ ...DB_CTL_CPU, overrides: { KOLLA_INTERNAL_VIP: '192.0.2.22' } }, /KOLLA_INTERNAL_VIP=192\.0\.2\.22 is ctl's own address/);
  });
  it('no interface for Neutron\'s external bridge', async () => {
    await refused({ ...ALL_IN_ONE, noSpare: true }, /local has no interface without an address for neutron_external_interface.*set KOLLA_EXTERNAL_INTERFACE/);
  });
  it('the external interface set to the one carrying the address', async () => {
    await refused({ ...ALL_IN_ONE, overrides: { KOLLA_EXTERNAL_INTERFACE: 'eth0' } }, /KOLLA_EXTERNAL_INTERFACE=eth0 is the interface that carries local's address 192\.0\.2\.10/);
  });
  it('a release kolla-ansible no longer deploys, and every problem at once', async () => {
    await refused({ ...DB_CTL_CPU, overrides: {}, release: { name: 'yoga', keystoneMajor: 21, hasGlanceRegistry: false } }, /OpenStack yoga.*zed to 2025\.1 only.*KOLLA_OPENSTACK_RELEASE/s, /KOLLA_INTERNAL_VIP/);
  });
  it('passwords this cloud does not have yet', async () => {
    const err = await refused({ ...ALL_IN_ONE, invented: ['RABBIT_PASSWORD'] }, /No password is kept yet for RABBIT_PASSWORD/);
    expect(err.hint).toMatch(/stack the cloud first/);
  });
});

describe('export kolla-ansible: facts that cannot be read take a default and say so', () => {
  it('no release readable: 2025.1', async () => {
    const dir = tempDir();
    const r = await exportKollaAnsible(source({ ...ALL_IN_ONE, release: { name: 'unknown', keystoneMajor: null, hasGlanceRegistry: false } }), dir);
    expect(r.notes.join('\n')).toMatch(/OpenStack release could not be read: openstack_release is 2025\.1/);
    expect(readFileSync(join(dir, KOLLA_FILES.globals), 'utf8')).toContain('openstack_release: "2025.1"');
  });
  it('KOLLA_OPENSTACK_RELEASE wins over the hosts', async () => {
    const dir = tempDir();
    await exportKollaAnsible(source({ ...ALL_IN_ONE, overrides: { KOLLA_OPENSTACK_RELEASE: '2024.1' } }), dir);
    expect(readFileSync(join(dir, KOLLA_FILES.globals), 'utf8')).toContain('openstack_release: "2024.1"');
  });
  it("an address on no interface (NAT): the default route's interface", async () => {
    const dir = tempDir();
    const r = await exportKollaAnsible(source({ ...ALL_IN_ONE, addresses: { local: '198.51.100.7' }, onInterface: { local: '192.0.2.10' } }), dir);
    expect(r.notes.join('\n')).toMatch(/no interface of local has its address 198\.51\.100\.7.*network_interface is eth0, the interface of its default route/);
  });
});
