// A stand-in guest for a compute on Nova's fake driver, which runs no guest: a network namespace
// on br-int whose port is the server's own Neutron port (iface-id, MAC), as a hypervisor would plug
// it. It then does what the test image and CirrOS do at boot: asks DHCP for its address, reads the
// metadata service, and answers on TCP port 22. busybox supplies udhcpc, wget and nc.

import type { Host } from '../host/types.ts';
import { quote, sh } from '../shell.ts';
import { waitForLink } from './wait-link.ts';

export interface StandIn {
  readonly ns: string;
  readonly dev: string;
}

/** What the namespace's DHCP client got, or why it got nothing. */
export type Lease = { readonly ok: true; readonly address: string; readonly router: string } | { readonly ok: false; readonly output: string };

/** The banner a connection to port 22 of the stand-in reads. */
export const STAND_IN_BANNER = 'SSH-2.0-stackts-stand-in';

// udhcpc calls this with the lease in its environment: address, OVN's classless routes (option
// 121, where the metadata route comes from) and the default route; then says what it got.
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$subnet" dev "$interface"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do
        if [ "$2" = 0.0.0.0 ]; then ip route replace "$1" dev "$interface"; else ip route replace "$1" via "$2" dev "$interface"; fi
        shift 2
      done
    fi
    [ -n "$router" ] && ip route replace default via "\${router%% *}" dev "$interface"
    echo "LEASE $ip router \${router%% *}"
    ;;
esac
exit 0
`;

export const standInNames = (portId: string): StandIn => ({ ns: `stack-verify-${portId.slice(0, 8)}`, dev: `svg-${portId.slice(0, 10)}` });

/** Plugs the namespace onto br-int as the port's owner (external_ids:iface-id), with the port's MAC. */
export async function plugStandIn(host: Host, port: { id: string; mac: string }, scriptDir: string, bridge = 'br-int'): Promise<StandIn> {
  const g = standInNames(port.id);
  // One verify at a time runs on a host (the run lock): any stand-in here is a killed run's.
  await removeStandIns(host, bridge);
  await host.run(sh('install', '-d', '-m', '0755', scriptDir), { label: 'verify directory' });
  await host.writeFile(`${scriptDir}/udhcpc.script`, UDHCPC_SCRIPT, { mode: 0o755 });
  await host.run(
    [
      `ovs-vsctl --timeout=30 add-port ${quote(bridge)} ${quote(g.dev)} -- set Interface ${quote(g.dev)} type=internal ` +
        `${quote(`external_ids:iface-id=${port.id}`)} ${quote(`external_ids:attached-mac=${port.mac}`)} external_ids:iface-status=active`,
      waitForLink(g.dev),
      sh('ip', 'netns', 'add', g.ns),
      sh('ip', 'link', 'set', g.dev, 'netns', g.ns),
      sh('ip', 'netns', 'exec', g.ns, 'ip', 'link', 'set', 'lo', 'up'),
      sh('ip', 'netns', 'exec', g.ns, 'ip', 'link', 'set', g.dev, 'address', port.mac),
      // ARP asked every 0.1 s, not every 1 s: the metadata agent makes the network's namespace (the
      // address 169.254.169.254 is routed to) while the guest already asks, and the guest hears it
      // within 0.1 s of its being there, not after a second's wait between two asks.
      sh('ip', 'netns', 'exec', g.ns, 'sh', '-c', `echo 100 > /proc/sys/net/ipv4/neigh/${g.dev}/retrans_time_ms && echo 10 > /proc/sys/net/ipv4/neigh/${g.dev}/mcast_solicit`),
      sh('ip', 'netns', 'exec', g.ns, 'ip', 'link', 'set', g.dev, 'up'),
    ].join(' && '),
    { label: `stand-in guest ${g.ns} on ${bridge}` },
  );
  return g;
}

/**
 * Waits until this host's ovn-controller has installed the flows of the stand-in's port (it marks
 * the OVS interface ovn-installed=true): from then on OVN answers DHCP at once, while udhcpc's
 * first discover sent before would wait out its 1 s retry. False when it did not happen in time.
 */
export async function standInWired(host: Host, g: StandIn, timeoutS = 30): Promise<boolean> {
  const r = await host.run(`ovs-vsctl --timeout=${timeoutS} wait-until Interface ${quote(g.dev)} external_ids:ovn-installed=true`, {
    check: false,
    label: `OVN's flows for ${g.ns}`,
    timeoutMs: (timeoutS + 10) * 1000,
  });
  return r.exitCode === 0;
}

/** DHCP in the namespace: up to `tries` discovers a second apart. */
export async function standInDhcp(host: Host, g: StandIn, scriptDir: string, tries = 20): Promise<Lease> {
  const r = await host.run(
    sh('ip', 'netns', 'exec', g.ns, 'busybox', 'udhcpc', '-i', g.dev, '-f', '-q', '-n', '-t', String(tries), '-T', '1', '-O', 'staticroutes', '-s', `${scriptDir}/udhcpc.script`),
    { check: false, label: `DHCP in ${g.ns}`, timeoutMs: (tries * 3 + 10) * 1000 },
  );
  const m = /LEASE (\S+) router (\S*)/.exec(r.stdout);
  return m ? { ok: true, address: m[1]!, router: m[2]! } : { ok: false, output: `${r.stdout}\n${r.stderr}`.trim() };
}

/** GET url from inside the namespace (the metadata service): the body, or undefined with why. */
export async function standInGet(host: Host, g: StandIn, url: string, timeoutS = 10): Promise<{ body?: string; error?: string }> {
  const r = await host.run(sh('ip', 'netns', 'exec', g.ns, 'busybox', 'timeout', String(timeoutS), 'busybox', 'wget', '-q', '-O', '-', url), {
    check: false,
    label: `GET ${url} in ${g.ns}`,
  });
  return r.exitCode === 0 ? { body: r.stdout } : { error: (r.stderr || r.stdout || `exit ${r.exitCode}`).trim() };
}

/** A listener on port 22 that answers every connection with the banner, in the background. */
export async function standInListen(host: Host, g: StandIn): Promise<void> {
  await host.run(
    `ip netns exec ${quote(g.ns)} setsid busybox nc -ll -p 22 -e /bin/echo ${quote(STAND_IN_BANNER)} </dev/null >/dev/null 2>&1 &`,
    { label: `port 22 in ${g.ns}` },
  );
}

/** Removes the namespace (and what runs in it) and the port; nothing is left when it was never made. */
export async function unplugStandIn(host: Host, g: StandIn, bridge = 'br-int'): Promise<void> {
  await host.run(
    [
      `for p in $(ip netns pids ${quote(g.ns)} 2>/dev/null); do kill -9 "$p"; done`,
      `ip netns del ${quote(g.ns)} 2>/dev/null`,
      `ovs-vsctl --timeout=30 --if-exists del-port ${quote(bridge)} ${quote(g.dev)}`,
      'true',
    ].join('; '),
    { check: false, label: `remove stand-in guest ${g.ns}` },
  );
}

/** Every stand-in guest on the host (a verify killed before its cleanup leaves one): for clean, and before a new one. */
export async function removeStandIns(host: Host, bridge = 'br-int'): Promise<void> {
  await host.run(
    [
      `for n in $(ip netns list | awk '/^stack-verify-/{print $1}'); do for p in $(ip netns pids "$n"); do kill -9 "$p"; done; ip netns del "$n"; done`,
      `for p in $(ovs-vsctl --timeout=10 list-ports ${quote(bridge)} 2>/dev/null | grep '^svg-'); do ovs-vsctl --timeout=10 del-port ${quote(bridge)} "$p"; done`,
      'true',
    ].join('; '),
    { check: false, label: 'remove stand-in guests' },
  );
}
