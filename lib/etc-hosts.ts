// Where a host cannot resolve another host's name (no DNS for a lab's names), stack.ts keeps a
// marked block in that host's /etc/hosts with the address table's entries; `clean` removes it.
// Names that already resolve are left to the resolver: preflight refuses ones that resolve elsewhere.

import type { Host } from './host/types.ts';
import { resolveNames } from './probe.ts';

export const BEGIN = '# BEGIN stack.ts: names of the cloud\'s hosts (./stack.ts clean removes this block)';
export const END = '# END stack.ts';
export const ETC_HOSTS = '/etc/hosts';

/** The file without our block (and without the blank line we put before it). */
export function stripBlock(text: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(BEGIN);
  const end = lines.indexOf(END, start);
  if (start < 0 || end < 0) return text;
  const before = lines.slice(0, start);
  if (before.length && before[before.length - 1] === '') before.pop();
  return [...before, ...lines.slice(end + 1)].join('\n');
}

/** The file with our block holding `entries` (name -> address) at the end; none = no block. */
export function withBlock(text: string, entries: ReadonlyMap<string, string>): string {
  const base = stripBlock(text);
  if (entries.size === 0) return base;
  const body = [...entries].map(([name, address]) => `${address}\t${name}`);
  return `${base.replace(/\n*$/, '\n')}\n${[BEGIN, ...body, END].join('\n')}\n`;
}

/**
 * Make every name in `table` resolve on `host`: the ones that resolve nowhere go into our block.
 * Returns the names added. The names already in our block count as unresolved (they are ours).
 */
export async function ensureNames(host: Host, table: ReadonlyMap<string, string>): Promise<string[]> {
  const current = (await host.readFileIfExists(ETC_HOSTS)) ?? '';
  const ours = new Set(
    current
      .slice(current.indexOf(BEGIN) >= 0 ? current.indexOf(BEGIN) : current.length)
      .split('\n')
      .map((l) => l.split(/\s+/)[1])
      .filter((n): n is string => !!n),
  );
  const resolved = await resolveNames(host, [...table.keys()]);
  const missing = new Map([...table].filter(([name]) => ours.has(name) || !resolved.get(name)));
  const next = withBlock(current, missing);
  if (next !== current) await host.writeFile(ETC_HOSTS, next, { mode: 0o644 });
  return [...missing.keys()];
}

/** clean: take our block out again. */
export async function removeNames(host: Host): Promise<void> {
  const current = await host.readFileIfExists(ETC_HOSTS);
  if (current !== null && current !== stripBlock(current)) await host.writeFile(ETC_HOSTS, stripBlock(current), { mode: 0o644 });
}
