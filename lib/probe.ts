// Reach every host of the topology at once, learn its facts and address, and check that each
// host's name resolves to the table's address on every host. Reads only: a problem here is bad
// input (exit 2) named by its host, found before any host is changed.

import { cloudNames } from './cloud-names.ts';
import { lookup } from 'node:dns/promises';
import type { Host, HostFacts } from './host/types.ts';
import { detectHostIp } from './host/address.ts';
import { parseTargetHost } from './config/validate.ts';
import { sh } from './shell.ts';
import { StackError } from './errors.ts';
import { mixedReleases } from './preflight.ts';
import { detectRelease } from './release.ts';
import type { Release } from './plugin.ts';
import { isIpLiteral, type HostSpec, type Topology } from './topology.ts';

export interface ProbedHost {
  readonly spec: HostSpec;
  readonly host: Host;
  readonly facts: HostFacts;
  /** The address the other hosts use for it. */
  readonly address: string;
  /** The OpenStack release its packages hold or would install. */
  readonly release: Release;
}


/** Names another host must resolve for this one, mapped to what they resolve to there ('' = not at all). */
export async function resolveNames(host: Host, names: readonly string[]): Promise<Map<string, string>> {
  if (names.length === 0) return new Map();
  // getent honours /etc/hosts and nsswitch like the services will; IPv4 first like our table.
  const script = `for n in ${names.map((n) => sh(n)).join(' ')}; do a=$(getent ahostsv4 "$n" 2>/dev/null | awk 'NR==1{print $1}'); [ -n "$a" ] || a=$(getent hosts "$n" 2>/dev/null | awk 'NR==1{print $1}'); echo "$n $a"; done`;
  const r = await host.run(script, { check: false, label: 'resolve the other hosts\' names' });
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const [n, a] = line.trim().split(/\s+/);
    if (n) out.set(n, a ?? '');
  }
  return out;
}

const isLoopback = (a: string): boolean => a.startsWith('127.') || a === '::1';

/** The address the other hosts use: `ip:`, else an IP in the address, else the name resolved here, else detected. */
async function addressOf(spec: HostSpec, host: Host, alone: boolean): Promise<string> {
  if (spec.ip) return spec.ip;
  // The all-in-one: what HOST_IP is detected as, exactly as without a topology.
  if (alone) return detectHostIp(host);
  const t = parseTargetHost(spec.target);
  if (t && isIpLiteral(t.host)) return t.host;
  if (t) return (await lookup(t.host, { family: 4 }).catch(() => lookup(t.host))).address;
  return detectHostIp(host);
}

const where = (spec: HostSpec): string => `host ${spec.name}${spec.origin.includes(':') ? ` (${spec.origin})` : ''}`;

/**
 * Opens and probes every host concurrently. On any problem, closes every host it opened and
 * throws one StackError listing every host's problem.
 */
export async function probeHosts(topology: Topology, open: (spec: HostSpec) => Host): Promise<ProbedHost[]> {
  const opened: Host[] = [];
  const problems: string[] = [];
  const hints = new Set<string>();
  const results = await Promise.all(
    topology.hosts.map(async (spec): Promise<ProbedHost | undefined> => {
      let host: Host;
      try {
        host = open(spec);
        opened.push(host);
        // Each is a round trip of its own; the release's needs the facts (which package manager).
        const facts = host.facts();
        const [f, address, release] = await Promise.all([facts, addressOf(spec, host, topology.hosts.length === 1), facts.then((x) => detectRelease(host, x))]);
        return { spec, host, facts: f, address, release };
      } catch (err) {
        problems.push(`${where(spec)}: cannot reach ${spec.target}: ${(err as Error).message.split('\n')[0]}`);
        hints.add('check the address and that sshd runs there; a key that is refused: set ssh_key for that host (or the top-level ssh_key), or load it into ssh-agent');
        return undefined;
      }
    }),
  );
  const probed = results.filter((r): r is ProbedHost => r !== undefined);
  if (!problems.length && probed.length > 1) {
    const seen = new Map<string, ProbedHost>();
    for (const p of probed) {
      const other = seen.get(p.address);
      if (other) {
        problems.push(`${where(p.spec)} and host ${other.spec.name} are both at ${p.address}`);
        hints.add('each host needs its own address; list one machine once, with the roles of both');
      } else seen.set(p.address, p);
    }
  }
  const mixed = problems.length ? undefined : mixedReleases(probed.map((p) => ({ name: p.spec.name, facts: p.facts })));
  if (mixed) {
    problems.push(mixed.message);
    hints.add(mixed.hint);
  }
  if (!problems.length && probed.length > 1) {
    const { table, clashes } = cloudNames(probed.map((p) => ({ name: p.spec.name, hostname: p.facts.hostname, address: p.address })));
    for (const c of clashes) problems.push(c);
    if (clashes.length) hints.add("rename the host in the hosts file, or change that host's own hostname, so that no two hosts share a name");
    const byName = new Map(probed.flatMap((o) => [[o.spec.name, o], [o.facts.hostname, o]] as const));
    await Promise.all(
      probed.map(async (p) => {
        const resolved = await resolveNames(p.host, [...table.keys()]);
        for (const [name, address] of table) {
          const a = resolved.get(name) ?? '';
          if (a === '' || a === address) continue;
          const o = byName.get(name)!;
          // Debian maps a host's own name to 127.0.1.1; on that host itself that is harmless.
          if (o === p && isLoopback(a)) continue;
          const known = name === o.spec.name ? `host ${name}` : `host ${o.spec.name} (its own hostname, which Nova uses)`;
          problems.push(`on ${p.spec.name}, the name ${name} resolves to ${a}, but ${known} is at ${address}`);
          hints.add('fix /etc/hosts (or DNS) on that host so every host name resolves to the address in the hosts file, or rename the host in the hosts file');
        }
      }),
    );
  }
  if (problems.length) {
    await Promise.allSettled(opened.map((h) => h.close()));
    throw new StackError(`${problems.length === 1 ? problems[0] : `Some hosts cannot be used:\n${problems.map((p) => `  - ${p}`).join('\n')}`}\nNothing was changed on any host.`, [...hints].join('\n'));
  }
  return probed;
}
