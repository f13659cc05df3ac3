// The names a cloud's hosts go by, checked for clashes before any host is changed (probe.ts) and
// written where they do not resolve (etc-hosts.ts, from the task graph).

/** A host of the cloud: its name in the hosts file, its own hostname, and the address the others use. */
export interface CloudHostName {
  readonly name: string;
  readonly hostname: string;
  readonly address: string;
}

/**
 * Every name the cloud's hosts go by, to its address: the hosts file's names, and each host's own
 * hostname where it differs - Nova registers a compute under its own hostname, lists it by that
 * name and migrates to it by that name, so it must resolve on every host too. An own hostname that
 * is another host's name (in the file or its own) would send Nova to the wrong host: a clash.
 */
export function cloudNames(hosts: readonly CloudHostName[]): { table: Map<string, string>; clashes: string[] } {
  const table = new Map(hosts.map((h) => [h.name, h.address]));
  const owner = new Map(hosts.map((h) => [h.name, h.name]));
  const clashes: string[] = [];
  for (const h of hosts) {
    if (!h.hostname || h.hostname === h.name) continue;
    const other = owner.get(h.hostname);
    if (other !== undefined && table.get(h.hostname) !== h.address) {
      clashes.push(`host ${h.name}'s own hostname is ${h.hostname}, which is also the name of host ${other} (at ${table.get(h.hostname)})`);
      continue;
    }
    table.set(h.hostname, h.address);
    owner.set(h.hostname, h.name);
  }
  return { table, clashes };
}
