// neutron-server: the Network API. With OVN enabled (the default) it is ML2/OVN: Geneve tenant
// networks, a flat provider network for the public one, routers with SNAT and floating IPs, all
// written into OVN's northbound database (ovn-northd's host). Without OVN it is ML2 with no
// mechanism driver: the API Nova asks when it shows or deletes a server, and nothing more.

import { apiPort } from '../../lib/api-services.ts';
import { sh } from '../../lib/shell.ts';
import { StackError } from '../../lib/errors.ts';
import type { StackContext } from '../../lib/plugin.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { PUBLIC_PHYSNET } from '../../lib/network/physnet.ts';
import { call } from '../../lib/openstack/keystone.ts';
import { authtoken, dbPasswordPath, dbUrl, renderIni, bindAddress, serviceAuth, osloDaemon } from '../../lib/service/config.ts';
import { adminSession, startService } from '../../lib/service/lifecycle.ts';
import { apiServicePlugin, type ApiServiceDescriptor } from '../../lib/service/descriptor.ts';
import { logTail } from '../../lib/log-tail.ts';

export const NEUTRON_PORT = apiPort('network');
// Rendered from the host's own files (neutron-common installs them); clean puts the packaged copies back.
const NEUTRON = { path: '/etc/neutron/neutron.conf', packaged: '/usr/share/neutron-common/neutron.conf', renderFromPackaged: false, variable: 'NEUTRON_CONF', owner: 'root:neutron' } as const;
const ML2 = { path: '/etc/neutron/plugins/ml2/ml2_conf.ini', packaged: '/usr/share/neutron-common/plugins/ml2/ml2_conf.ini', renderFromPackaged: false, variable: 'Q_PLUGIN_CONF_FILE', owner: 'root:neutron' } as const;
const CONF = NEUTRON.path;
const ML2_CONF = ML2.path;
const LOG = '/var/log/neutron/neutron-server.log';

export const neutronUrl = (ctx: StackContext): string => ctx.endpoints.url.network;

const daemon = (): DaemonSpec =>
  osloDaemon('neutron', {
    name: 'neutron-server',
    configFiles: [CONF, ML2_CONF],
    link: 'nova and clients -> neutron-server (the network API)',
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

export const NEUTRON_SERVER: ApiServiceDescriptor = {
  name: 'neutron',
  services: ['q-svc'],
  needs: ['keystone', 'rabbitmq', 'ovn-northd'],
  after: { init: ['mariadb/register'], start: ['rabbitmq/register', 'ovn-northd/start'], register: ['keystone/register'] },
  apis: ['network'],
  log: LOG,
  configs: [NEUTRON, ML2],
  databases: ['neutron'],
  dbSyncs: [{ label: 'neutron-db-manage upgrade heads', command: `neutron-db-manage --config-file ${CONF} --config-file ${ML2_CONF} upgrade heads`, databases: ['neutron'] }],
  keystone: { password: 'NEUTRON_PASSWORD', type: 'network', description: 'OpenStack Networking', probe: 'v2.0/networks' },
  leaves: () => ['/var/lib/neutron/tmp', LOG, daemon().logFile!],
};

export default apiServicePlugin(NEUTRON_SERVER, {
  async configFiles(ctx) {
    const s = ctx.config.settings;
    const ovn = hasOvn(ctx);
    return [
      await renderIni(ctx, NEUTRON, {
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
          // No agent here reports its state over RPC (OVN's metadata agent writes it to the southbound
          // DB): no process for it, ~1 s of CPU and ~60 MB less.
          rpc_state_report_workers: 0,
          // With real ports Nova waits for "port is up" before it calls a guest ACTIVE: Neutron tells it
          // (as the nova user, below).
          notify_nova_on_port_status_changes: ovn,
          notify_nova_on_port_data_changes: ovn,
          // Neutron sends the first event at once and holds the next ones for this many seconds:
          // at its default of 2, a guest's "port is up" waited behind its port's update, and a test
          // server's events reached Nova while it was being deleted (its port's DELETE took 1 s).
          ...(ovn ? { send_events_interval: 0 } : {}),
        },
        ...(ovn ? { nova: serviceAuth(ctx, 'nova', s.NOVA_PASSWORD) } : {}),
        database: { connection: dbUrl(ctx, 'neutron', 'neutron') },
        keystone_authtoken: authtoken(ctx, 'neutron', s.NEUTRON_PASSWORD),
        oslo_concurrency: { lock_path: '/var/lib/neutron/tmp' },
      }),
      await renderIni(ctx, ML2, ovn ? ml2Ovn(ctx) : {
        ml2: { type_drivers: 'flat', tenant_network_types: '', mechanism_drivers: '', extension_drivers: 'port_security' },
      }),
    ];
  },

  async configure(ctx) {
    await ctx.host.run(sh('install', '-d', '-o', 'neutron', '-g', 'neutron', '-m', '0750', '/var/lib/neutron/tmp'));
  },

  async start(ctx) {
    await startService(ctx, daemon(), [CONF, ML2_CONF, dbPasswordPath('neutron')], `${neutronUrl(ctx)}/`, ctx.cloud.brokerRestartReason());
  },

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
});
