// neutron-server: the Network API. With OVN enabled (the default) it is ML2/OVN: Geneve tenant
// networks, a flat provider network for the public one, routers with SNAT and floating IPs, all
// written into OVN's northbound database (ovn-northd's host). Without OVN it is ML2 with no
// mechanism driver: the API Nova asks when it shows or deletes a server, and nothing more.

import { apiPort } from '../../lib/api-services.ts';
import { readPackageList } from '../../lib/packages.ts';
import { sh } from '../../lib/shell.ts';
import { StackError } from '../../lib/errors.ts';
import { type ServicePlugin, type StackContext } from '../../lib/plugin.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { PUBLIC_PHYSNET } from '../../lib/network/physnet.ts';
import { stopPlugin } from '../../lib/stop-plugin.ts';
import { call } from '../../lib/openstack/keystone.ts';
import { adminSession, cleanService, startService, registerService, serviceLinks } from '../../lib/service/lifecycle.ts';
import { authtoken, dbPasswordFile, dbPasswordPath, dbUrl, renderIni, bindAddress, serviceAuth, osloDaemon } from '../../lib/service/config.ts';
import { dbSync, ensureDatabases } from '../../lib/service/db.ts';
import { logTail } from '../../lib/log-tail.ts';

export const NEUTRON_PORT = apiPort('network');
const CONF = '/etc/neutron/neutron.conf';
const ML2_CONF = '/etc/neutron/plugins/ml2/ml2_conf.ini';
const LOG = '/var/log/neutron/neutron-server.log';

export const neutronUrl = (ctx: StackContext): string => ctx.endpoints.url.network;

const daemon = (): DaemonSpec =>
  osloDaemon('neutron', {
    name: 'neutron-server',
    argv: ['/usr/bin/neutron-server', '--config-file', CONF, '--config-file', ML2_CONF, '--log-file', LOG],
    link: 'nova and clients -> neutron-server (the network API)',
    ownLog: LOG,
  });

export const hasOvn = (ctx: StackContext): boolean => ctx.topology.services.has('ovn-northd');

/** ML2/OVN: Geneve for the projects' networks, flat for the public one, OVN's databases from the address table. */
function ml2Ovn(ctx: StackContext): Record<string, Record<string, string | number | boolean>> {
  return {
    ml2: {
      type_drivers: 'flat,geneve',
      tenant_network_types: 'geneve',
      mechanism_drivers: 'ovn',
      extension_drivers: 'port_security',
      overlay_ip_version: 4,
    },
    ml2_type_geneve: { vni_ranges: '1:65536', max_header_size: 38 },
    ml2_type_flat: { flat_networks: PUBLIC_PHYSNET },
    securitygroup: { enable_security_group: true },
    ovn: {
      ovn_nb_connection: ctx.endpoints.ovn.nb,
      ovn_sb_connection: ctx.endpoints.ovn.sb,
      ovn_l3_scheduler: 'leastloaded',
      ovn_metadata_enabled: ctx.topology.services.has('q-ovn-metadata-agent'),
      enable_distributed_floating_ip: false,
      // At each start neutron-server makes OVN's northbound database match its own: a network made
      // before metadata was on gets its metadata port, lost OVN databases are refilled.
      neutron_sync_mode: 'repair',
    },
  };
}

const plugin: ServicePlugin = {
  name: 'neutron',
  services: ['q-svc'],
  needs: ['keystone', 'rabbitmq', 'ovn-northd'],
  after: { init: ['mariadb/register'], start: ['rabbitmq/register', 'ovn-northd/start'], register: ['keystone/register'] },

  packages: async (ctx) => readPackageList('neutron', ctx.facts.family),

  async configFiles(ctx) {
    const s = ctx.config.settings;
    const ovn = hasOvn(ctx);
    return [
      dbPasswordFile(ctx, 'neutron'),
      await renderIni(ctx, { path: CONF, variable: 'NEUTRON_CONF', owner: 'root:neutron' }, {
        DEFAULT: {
          core_plugin: 'ml2',
          // With OVN, routers are OVN's own (no L3 agent); without it there are none.
          service_plugins: ovn ? 'ovn-router' : '',
          // OVN answers DHCP itself: no DHCP agent to notify.
          dhcp_agent_notification: false,
          auth_strategy: 'keystone',
          transport_url: ctx.endpoints.transportUrl,
          bind_host: bindAddress(ctx),
          bind_port: NEUTRON_PORT,
          api_workers: s.API_WORKERS,
          rpc_workers: 1,
          // With real ports Nova waits for "port is up" before it calls a guest ACTIVE: Neutron tells it
          // (as the nova user, below).
          notify_nova_on_port_status_changes: ovn,
          notify_nova_on_port_data_changes: ovn,
        },
        ...(ovn ? { nova: serviceAuth(ctx, 'nova', s.NOVA_PASSWORD) } : {}),
        database: { connection: dbUrl(ctx, 'neutron', 'neutron') },
        keystone_authtoken: authtoken(ctx, 'neutron', s.NEUTRON_PASSWORD),
        oslo_concurrency: { lock_path: '/var/lib/neutron/tmp' },
      }),
      await renderIni(ctx, { path: ML2_CONF, variable: 'Q_PLUGIN_CONF_FILE', owner: 'root:neutron' }, ovn ? ml2Ovn(ctx) : {
        ml2: { type_drivers: 'flat', tenant_network_types: '', mechanism_drivers: '', extension_drivers: 'port_security' },
      }),
    ];
  },

  async configure(ctx) {
    await ctx.host.run(sh('install', '-d', '-o', 'neutron', '-g', 'neutron', '-m', '0750', '/var/lib/neutron/tmp'));
  },

  async init(ctx) {
    await ensureDatabases(ctx, 'neutron', ['neutron']);
    await dbSync(ctx, {
      user: 'neutron',
      command: `neutron-db-manage --config-file ${CONF} --config-file ${ML2_CONF} upgrade heads`,
      databases: ['neutron'],
      label: 'neutron-db-manage upgrade heads',
      logFile: LOG,
    });
  },

  async start(ctx) {
    await startService(ctx, daemon(), [CONF, ML2_CONF, dbPasswordPath('neutron')], `${neutronUrl(ctx)}/`, ctx.cloud.brokerRestartReason());
  },

  async register(ctx) {
    await registerService(ctx, {
      user: 'neutron',
      password: ctx.config.settings.NEUTRON_PASSWORD,
      name: 'neutron',
      type: 'network',
      description: 'OpenStack Networking',
      url: neutronUrl(ctx),
    });
  },

  links: async (ctx) =>
    serviceLinks(ctx, { name: 'neutron', user: 'neutron', password: ctx.config.settings.NEUTRON_PASSWORD, type: 'network', databases: ['neutron'], log: LOG, probe: 'v2.0/networks' }),

  async verify(ctx) {
    const s = await adminSession(ctx);
    try {
      await call(s, 'GET', `${s.endpointFor('network')}/v2.0/networks`);
    } catch (err) {
      throw new StackError(`Neutron at ${neutronUrl(ctx)} rejects an admin request: ${(err as Error).message}`,
        `Check [keystone_authtoken] in ${CONF} (user neutron, NEUTRON_PASSWORD) and the log below.`, { file: LOG, lines: await logTail(ctx, LOG) });
    }
  },

  daemons: () => [daemon()],

  async clean(ctx) {
    await stopPlugin(ctx, plugin);
    await cleanService(ctx, {
      databases: ['neutron'],
      dbUser: 'neutron',
      configs: [{ path: CONF, packaged: '/usr/share/neutron-common/neutron.conf' }, { path: ML2_CONF, packaged: '/usr/share/neutron-common/plugins/ml2/ml2_conf.ini' }],
      paths: ['/var/lib/neutron/tmp', LOG, daemon().logFile!],
    });
  },
};

export default plugin;
