// The network settings against one host, in preflight (nothing changed yet): the cloud's ranges
// must not overlap a network the host already has (its routes would send guests' or floating
// IPs' traffic the wrong way), and PUBLIC_INTERFACE must exist on the network host.

import { StackError } from '../errors.ts';
import type { StackContext } from '../plugin.ts';
import { networkOf, overlaps, parseCidr, type Ipv4Net } from '../cidr.ts';

export interface HostRoute {
  readonly dest: string;
  readonly dev: string;
}

/** Pure: `ip -4 -o route show` lines as destination networks and devices (default routes left out). */
export function parseRoutes(text: string): HostRoute[] {
  const out: HostRoute[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s.*\bdev\s+(\S+)/.exec(line.trim());
    if (!m || m[1] === 'default') continue;
    out.push({ dest: m[1]!, dev: m[2]! });
  }
  return out;
}

/** Pure: the problems of the two ranges against the host's routes; the public bridge's own route is ours. */
export function rangeClashes(host: string, routes: readonly HostRoute[], ranges: readonly { setting: string; net: Ipv4Net }[], publicBridge: string): string[] {
  const problems: string[] = [];
  for (const r of routes) {
    const net = networkOf(r.dest);
    if (r.dev === publicBridge || !net) continue;
    for (const range of ranges) {
      if (overlaps(range.net, net)) problems.push(`${range.setting}=${range.net.text} overlaps ${r.dest} on ${r.dev} of ${host}`);
    }
  }
  return problems;
}

export async function checkHostNetworks(ctx: StackContext, gateway: boolean): Promise<void> {
  const s = ctx.config.settings;
  const ranges = [
    { setting: 'FIXED_RANGE', net: parseCidr(s.FIXED_RANGE) },
    { setting: 'FLOATING_RANGE', net: parseCidr(s.FLOATING_RANGE) },
  ].filter((r): r is { setting: string; net: Ipv4Net } => typeof r.net !== 'string');
  const r = await ctx.host.run('ip -4 -o route show', { check: false, label: 'routes of the host' });
  const problems = rangeClashes(ctx.host.name, parseRoutes(r.stdout), ranges, s.PUBLIC_BRIDGE);
  if (gateway && s.PUBLIC_INTERFACE) {
    const l = await ctx.host.run(`ip -o link show dev ${JSON.stringify(s.PUBLIC_INTERFACE)}`, { check: false, label: `interface ${s.PUBLIC_INTERFACE}` });
    if (l.exitCode !== 0) problems.push(`PUBLIC_INTERFACE=${s.PUBLIC_INTERFACE} does not exist on ${ctx.host.name}`);
  }
  if (problems.length) {
    throw new StackError(
      `the network settings do not fit ${ctx.host.name}; nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      'Choose FIXED_RANGE and FLOATING_RANGE outside the networks the host already routes (ip -4 route), and a PUBLIC_INTERFACE from ip -br link (or none).',
    );
  }
}
