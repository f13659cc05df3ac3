// IPv4 networks as the network settings write them (10.0.0.0/22): parsed, compared and checked
// without a library, because four small pure functions are all stack.ts needs of them.

export interface Ipv4Net {
  /** The network address as a 32-bit number. */
  readonly base: number;
  readonly prefix: number;
  /** As written (normalised to the network address). */
  readonly text: string;
}

const OCTETS = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(s: string): number | undefined {
  const m = OCTETS.exec(s.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

export const formatIpv4 = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** Why `s` is not an IPv4 network in CIDR form, or the network. */
export function parseCidr(s: string): Ipv4Net | string {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s.trim());
  if (!m) return `"${s}" is not a network in CIDR form (address/prefix, e.g. 10.0.0.0/22)`;
  const addr = parseIpv4(m[1]!);
  const prefix = Number(m[2]);
  if (addr === undefined) return `"${m[1]}" in ${s} is not an IPv4 address`;
  if (prefix < 8 || prefix > 30) return `the prefix /${prefix} of ${s} leaves no room for a cloud's network (use /8 to /30)`;
  const base = (addr & maskOf(prefix)) >>> 0;
  if (base !== addr) return `${s} has host bits set: the network is ${formatIpv4(base)}/${prefix}`;
  return { base, prefix, text: `${formatIpv4(base)}/${prefix}` };
}

export const contains = (net: Ipv4Net, addr: number): boolean => ((addr & maskOf(net.prefix)) >>> 0) === net.base;

export const overlaps = (a: Ipv4Net, b: Ipv4Net): boolean => contains(a, b.base) || contains(b, a.base);

/** The nth address of a network (1 = the first usable one). */
export const nthAddress = (net: Ipv4Net, n: number): string => formatIpv4((net.base + n) >>> 0);

/** The network's broadcast address. */
export const lastAddress = (net: Ipv4Net): number => (net.base | (~maskOf(net.prefix) >>> 0)) >>> 0;

/** A route's or an interface's network (host bits allowed and dropped; no prefix = /32), or undefined. */
export function networkOf(s: string): Ipv4Net | undefined {
  const [a, p] = s.trim().split('/');
  const addr = parseIpv4(a ?? '');
  const prefix = p === undefined ? 32 : Number(p);
  if (addr === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  const base = (addr & maskOf(prefix)) >>> 0;
  return { base, prefix, text: `${formatIpv4(base)}/${prefix}` };
}
