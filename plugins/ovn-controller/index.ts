// A chassis (devstack's ovn-controller service): Open vSwitch's ovsdb-server and ovs-vswitchd, and
// ovn-controller, which reads OVN's southbound database and programs br-int with the flows of the
// guests on this host. Every compute is one; the network host (the one running ovn-northd) is
// also the gateway chassis: it carries PUBLIC_BRIDGE (br-ex) with the public network's gateway
// address, where the router's SNAT and the floating IPs live.
//
// The datapath is the kernel's where the openvswitch module loads, else OVS's userspace one
// (lib/network/datapath.ts); ovn-controller makes br-int with the same type.

import { StackError } from '../../lib/errors.ts';
import { daemonStatus, type DaemonSpec } from '../../lib/daemon.ts';
import { serviceLogTail } from '../../lib/log-tail.ts';
import { datapathOf, type DatapathType } from '../../lib/network/datapath.ts';
import { publicNetwork } from '../../lib/network/settings.ts';
import { PUBLIC_PHYSNET } from '../../lib/network/physnet.ts';
import { OVS_LOCAL_LISTEN, OVS_SOCKET } from '../../lib/network/ovs-paths.ts';
import { appctl, rootDaemon } from '../../lib/network/ovs-daemon.ts';
import { waitForLink } from '../../lib/network/wait-link.ts';
import { ensureOvsdbFile, waitForOvsdb } from '../../lib/ovsdb.ts';
import { readPackageList } from '../../lib/packages.ts';
import type { LinkCheck, ServicePlugin, StackContext } from '../../lib/plugin.ts';
import { startOrRestart } from '../../lib/restart.ts';
import { quote, sh } from '../../lib/shell.ts';
import { stopPlugin } from '../../lib/stop-plugin.ts';
import { pollUntil } from '../../lib/wait.ts';
import { checkHostNetworks } from '../../lib/network/host-checks.ts';
import { removeStandIns } from '../../lib/network/stand-in-guest.ts';
import { ensurePhysBridge, PHYS_BRIDGE, restoreTunnelInterface, tunnelEndpoint, type TunnelEndpoint } from '../../lib/network/tunnel.ts';

const OVS_RUN = '/var/run/openvswitch';
const OVS_LOGS = '/var/log/openvswitch';
const OVN_RUN = '/var/run/ovn';
const OVN_LOGS = '/var/log/ovn';
const CONF_DB = { db: '/etc/openvswitch/conf.db', schema: '/usr/share/openvswitch/vswitch.ovsschema' };
const INTEGRATION_BRIDGE = 'br-int';

const stateDir = (ctx: StackContext): string => ctx.config.settings.STACK_STATE_DIR;

const ovsdbServer = (): DaemonSpec => rootDaemon({ name: 'ovsdb-server', argv: ['/usr/sbin/ovsdb-server', CONF_DB.db, `--remote=punix:${OVS_SOCKET}`, '--remote=db:Open_vSwitch,Open_vSwitch,manager_options'], run: OVS_RUN, logs: OVS_LOGS, link: 'ovs-vswitchd, ovn-controller and nova-compute -> ovsdb-server (Open vSwitch\'s own database)' });
const vswitchd = (): DaemonSpec => rootDaemon({ name: 'ovs-vswitchd', argv: ['/usr/sbin/ovs-vswitchd', `unix:${OVS_SOCKET}`], run: OVS_RUN, logs: OVS_LOGS, link: 'the guests\' ports, br-int and br-ex -> ovs-vswitchd (it forwards every packet)' });
const controller = (): DaemonSpec => rootDaemon({ name: 'ovn-controller', argv: ['/usr/bin/ovn-controller', `unix:${OVS_SOCKET}`], run: OVN_RUN, logs: OVN_LOGS, link: 'OVN southbound -> ovn-controller -> br-int (the flows of this host\'s guests)' });

/** This host carries the public bridge: it runs ovn-northd (the controller, or a host of the network role). */
export const isGateway = (ctx: StackContext): boolean => ctx.endpoints.hostOf['ovn-northd'] === ctx.host.name;

/** The external_ids ovn-controller reads: who this chassis is, where the southbound database is, how to tunnel. */
function chassisIds(ctx: StackContext, dp: DatapathType, tunnel: TunnelEndpoint | undefined): Record<string, string> {
  const me = ctx.endpoints.hosts.get(ctx.host.name);
  const name = ctx.facts.hostname;
  return {
    'system-id': name,
    hostname: name,
    'ovn-remote': ctx.endpoints.ovn.sb,
    'ovn-encap-type': 'geneve',
    'ovn-encap-ip': tunnel?.ip ?? me?.myIp ?? ctx.address,
    'ovn-bridge-datapath-type': dp,
  };
}

const GATEWAY_IDS = ['ovn-bridge-mappings', 'ovn-cms-options'] as const;

const tail = (ctx: StackContext, spec: DaemonSpec) => serviceLogTail(ctx, { file: spec.ownLog, daemon: spec });

async function ovsVsctl(ctx: StackContext, args: string, label: string): Promise<string> {
  const r = await ctx.host.run(`ovs-vsctl --timeout=30 ${args}`, { label });
  return r.stdout;
}

/** PUBLIC_BRIDGE with the public network's gateway address (a netdev bridge's port is recreated by ovs-vswitchd, without it). */
async function ensurePublicBridge(ctx: StackContext, dp: DatapathType): Promise<void> {
  const s = ctx.config.settings;
  const net = publicNetwork(ctx.config);
  await ovsVsctl(ctx, `--may-exist add-br ${quote(s.PUBLIC_BRIDGE)} -- set bridge ${quote(s.PUBLIC_BRIDGE)} datapath_type=${dp}`, `bridge ${s.PUBLIC_BRIDGE}`);
  if (s.PUBLIC_INTERFACE) await ovsVsctl(ctx, `--may-exist add-port ${quote(s.PUBLIC_BRIDGE)} ${quote(s.PUBLIC_INTERFACE)}`, `${s.PUBLIC_INTERFACE} into ${s.PUBLIC_BRIDGE}`);
  await ctx.host.run(
    [
      // The bridge's own port appears once ovs-vswitchd has made it.
      waitForLink(s.PUBLIC_BRIDGE),
      sh('ip', 'addr', 'replace', `${net.gateway}/${net.prefix}`, 'dev', s.PUBLIC_BRIDGE),
      sh('ip', 'link', 'set', s.PUBLIC_BRIDGE, 'up'),
    ].join(' && '),
    { label: `${net.gateway}/${net.prefix} on ${s.PUBLIC_BRIDGE}` },
  );
}

async function chassisRegistered(ctx: StackContext): Promise<{ ok: boolean; detail: string }> {
  const r = await ctx.host.run(`ovn-sbctl --db=${quote(ctx.endpoints.ovn.sb)} --timeout=10 --bare --columns=name find Chassis ${quote(`name=${ctx.facts.hostname}`)}`, {
    check: false,
    label: 'chassis in the southbound database',
  });
  if (r.exitCode !== 0) return { ok: false, detail: `ovn-sbctl: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}` };
  return { ok: r.stdout.trim() === ctx.facts.hostname, detail: `no chassis named ${ctx.facts.hostname} in the southbound database` };
}

/**
 * Zed's Neutron reads a chassis's gateway options (ovn-cms-options, ovn-bridge-mappings) from its
 * external_ids in the southbound database; OVN 23.03 (Debian 12's) writes them to other_config
 * only. Without them Neutron took every chassis for a gateway and scheduled router1's on a compute
 * with no br-ex (seen on three hosts: floating IPs answered only when the network host won).
 * Copied for the gateway, removed elsewhere; later releases read other_config and ignore these.
 */
async function mirrorGatewayOptions(ctx: StackContext, gateway: boolean): Promise<void> {
  const db = `--db=${quote(ctx.endpoints.ovn.sb)} --timeout=10`;
  const chassis = quote(ctx.facts.hostname);
  const cmd = gateway
    ? `ovn-sbctl ${db} set Chassis ${chassis} external_ids:ovn-cms-options=enable-chassis-as-gw ${quote(`external_ids:ovn-bridge-mappings=${PUBLIC_PHYSNET}:${ctx.config.settings.PUBLIC_BRIDGE}`)}`
    : `ovn-sbctl ${db} remove Chassis ${chassis} external_ids ovn-cms-options -- remove Chassis ${chassis} external_ids ovn-bridge-mappings`;
  await ctx.host.run(cmd, { label: gateway ? 'gateway options where Neutron reads them' : 'no gateway options on this chassis' });
}

async function connectionStatus(ctx: StackContext): Promise<string> {
  const r = await ctx.host.run(appctl('ovn-appctl', OVN_RUN, 'ovn-controller', 'connection-status'), { check: false, label: 'ovn-controller connection' });
  return (r.stdout || r.stderr).trim();
}

const plugin: ServicePlugin = {
  name: 'ovn-controller',
  services: ['ovn-controller'],
  needs: ['ovn-northd'],
  after: { init: [], start: ['ovn-northd/start'], register: [] },

  packages: (ctx) => readPackageList('ovn-controller', ctx.facts.family),

  async preflight(ctx) {
    const dp = await datapathOf(ctx);
    if (dp.error) {
      throw new StackError(
        `${dp.error}; nothing was changed`,
        dp.type === 'system'
          ? 'Remove OVS_DATAPATH_TYPE (or set it to netdev) to use the userspace datapath, or load the module (modprobe openvswitch).'
          : 'Give the host the tun device (mkdir -p /dev/net && mknod /dev/net/tun c 10 200; a container needs it passed in), or load the openvswitch module.',
      );
    }
    if (dp.warning) ctx.log.warn(dp.warning);
    await checkHostNetworks(ctx, isGateway(ctx));
    if (ctx.config.settings.TUNNEL_INTERFACE && !(await tunnelEndpoint(ctx))) {
      throw new StackError(
        `TUNNEL_INTERFACE=${ctx.config.settings.TUNNEL_INTERFACE} has no IPv4 address on ${ctx.host.name} (or does not exist there); nothing was changed`,
        'Give the NIC its tunnel address on every chassis host (ip -br addr), or remove TUNNEL_INTERFACE to tunnel over the hosts\' own addresses.',
      );
    }
  },

  async configure(ctx) {
    await ctx.host.run(sh('install', '-d', '-m', '0755', OVS_LOGS, OVN_LOGS, OVS_RUN, OVN_RUN), { label: 'Open vSwitch and OVN directories' });
  },

  async init(ctx) {
    const done = await ensureOvsdbFile(ctx, CONF_DB);
    if (done !== 'current') ctx.log.info(`${ctx.host.name}: Open vSwitch database ${done}`);
  },

  async start(ctx) {
    const dp = (await datapathOf(ctx)).type;
    const db = await startOrRestart(ctx, ovsdbServer(), []);
    await waitForOvsdb(ctx, { name: 'ovsdb-server', remote: `unix:${OVS_SOCKET}`, database: 'Open_vSwitch', log: () => tail(ctx, ovsdbServer()) });
    await db.markStarted();
    const tunnel = await tunnelEndpoint(ctx);
    const ids = chassisIds(ctx, dp, tunnel);
    const gateway = isGateway(ctx);
    const set = Object.entries({
      ...ids,
      ...(gateway ? { 'ovn-bridge-mappings': `${PUBLIC_PHYSNET}:${ctx.config.settings.PUBLIC_BRIDGE}`, 'ovn-cms-options': 'enable-chassis-as-gw' } : {}),
    }).map(([k, v]) => quote(`external_ids:${k}=${v}`));
    const unset = gateway ? '' : ` -- remove open_vswitch . external_ids ${GATEWAY_IDS.join(' ')}`;
    await ovsVsctl(ctx, `--no-wait init -- set open_vswitch . ${set.join(' ')}${unset} -- set-manager ${OVS_LOCAL_LISTEN}`, 'chassis settings (external_ids)');

    const sw = await startOrRestart(ctx, vswitchd(), []);
    const up = await pollUntil(async () => {
      const r = await ctx.host.run(appctl('ovs-appctl', OVS_RUN, 'ovs-vswitchd', 'version'), { check: false, label: 'ovs-vswitchd answers' });
      return { ok: r.exitCode === 0, detail: (r.stderr || r.stdout).trim() };
    }, { timeoutMs: ctx.config.settings.SERVICE_TIMEOUT * 1000, intervalMs: 300 });
    if (!up.ok) throw new StackError(`ovs-vswitchd on ${ctx.host.name} does not answer: ${up.detail}`, 'Its log below says why.', await tail(ctx, vswitchd()));
    await sw.markStarted();
    if (gateway) await ensurePublicBridge(ctx, dp);
    if (tunnel && dp === 'netdev') await ensurePhysBridge(ctx, tunnel);

    const ovn = await startOrRestart(ctx, controller(), []);
    const reg = await pollUntil(async () => chassisRegistered(ctx), { timeoutMs: ctx.config.settings.SERVICE_TIMEOUT * 1000, intervalMs: 500 });
    if (!reg.ok) {
      throw new StackError(
        `ovn-controller on ${ctx.host.name} did not register its chassis: ${reg.detail}`,
        `It reaches the southbound database at ${ctx.endpoints.ovn.sb} (external_ids:ovn-remote); its log below says why. ${await connectionStatus(ctx)}`,
        await tail(ctx, controller()),
      );
    }
    await ovn.markStarted();
    await mirrorGatewayOptions(ctx, gateway);
  },

  async links(ctx): Promise<LinkCheck[]> {
    const s = ctx.config.settings;
    const checks: LinkCheck[] = [
      {
        service: 'ovsdb-server',
        link: ovsdbServer().link!,
        log: ovsdbServer().ownLog,
        hint: 'A re-run of ./stack.ts starts it again.',
        async check() {
          const r = await ctx.host.run('ovs-vsctl --timeout=5 get open_vswitch . external_ids:system-id', { check: false, label: 'ovsdb-server answers' });
          return r.exitCode === 0 ? undefined : `Open vSwitch's database on ${ctx.host.name} does not answer: ${(r.stderr || r.stdout).trim()}`;
        },
      },
      {
        service: 'ovn-controller',
        link: `ovn-controller on ${ctx.host.name} -> OVN southbound (${ctx.endpoints.ovn.sb})`,
        log: controller().ownLog,
        hint: 'A re-run of ./stack.ts starts it again.',
        async check() {
          if (!(await daemonStatus(ctx.host, ctx.facts, controller(), stateDir(ctx))).running) return `ovn-controller on ${ctx.host.name} is not running`;
          const st = await connectionStatus(ctx);
          return st === 'connected' ? undefined : `ovn-controller on ${ctx.host.name} is not connected to the southbound database: ${st}`;
        },
      },
    ];
    if (isGateway(ctx)) {
      const net = publicNetwork(ctx.config);
      checks.push({
        service: s.PUBLIC_BRIDGE,
        link: `the network host ${ctx.host.name} -> floating IPs (${net.gateway}/${net.prefix} on ${s.PUBLIC_BRIDGE})`,
        hint: 'A re-run of ./stack.ts puts the address back (ovs-vswitchd makes the bridge\'s port anew when it restarts, without it).',
        async check() {
          const r = await ctx.host.run(sh('ip', '-4', '-o', 'addr', 'show', 'dev', s.PUBLIC_BRIDGE), { check: false, label: `address of ${s.PUBLIC_BRIDGE}` });
          if (r.exitCode !== 0) return `${s.PUBLIC_BRIDGE} does not exist on ${ctx.host.name}`;
          return r.stdout.includes(` ${net.gateway}/`) ? undefined : `${s.PUBLIC_BRIDGE} on ${ctx.host.name} has lost ${net.gateway}/${net.prefix}`;
        },
      });
    }
    return checks;
  },

  async verify(ctx) {
    const reg = await chassisRegistered(ctx);
    if (!reg.ok) throw new StackError(`${ctx.host.name} is not a chassis of OVN: ${reg.detail}`, 'A re-run of ./stack.ts restarts ovn-controller; its log below says why.', await tail(ctx, controller()));
  },

  async describe(ctx) {
    const dp = await datapathOf(ctx);
    const tunnel = await tunnelEndpoint(ctx);
    const lines = [
      `Datapath: ${dp.type === 'system' ? 'kernel' : 'userspace (netdev)'}: ${dp.reason}${
        tunnel ? `; Geneve tunnels from ${tunnel.ip} (${tunnel.nic}${dp.type === 'netdev' ? ` on ${PHYS_BRIDGE}` : ''})` : dp.type === 'netdev' && ctx.topology.hosts.length > 1 ? '; no Geneve tunnels to other hosts without TUNNEL_INTERFACE (guests here reach only this host\'s network)' : ''
      }`,
    ];
    if (isGateway(ctx)) {
      const net = publicNetwork(ctx.config);
      lines.push(`Gateway: ${ctx.config.settings.PUBLIC_BRIDGE} ${net.gateway}/${net.prefix}: floating IPs ${net.cidr} answer from ${ctx.host.name}`);
    }
    return lines;
  },

  daemons: () => [ovsdbServer(), vswitchd(), controller()],

  async clean(ctx) {
    await removeStandIns(ctx.host);
    await stopPlugin(ctx, plugin);
    // The kernel datapath keeps its ports after ovs-vswitchd is gone; the userspace one has none left.
    // Open vSwitch's database goes back to an empty one, as the package made it.
    await ctx.host.run(
      [
        'ovs-dpctl del-dp ovs-system >/dev/null 2>&1 || true',
        // The userspace datapath's ports are persistent tap devices: they outlive ovs-vswitchd.
        `for d in ${[INTEGRATION_BRIDGE, ctx.config.settings.PUBLIC_BRIDGE, PHYS_BRIDGE, 'ovs-netdev'].map(quote).join(' ')}; do [ -e "/sys/class/net/$d/tun_flags" ] && ip link del "$d"; done; true`,
        sh('rm', '-f', CONF_DB.db, '/etc/openvswitch/.conf.db.~lock~'),
        sh('ovsdb-tool', 'create', CONF_DB.db, CONF_DB.schema),
      ].join('; '),
      { label: 'remove the bridges and Open vSwitch\'s settings' },
    );
    await restoreTunnelInterface(ctx);
  },
};

export default plugin;
