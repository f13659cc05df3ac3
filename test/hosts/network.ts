// The hosts' network: one bridge on this machine holding the /24's .1 (where the apt proxy
// listens), one network namespace per host joined to it by a veth pair. Nothing here
// touches an interface or route that this run did not create.
import { saveState, type RunState } from './run-state.ts';
import { run } from './proc.ts';

export interface NetPlan {
  readonly bridge: string;
  readonly gateway: string; // 10.99.N.1
  readonly hosts: readonly { readonly netns: string; readonly veth: string; readonly address: string; readonly tunnel?: { readonly veth: string; readonly address: string } }[];
  /** A second network of the hosts alone (eth1, 10.98.N.0/24): a NIC a host can give to Open vSwitch for its Geneve tunnels. */
  readonly tunnelBridge?: string;
}

export function planNetwork(prefix: string, runId: string, slot: number, count: number, tunnel = false): NetPlan {
  const net = `10.99.${slot}`;
  const plan: NetPlan = {
    bridge: `${prefix}br${runId}`,
    gateway: `${net}.1`,
    hosts: Array.from({ length: count }, (_, i) => ({
      netns: `${prefix}${runId}-h${i + 1}`,
      veth: `${prefix}${runId}v${i + 1}`,
      address: `${net}.${11 + i}`,
      ...(tunnel ? { tunnel: { veth: `${prefix}${runId}t${i + 1}`, address: `10.98.${slot}.${11 + i}` } } : {}),
    })),
    ...(tunnel ? { tunnelBridge: `${prefix}br${runId}t` } : {}),
  };
  for (const name of [plan.bridge, ...plan.hosts.map((h) => h.veth), ...(plan.tunnelBridge ? [plan.tunnelBridge] : []), ...plan.hosts.flatMap((h) => (h.tunnel ? [h.tunnel.veth] : []))]) {
    if (name.length > 15) throw new Error(`interface name ${name} is longer than Linux's 15 characters: use a shorter prefix`);
  }
  return plan;
}

/** Subnets already on some interface of this machine (10.99.N.x), so a run never reuses one. */
export function usedSlots(): Set<number> {
  const out = run('ip', ['-4', '-o', 'addr', 'show'], { allowFail: true }).stdout;
  return new Set([...out.matchAll(/inet 10\.99\.(\d+)\./g)].map((m) => Number(m[1])));
}

export function createNetwork(plan: NetPlan, state: RunState): void {
  state.bridge = plan.bridge;
  state.netns.push(...plan.hosts.map((h) => h.netns));
  saveState(state);
  const ip = (...args: string[]) => run('ip', args);
  ip('link', 'add', 'name', plan.bridge, 'type', 'bridge');
  ip('addr', 'add', `${plan.gateway}/24`, 'dev', plan.bridge);
  ip('link', 'set', 'dev', plan.bridge, 'up');
  if (plan.tunnelBridge) {
    state.tunnelBridge = plan.tunnelBridge;
    saveState(state);
    ip('link', 'add', 'name', plan.tunnelBridge, 'type', 'bridge');
    ip('link', 'set', 'dev', plan.tunnelBridge, 'up');
  }
  for (const h of plan.hosts) {
    ip('netns', 'add', h.netns);
    // The host's end is created inside the namespace, already named eth0.
    ip('link', 'add', 'name', h.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns);
    ip('link', 'set', 'dev', h.veth, 'master', plan.bridge, 'up');
    ip('-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0');
    ip('-n', h.netns, 'link', 'set', 'dev', 'eth0', 'up');
    ip('-n', h.netns, 'link', 'set', 'dev', 'lo', 'up');
    if (h.tunnel && plan.tunnelBridge) {
      ip('link', 'add', 'name', h.tunnel.veth, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', h.netns);
      ip('link', 'set', 'dev', h.tunnel.veth, 'master', plan.tunnelBridge, 'up');
      ip('-n', h.netns, 'addr', 'add', `${h.tunnel.address}/24`, 'dev', 'eth1');
      ip('-n', h.netns, 'link', 'set', 'dev', 'eth1', 'up');
    }
  }
}
