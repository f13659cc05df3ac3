// Every setting stack.ts reads, with its type, default and one line of doc.
// localrc.example is checked against this table by a test, so the two cannot drift.
// Defaults may refer to other settings with ${NAME}; they are expanded after the user's values.

export type SettingType = 'string' | 'int' | 'bool' | 'list' | 'secret' | 'enum' | 'path' | 'address' | 'cidr';

export interface SettingSpec {
  readonly type: SettingType;
  readonly default: string;
  readonly doc: string;
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Section header under which localrc.example lists it. */
  readonly group: string;
  /** A secret nobody needs to type: always generated, never asked on the terminal. */
  readonly generated?: boolean;
}

const s = <T extends SettingType>(type: T, def: string, group: string, doc: string, extra: Partial<SettingSpec> = {}): SettingSpec & { readonly type: T } => ({
  ...extra,
  type,
  default: def,
  doc,
  group,
});

export const SCHEMA = {
  // --- Where to stack
  TARGET_HOST: s('string', 'local', 'Hosts', 'Host to stack on: "local", or [user@]address[:port] reached over SSH.'),
  HOSTS_FILE: s('path', '', 'Hosts', 'YAML file of several hosts and their roles (see hosts.yaml.example); empty means the all-in-one on TARGET_HOST.'),
  SSH_KEY: s('path', '', 'Hosts', 'Private key for SSH hosts; empty means use ssh-agent ($SSH_AUTH_SOCK) or ~/.ssh/id_ed25519, id_rsa.'),
  SSH_CONNECT_TIMEOUT: s('int', '15', 'Hosts', 'Seconds to wait for an SSH connection before giving up.', { min: 1, max: 600 }),
  SSH_KNOWN_HOSTS: s('path', '', 'Hosts', 'known_hosts file every SSH host key is checked against; empty means $SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts.'),
  SSH_ACCEPT_NEW_HOST_KEYS: s('bool', 'False', 'Hosts', 'Record the key of a host seen for the first time in SSH_KNOWN_HOSTS instead of refusing it (a changed key is always refused).'),
  HOST_IP: s('address', '', 'Hosts', 'Address of the host the services bind to; empty means detect it (first global IPv4 address).'),
  SERVICE_HOST: s('address', '${HOST_IP}', 'Hosts', 'The one name or address every endpoint URL and connection string is built from.'),
  DATABASE_HOST: s('address', '127.0.0.1', 'Hosts', 'Address services use for MariaDB (it binds there): 127.0.0.1 all-in-one, its host address for multi-host.'),
  RABBIT_HOST: s('address', '127.0.0.1', 'Hosts', 'Address services use for RabbitMQ and memcached (they bind there): 127.0.0.1 all-in-one.'),

  // --- What to run
  ENABLED_SERVICES: s(
    'list',
    'mysql,rabbit,memcache,key,g-api,placement-api,ovn-northd,q-svc,n-api,n-cond,n-sch,n-cpu,ovn-controller,q-ovn-metadata-agent',
    'Services',
    'Comma list of services; enable_service/disable_service lines edit it.',
  ),
  VIRT_DRIVER: s('enum', 'libvirt', 'Services', 'Nova compute driver: libvirt on a real host, fake for tests (no hypervisor needed).', {
    choices: ['libvirt', 'fake'],
  }),
  REGION_NAME: s('string', 'RegionOne', 'Services', 'Keystone region every endpoint and region_name is written with.'),
  API_WORKERS: s('int', '1', 'Services', 'Worker processes per API service (1 keeps the cloud under 2 GB of memory; Keystone, whom every login asks, gets at least 2).', { min: 1, max: 64 }),
  KEYSTONE_PASSWORD_HASH_ROUNDS: s('int', '4', 'Services', 'bcrypt cost of the passwords Keystone stores: 4, the least, makes each login ~0.2 s of CPU cheaper than Keystone\'s 12; raise it for a cloud others can reach.', { min: 4, max: 31 }),

  // --- Networks (devstack's names): guests get a private network, a router and floating IPs
  Q_AGENT: s('enum', 'ovn', 'Network', 'Neutron backend: ML2/OVN (devstack\'s default; ML2/linuxbridge was removed in 2025.1).', { choices: ['ovn'] }),
  OVS_DATAPATH_TYPE: s('enum', '', 'Network', 'Open vSwitch datapath: empty means the kernel\'s (system) where the openvswitch module loads, else the userspace one (netdev).', {
    choices: ['', 'system', 'netdev'],
  }),
  IPV4_ADDRS_SAFE_TO_USE: s('cidr', '10.0.0.0/22', 'Network', 'Addresses the demo project\'s private network may use (must not overlap a network of the hosts).'),
  FIXED_RANGE: s('cidr', '${IPV4_ADDRS_SAFE_TO_USE}', 'Network', 'The private subnet\'s range.'),
  NETWORK_GATEWAY: s('address', '', 'Network', 'Gateway of the private subnet; empty means the first address of FIXED_RANGE.'),
  FLOATING_RANGE: s('cidr', '172.24.4.0/24', 'Network', 'The public network\'s range: floating IPs and the router\'s external address come from it.'),
  PUBLIC_NETWORK_GATEWAY: s('address', '172.24.4.1', 'Network', 'Address the network host holds on PUBLIC_BRIDGE: the public network\'s gateway, and how the host reaches floating IPs.'),
  PUBLIC_BRIDGE: s('string', 'br-ex', 'Network', 'Open vSwitch bridge of the public network on the network host.'),
  PUBLIC_INTERFACE: s('string', '', 'Network', 'A spare NIC of the network host to add to PUBLIC_BRIDGE (its addresses are lost); empty means floating IPs are reached from the network host only.'),
  TUNNEL_INTERFACE: s('string', '', 'Network', 'A NIC of every chassis host for the Geneve tunnels (its address is the tunnel endpoint; with the userspace datapath OVS takes it over, on br-phy); empty means the host\'s own address.'),
  PRIVATE_NETWORK_NAME: s('string', 'private', 'Network', 'Name of the demo project\'s network (and of its subnet, with -subnet).'),
  PUBLIC_NETWORK_NAME: s('string', 'public', 'Network', 'Name of the external network floating IPs come from.'),
  Q_ROUTER_NAME: s('string', 'router1', 'Network', 'Name of the demo project\'s router between the two networks (SNAT on).'),

  // --- Passwords (asked on a TTY, else generated; stored 0600 in the secrets file)
  ADMIN_PASSWORD: s('secret', '', 'Passwords', 'Keystone admin (and demo) user password.'),
  DATABASE_PASSWORD: s('secret', '', 'Passwords', 'MariaDB root password (each service has its own database password below).'),
  RABBIT_PASSWORD: s('secret', '', 'Passwords', 'RabbitMQ password of the stackrabbit user.'),
  SERVICE_PASSWORD: s('secret', '', 'Passwords', 'Password of the service users in Keystone (glance, placement, neutron, nova).'),
  GLANCE_PASSWORD: s('secret', '${SERVICE_PASSWORD}', 'Passwords', 'Keystone password of the glance user.'),
  PLACEMENT_PASSWORD: s('secret', '${SERVICE_PASSWORD}', 'Passwords', 'Keystone password of the placement user.'),
  NOVA_PASSWORD: s('secret', '${SERVICE_PASSWORD}', 'Passwords', 'Keystone password of the nova user.'),
  NEUTRON_PASSWORD: s('secret', '${SERVICE_PASSWORD}', 'Passwords', 'Keystone password of the neutron user.'),
  KEYSTONE_DB_PASSWORD: s('secret', '', 'Passwords', 'MariaDB password of the keystone database user (generated; not the database root\'s).', { generated: true }),
  GLANCE_DB_PASSWORD: s('secret', '', 'Passwords', 'MariaDB password of the glance database user (generated).', { generated: true }),
  PLACEMENT_DB_PASSWORD: s('secret', '', 'Passwords', 'MariaDB password of the placement database user (generated).', { generated: true }),
  NOVA_DB_PASSWORD: s('secret', '', 'Passwords', 'MariaDB password of the nova database user (generated).', { generated: true }),
  NEUTRON_DB_PASSWORD: s('secret', '', 'Passwords', 'MariaDB password of the neutron database user (generated).', { generated: true }),
  METADATA_PROXY_SHARED_SECRET: s('secret', '', 'Passwords', 'Secret the OVN metadata agents sign guests\' requests to nova-api-metadata with (generated).', { generated: true }),
  MEMCACHE_SECRET_KEY: s('secret', '', 'Passwords', 'Key that encrypts and signs the tokens services cache in memcached (memcache_secret_key; generated).', { generated: true }),
  SECRETS_FILE: s('path', '', 'Passwords', 'Where generated passwords are kept (0600); empty means .stack-secrets beside the config file.'),

  // --- Users
  RABBIT_USERID: s('string', 'stackrabbit', 'Users', 'RabbitMQ user the services connect as (never guest).'),
  DEMO_PROJECT: s('string', 'demo', 'Users', 'Name of the non-admin project and user created for testing.'),

  // --- Image
  CIRROS_VERSION: s('string', '0.6.2', 'Image', 'CirrOS release used by the default IMAGE_URLS.'),
  IMAGE_URLS: s(
    'list',
    'https://github.com/cirros-dev/cirros/releases/download/${CIRROS_VERSION}/cirros-${CIRROS_VERSION}-${CIRROS_ARCH}-disk.img',
    'Image',
    'Comma list of images to upload: http(s)://, file:// or a local path.',
  ),
  CIRROS_ARCH: s('string', '', 'Image', 'Architecture in the CirrOS file name; empty means the target host\'s (x86_64, aarch64).'),
  IMAGE_CACHE_DIR: s('path', 'files/images', 'Image', 'Where downloaded images are kept between runs (relative to the stack.ts checkout).'),
  VERIFY_CONSOLE_PATTERN: s('string', 'login:', 'Image', 'With libvirt, verify boots the first image and waits for this regular expression on its serial console (CirrOS prints "login:").'),
  VERIFY_BOOT_TIMEOUT: s('int', '300', 'Image', 'Seconds verify waits for VERIFY_CONSOLE_PATTERN after the test server is ACTIVE (TCG guests boot slowly).', { min: 10, max: 3600 }),

  // --- Directories and logs
  STACK_STATE_DIR: s('path', '/var/lib/stack-ts', 'Paths', 'State on each host: pidfiles, checkpoints, service data not owned by a package.'),
  LOGDIR: s('path', '/var/log/stack-ts', 'Paths', 'Per-service logs of daemons stack.ts starts itself (no systemd).'),
  RUN_LOG_DIR: s('path', '.stack/logs', 'Paths', 'Where each run\'s full command log is written on this machine (relative to the config file).'),

  // --- Behaviour
  SERVICE_TIMEOUT: s('int', '90', 'Behaviour', 'Seconds a service may take to answer after start before the run stops with its log tail.', {
    min: 5,
    max: 3600,
  }),
  COMMAND_TIMEOUT: s('int', '900', 'Behaviour', 'Seconds any single command (db_sync, a service start) may run before it is stopped; for the package install, seconds without progress.', { min: 10, max: 86400 }),
  INSTALL_RECOMMENDS: s('bool', 'False', 'Behaviour', 'Install packages\' Recommends too (adds ~1 GB and ~60 s).'),
  APT_UNSAFE_IO: s('bool', 'False', 'Behaviour', 'Let dpkg skip fsync (faster by ~15 s; fine for throwaway test hosts, not for a real machine).'),
  OFFLINE: s('bool', 'False', 'Behaviour', 'Do not refresh package lists or download images; use what is on the host and in the cache.'),

  // --- ./stack.ts export kolla-ansible DIR
  KOLLA_OPENSTACK_RELEASE: s('enum', '', 'Export', 'openstack_release the kolla-ansible export writes; empty means the hosts\' release (2025.1 when none can be read).', {
    choices: ['', 'zed', '2023.1', '2023.2', '2024.1', '2024.2', '2025.1'],
  }),
  KOLLA_INTERNAL_VIP: s('address', '', 'Export', 'kolla_internal_vip_address: a free address HAProxy serves the APIs at, needed when several hosts run control services; empty means the one controller\'s own.'),
  KOLLA_EXTERNAL_INTERFACE: s('string', '', 'Export', 'neutron_external_interface: an interface with no address on the network hosts, for Neutron\'s external bridge; empty means the first such one found.'),
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SCHEMA;

type ValueOf<T extends SettingType> = T extends 'int' ? number : T extends 'bool' ? boolean : T extends 'list' ? readonly string[] : string;

export type Settings = { readonly [K in SettingName]: ValueOf<(typeof SCHEMA)[K]['type']> };

export const SECRET_NAMES = (Object.keys(SCHEMA) as SettingName[]).filter((k) => SCHEMA[k].type === 'secret');

/** devstack's service names, in the order they start. */
export const KNOWN_SERVICES = [
  'mysql',
  'rabbit',
  'memcache',
  'key',
  'g-api',
  'g-reg',
  'placement-api',
  'ovn-northd',
  'q-svc',
  'n-api',
  'n-cond',
  'n-sch',
  'n-cpu',
  'ovn-controller',
  'q-ovn-metadata-agent',
] as const;
export type ServiceName = (typeof KNOWN_SERVICES)[number];
