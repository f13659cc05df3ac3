// The network settings checked against each other before any host is reached: each range a CIDR
// (checked per value), the two ranges apart, each gateway an IPv4 address inside its range and
// not its network or broadcast address. Against the hosts' own networks is preflight's (it needs
// the hosts): lib/network/host-checks.ts.

import type { ConfigIssue } from './errors.ts';
import type { SettingName } from './schema.ts';
import { contains, lastAddress, overlaps, parseCidr, parseIpv4 } from '../cidr.ts';

export function networkIssues(value: (n: SettingName) => string, origin: (n: SettingName) => string): ConfigIssue[] {
  const fixed = parseCidr(value('FIXED_RANGE'));
  const floating = parseCidr(value('FLOATING_RANGE'));
  if (typeof fixed === 'string' || typeof floating === 'string') return []; // reported per value already
  const issues: ConfigIssue[] = [];
  if (overlaps(fixed, floating)) {
    // Where the user wrote one of them (a default has no line to point at).
    const written = (['FLOATING_RANGE', 'FIXED_RANGE', 'IPV4_ADDRS_SAFE_TO_USE'] as const).map(origin).find((o) => !o.startsWith('default')) ?? origin('FLOATING_RANGE');
    issues.push({
      origin: written,
      message: `FLOATING_RANGE=${floating.text} overlaps FIXED_RANGE=${fixed.text}: a floating IP and a guest's own address could be the same`,
      hint: 'give the two ranges networks apart, e.g. FIXED_RANGE=10.0.0.0/22 and FLOATING_RANGE=172.24.4.0/24 (the defaults)',
    });
  }
  const gateways: Array<[SettingName, SettingName, typeof fixed]> = [
    ['NETWORK_GATEWAY', 'FIXED_RANGE', fixed],
    ['PUBLIC_NETWORK_GATEWAY', 'FLOATING_RANGE', floating],
  ];
  for (const [name, rangeName, net] of gateways) {
    const v = value(name);
    if (v === '') continue;
    const addr = parseIpv4(v);
    if (addr === undefined) {
      issues.push({ origin: origin(name), message: `${name}=${v} is not an IPv4 address`, hint: `a gateway is an address inside ${rangeName}=${net.text}` });
    } else if (!contains(net, addr)) {
      issues.push({ origin: origin(name), message: `${name}=${v} is outside ${rangeName}=${net.text}`, hint: `use an address inside ${net.text}, or remove the line for the default` });
    } else if (addr === net.base || addr === lastAddress(net)) {
      issues.push({ origin: origin(name), message: `${name}=${v} is the ${addr === net.base ? 'network' : 'broadcast'} address of ${net.text}`, hint: `use an address inside ${net.text}, e.g. its first: the default` });
    }
  }
  return issues;
}
