// The two networks a stack makes, from the settings (already checked by lib/config/network-check.ts).

import type { Config } from '../config/types.ts';
import { nthAddress, parseCidr, type Ipv4Net } from '../cidr.ts';

export interface NetworkPlan {
  readonly name: string;
  readonly cidr: string;
  readonly prefix: number;
  readonly gateway: string;
}

function net(value: string, setting: string): Ipv4Net {
  const n = parseCidr(value);
  // Checked when the config was loaded; a failure here is a bug, not a user's mistake.
  if (typeof n === 'string') throw new Error(`${setting}: ${n}`);
  return n;
}

export function publicNetwork(config: Config): NetworkPlan {
  const s = config.settings;
  const n = net(s.FLOATING_RANGE, 'FLOATING_RANGE');
  return { name: s.PUBLIC_NETWORK_NAME, cidr: n.text, prefix: n.prefix, gateway: s.PUBLIC_NETWORK_GATEWAY || nthAddress(n, 1) };
}

export function privateNetwork(config: Config): NetworkPlan {
  const s = config.settings;
  const n = net(s.FIXED_RANGE, 'FIXED_RANGE');
  return { name: s.PRIVATE_NETWORK_NAME, cidr: n.text, prefix: n.prefix, gateway: s.NETWORK_GATEWAY || nthAddress(n, 1) };
}
