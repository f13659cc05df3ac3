// verify's proof of a guest's network, hop by hop, on the compute host a test server landed on:
// its port bound by this host's ovn-controller, an address by DHCP, the metadata service, then a
// floating IP that the network host pings and opens port 22 of. The first hop that fails is named
// as the broken link, with the log that explains it. On the fake driver a stand-in guest (a
// namespace on br-int, lib/network/stand-in-guest.ts) plays the guest.

import { StackError } from '../../lib/errors.ts';
import { serviceLogTail } from '../../lib/log-tail.ts';
import { privateNetwork, publicNetwork } from '../../lib/network/settings.ts';
import { plugStandIn, standInDhcp, standInGet, standInListen, standInWired, unplugStandIn, type StandIn } from '../../lib/network/stand-in-guest.ts';
import type { Session } from '../../lib/openstack/keystone.ts';
import { create, list, remove, type FloatingIp, type Network, type Port } from '../../lib/openstack/neutron.ts';
import type { StackContext } from '../../lib/plugin.ts';
import { quote } from '../../lib/shell.ts';
import { datapathOf } from '../../lib/network/datapath.ts';
import { VERIFY_SECURITY_GROUP } from '../../lib/network/verify-names.ts';

export { VERIFY_SECURITY_GROUP };
import { pollUntil, settledInOrder, TEST_SERVER_POLL_MS } from '../../lib/wait.ts';
import { consoleSettled, dhcpOnConsole, metadataOnConsole } from '../../lib/network/guest-console.ts';
import { getConsoleOutput } from '../../lib/openstack/nova.ts';

const OVN_CONTROLLER_LOG = '/var/log/ovn/ovn-controller.log';
const FIP_MARK = 'stack.ts verify';

/** OVN networking is on and this compute is a chassis: its test server gets a real port. */
export const hasDataPath = (ctx: StackContext): boolean =>
  ctx.topology.services.has('ovn-northd') && ctx.topology.hostsFor('ovn-controller').some((h) => h.name === ctx.host.name);

export async function privateNetworkId(s: Session, ctx: StackContext): Promise<string> {
  const name = privateNetwork(ctx.config).name;
  const [net] = await list<Network>(s, 'networks', { name });
  if (!net) throw new StackError(`the network ${name} is gone`, 'A re-run of ./stack.ts makes it again.');
  return net.id;
}

const ovnLog = (ctx: StackContext) => serviceLogTail(ctx, { file: OVN_CONTROLLER_LOG, lines: 20 });

/**
 * The port Nova made for the server, once Nova has bound it to a host: a port that ovn-controller
 * claims before the binding is never called ACTIVE by Neutron (it hears "up" while the port has no
 * host, ignores it, and no second "up" comes). Given up on as soon as `buildFailed()` says the
 * build will bind none.
 */
async function serverPort(s: Session, ctx: StackContext, server: string, buildFailed: () => boolean): Promise<Port> {
  let port: Port | undefined;
  const bound = (p: Port | undefined) => !!p && !['unbound', 'binding_failed', undefined].includes(p['binding:vif_type']);
  const r = await pollUntil(async () => {
    [port] = await list<Port>(s, 'ports', { device_id: server });
    return { ok: bound(port), final: buildFailed() };
  }, { timeoutMs: 30_000, intervalMs: TEST_SERVER_POLL_MS });
  if (!r.ok || !port) {
    const what = port ? `its port ${port.id} is not bound to a host (binding:vif_type ${port['binding:vif_type'] ?? 'unset'})` : `it has no port on ${privateNetwork(ctx.config).name}`;
    throw new StackError(
      `The test server ${server} on ${ctx.host.name}: ${what}${buildFailed() ? ', and its build failed' : ''}`,
      "neutron-server's log says why Nova's port request or binding failed.",
    );
  }
  return port;
}

/** Runs fn with a stand-in guest on the fake driver (a libvirt guest is its own); `tidy` runs beside the guest's removal. */
async function withGuest<T>(ctx: StackContext, port: Port, fake: boolean, fn: (g: StandIn | undefined) => Promise<T>, tidy: () => Promise<void>): Promise<T> {
  if (!fake) {
    try {
      return await fn(undefined);
    } finally {
      await tidy();
    }
  }
  const dir = `${ctx.config.settings.STACK_STATE_DIR}/verify`;
  const g = await plugStandIn(ctx.host, { id: port.id, mac: port.mac_address }, dir);
  try {
    return await fn(g);
  } finally {
    await Promise.all([unplugStandIn(ctx.host, g), tidy()]);
  }
}

export interface DataPathOptions {
  /** A stand-in guest plays the guest (the fake driver); else the server is a real guest, already booted. */
  readonly fake: boolean;
  readonly createdAt?: number;
  /** The test server's delete: runs beside the guest's removal once the path is proved or has failed. */
  readonly release?: () => Promise<void>;
  /**
   * The server's build, when the path is proved while it goes on (the stand-in guest needs only
   * the port): its failure ends the wait for a port that will never come.
   */
  readonly building?: Promise<unknown>;
}

export async function proveDataPath(ctx: StackContext, s: Session, server: string, o: DataPathOptions): Promise<void> {
  const { fake, createdAt = Date.now(), release = async () => undefined } = o;
  const host = ctx.host.name;
  let buildFailed = false;
  o.building?.catch(() => {
    buildFailed = true;
  });
  const port = await serverPort(s, ctx, server, () => buildFailed);
  const fixed = port.fixed_ips[0]?.ip_address ?? '?';
  const userspace = (await datapathOf(ctx)).type === 'netdev';
  const gw = ctx.on('ovn-northd');
  // OVS's userspace datapath sends Geneve only out of a port of its own bridge: between two hosts
  // whose kernels have no openvswitch module the tunnel needs a NIC given to OVS (TUNNEL_INTERFACE).
  const unreachable = gw.host.name !== host && !ctx.config.settings.TUNNEL_INTERFACE && (userspace || (await datapathOf(gw)).type === 'netdev');
  let fip: Promise<FloatingIp> | undefined;
  let fipReleased: Promise<void> | undefined;
  // Once, as soon as the floating IP's hop is settled: its deletion (~0.4 s of OVN work in
  // neutron-server) then overlaps the metadata read instead of delaying the server's.
  const releaseFip = (): Promise<void> =>
    (fipReleased ??= (async () => {
      const f = await fip?.catch(() => undefined);
      if (f) await remove(s, 'floatingips', f.id).catch(() => undefined);
    })());
  // The floating IP goes first: a server deleted with one still on its port has Neutron take it off
  // inside the port's DELETE (~0.3 s more of OVN work on the path of the server's deletion).
  const tidy = async (): Promise<void> => {
    await releaseFip();
    await release();
  };
  // 4. A floating IP, pinged and connected to from the network host.
  const floating = async (): Promise<void> => {
    if (!fip) {
      ctx.log.warn(
        `${host}: the floating IP check of its test server is skipped: the path from the network host ${gw.host.name} is a Geneve tunnel, and Open vSwitch's userspace datapath (no openvswitch kernel module) tunnels only through a NIC of its own: set TUNNEL_INTERFACE`,
      );
      return;
    }
    await reachByFloatingIp(ctx, await fip, fixed, createdAt, !fake && userspace);
  };
  // The floating IP is made while the port is bound and the guest asks for its address: Neutron
  // takes ~0.5 s for it (its NAT rule in OVN), which no later hop should wait for.
  if (!unreachable) {
    fip = allocateFloatingIp(s, ctx, port);
    fip.catch(() => undefined);
  }
  await withGuest(ctx, port, fake, async (g) => {
    const leaseDir = `${ctx.config.settings.STACK_STATE_DIR}/verify`;
    // DHCP is asked as soon as ovn-controller has wired the port, while Neutron hears of the
    // binding seconds later on a busy first run (~5 s of waiting, else).
    const early = g ? standInWired(ctx.host, g).then(() => standInDhcp(ctx.host, g, leaseDir)) : undefined;
    early?.catch(() => undefined);
    // 1. The port is bound here: ovn-controller claimed it, Neutron calls it ACTIVE.
    const bound = pollUntil(async () => {
      const [p] = await list<Port>(s, 'ports', { id: port.id });
      return { ok: p?.status === 'ACTIVE', detail: `status ${p?.status ?? 'gone'}`, final: !p };
    }, { timeoutMs: ctx.config.settings.SERVICE_TIMEOUT * 1000, intervalMs: TEST_SERVER_POLL_MS });
    const boundHere = bound.then(async (b) => {
      if (b.ok) return;
      throw new StackError(
        `Broken link: ovn-controller on ${host} -> the test server's port ${port.id} (${b.detail}: OVN never bound it to this chassis)`,
        'ovn-controller binds a port once it sees it on br-int; its log below says why not. A re-run of ./stack.ts restarts what is down.',
        await ovnLog(ctx),
      );
    });
    if (!g) {
      await boundHere;
      await readGuestConsole(ctx, s, server, fixed, userspace);
      await floating();
      return;
    }
    // 2. DHCP: OVN answers it from this host's ovn-controller. An early ask that ran out of tries
    // before a slow binding is asked again once the port is bound.
    const dhcp = early!.then(async (first) => {
      const lease = first.ok || !(await bound).ok ? first : await standInDhcp(ctx.host, g, leaseDir);
      if (lease.ok && lease.address === fixed) return;
      throw new StackError(
        `Broken link: DHCP (OVN's, by ovn-controller on ${host}) -> the test server: ${lease.ok ? `it got ${lease.address}, Neutron gave it ${fixed}` : 'no lease'}`,
        `The subnet ${privateNetwork(ctx.config).name}-subnet has DHCP on; ovn-controller answers it. Its log below, and the DHCP client's output: ${lease.ok ? '' : lease.output.split('\n').slice(-3).join(' | ')}`,
        await ovnLog(ctx),
      );
    });
    // 3. The metadata service, when its agent runs here, and 4. the floating IP, once the guest has
    // its address: neither waits for the other nor for Neutron to call the port ACTIVE (on a re-run
    // the agent re-makes the network's namespace meanwhile, ~0.7 s). The first hop that failed, in
    // this order, is the one named.
    const agentHere = ctx.topology.hostsFor('q-ovn-metadata-agent').some((h) => h.name === host);
    const metadata = dhcp.then(() => (agentHere ? readMetadata(ctx, g, server) : undefined));
    const reached = dhcp.then(() => standInListen(ctx.host, g)).then(floating);
    void reached.finally(releaseFip).catch(() => undefined);
    await settledInOrder([boundHere, dhcp, metadata, reached]);
  }, tidy);
}

/** The stand-in guest reads its own metadata through the agent on its host (retried, as CirrOS does: the agent makes the network's namespace and haproxy when the first port of it is bound here). */
async function readMetadata(ctx: StackContext, g: StandIn, server: string): Promise<void> {
  let md: { body?: string; error?: string } = {};
  const deadline = Date.now() + 90_000;
  do md = await standInGet(ctx.host, g, 'http://169.254.169.254/openstack/latest/meta_data.json', 10);
  while (!md.body && Date.now() < deadline);
  if (!md.body?.includes(server)) {
    throw new StackError(
      `Broken link: the metadata agent on ${ctx.host.name} -> nova's metadata API: the test server's metadata ${md.error ? `could not be read (${md.error})` : 'is not its own'}`,
      'The agent (neutron-ovn-metadata-agent) proxies 169.254.169.254 to nova-api-metadata with the shared secret; their logs say which side refused.',
    );
  }
}

/**
 * A real guest says on its console what DHCP gave it and whether it read its metadata (CirrOS and
 * the test image do: lib/network/guest-console.ts). Waited for, up to 2 minutes; an image that
 * says nothing leaves the floating IP as the proof.
 */
async function readGuestConsole(ctx: StackContext, s: Session, server: string, fixed: string, userspace = false): Promise<void> {
  const host = ctx.host.name;
  const agentHere = ctx.topology.hostsFor('q-ovn-metadata-agent').some((h) => h.name === host);
  // The guest's metadata read is TCP, which a QEMU guest cannot pass on the userspace datapath:
  // waiting for its verdict would only make a first run sit out the guest's own retries.
  const wantMetadata = agentHere && !userspace;
  let text = '';
  const res = await pollUntil(async () => {
    text = await getConsoleOutput(s, server, 200).catch(() => text);
    return { ok: consoleSettled(text, wantMetadata) };
  }, { timeoutMs: 120_000, intervalMs: 3000 });
  const dhcp = dhcpOnConsole(text);
  if (dhcp?.kind === 'failed' || (dhcp?.kind === 'ok' && dhcp.value !== fixed)) {
    throw new StackError(
      `Broken link: DHCP (OVN's, by ovn-controller on ${host}) -> the test server: ${dhcp.kind === 'failed' ? `its console says "${dhcp.reason}"` : `it got ${dhcp.value}, Neutron gave it ${fixed}`}`,
      'ovn-controller answers DHCP for the subnet; its log below says why not.',
      await ovnLog(ctx),
    );
  }
  const md = metadataOnConsole(text);
  if (agentHere && userspace && md?.kind !== 'ok') {
    // TCP from a QEMU guest does not pass the userspace datapath (see reachByFloatingIp).
    ctx.log.warn(`${host}: the test server's metadata read is not checked: TCP from a QEMU guest does not pass Open vSwitch's userspace datapath (no openvswitch kernel module)`);
  } else if (wantMetadata && md?.kind === 'failed') {
    throw new StackError(
      `Broken link: the metadata agent on ${host} -> nova's metadata API: the test server's console says "${md.reason}"`,
      'The agent (neutron-ovn-metadata-agent) proxies 169.254.169.254 to nova-api-metadata with the shared secret; their logs say which side refused.',
    );
  }
  if (!res.ok && dhcp === undefined) ctx.log.info(`${host}: the test server's console says nothing of DHCP (an image verify does not know): the floating IP is the proof`);
}

/** A floating IP on the public network for the test server's port (a killed verify's leftovers removed first). */
async function allocateFloatingIp(s: Session, ctx: StackContext, port: Port): Promise<FloatingIp> {
  const pub = publicNetwork(ctx.config);
  const [pubNet] = await list<Network>(s, 'networks', { name: pub.name });
  if (!pubNet) throw new StackError(`the network ${pub.name} is gone`, 'A re-run of ./stack.ts makes it again.');
  // A killed verify leaves its floating IP behind, unassociated once its server is gone.
  for (const old of await list<FloatingIp>(s, 'floatingips', { description: FIP_MARK })) if (!old.port_id) await remove(s, 'floatingips', old.id);
  return create<FloatingIp>(s, 'floatingips', { floating_network_id: pubNet.id, port_id: port.id, description: FIP_MARK });
}

/** Ping and port 22 of the test server at its floating IP, from the network host. The caller removes the floating IP. */
async function reachByFloatingIp(ctx: StackContext, fip: FloatingIp, fixed: string, createdAt: number, qemuOnUserspace = false): Promise<void> {
  const pub = publicNetwork(ctx.config);
  const gw = ctx.on('ovn-northd');
  const ping = await gw.host.run(`for i in $(seq 1 40); do ping -c 1 -W 1 ${quote(fip.floating_ip_address)} >/dev/null 2>&1 && echo "after $i" && exit 0; done; exit 1`, {
    check: false,
    label: `ping ${fip.floating_ip_address} from ${gw.host.name}`,
  });
  if (ping.exitCode !== 0) {
    const router = await gw.host.run(`ping -c 2 -W 1 ${quote(pub.gateway)} >/dev/null 2>&1`, { check: false, label: 'ping the gateway address' });
    throw new StackError(
      `Broken link: the network host ${gw.host.name} -> floating IP ${fip.floating_ip_address} -> the test server (${fixed}) on ${ctx.host.name}: no answer to ping in 40 s`,
      `The path is ${ctx.config.settings.PUBLIC_BRIDGE} (${pub.gateway}${router.exitCode === 0 ? '' : ', itself not answering'}) -> ${ctx.config.settings.Q_ROUTER_NAME}'s gateway on ${gw.host.name} (DNAT) -> ${ctx.topology.hosts.length > 1 ? 'the Geneve tunnel -> ' : ''}the guest, with security group ${VERIFY_SECURITY_GROUP} letting ICMP in. The gateway's ovn-controller log is below.`,
      await serviceLogTail(gw, { file: OVN_CONTROLLER_LOG, lines: 20 }),
    );
  }
  // A connect that works answers at once; on the userspace datapath a QEMU guest's does not (above).
  const tcp = await gw.host.run(`timeout ${qemuOnUserspace ? 5 : 15} bash -c ${quote(`exec 3<>/dev/tcp/${fip.floating_ip_address}/22 && head -c 100 <&3`)}`, { check: false, label: `port 22 of ${fip.floating_ip_address}` });
  if (tcp.exitCode !== 0 && qemuOnUserspace) {
    // OVS 3.1's userspace datapath passes a QEMU guest's TCP on with the checksum left to the host
    // (virtio offload); its offload handling (userspace-tso-enable) fixed that and broke TCP over Geneve.
    ctx.log.warn(`${ctx.host.name}: the test server answers ping at ${fip.floating_ip_address}, but TCP to it (port 22) does not pass Open vSwitch's userspace datapath (the guest's checksum offload): a known limit without the openvswitch kernel module`);
    return;
  }
  if (tcp.exitCode !== 0) {
    throw new StackError(
      `Broken link: the network host ${gw.host.name} -> ${fip.floating_ip_address} port 22 (the test server on ${ctx.host.name}): ${(tcp.stderr || 'no connection').trim().split('\n').pop()}`,
      `Ping answers, so the router and the floating IP work: the security group ${VERIFY_SECURITY_GROUP} (tcp 22) or the guest's listener is what refuses.`,
    );
  }
  const pingS = ((Date.now() - createdAt) / 1000).toFixed(1);
  ctx.log.info(`${ctx.host.name}: the test server's ${fixed} answers ping and port 22 at ${fip.floating_ip_address} from ${gw.host.name}, ${pingS} s after server create [guest-ping-s=${pingS}]`);
}
