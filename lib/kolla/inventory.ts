// kolla-ansible's multinode inventory (Ansible's INI format) from a decided layout: the top groups
// with their hosts and how to reach them, then every group of that release's inventory, made of
// other groups as in kolla-ansible's own file, except where this cloud puts a service elsewhere.

import { TOP_GROUPS } from './groups.ts';
import { kollaGroups } from './groups.ts';
import type { KollaLayout } from './layout.ts';

/**
 * Ansible reads a host variable's value with shlex and then as a Python literal: a value with a
 * blank, a quote or a comment character is quoted so it stays one string.
 */
export function inventoryValue(v: string | number): string {
  if (typeof v === 'number') return String(v);
  if (/^[A-Za-z0-9_./@:+-]+$/.test(v)) return v;
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function renderInventory(layout: KollaLayout, source: string): string {
  const byName = new Map(layout.hosts.map((h) => [h.name, h]));
  const hostLine = (name: string): string => {
    const vars = byName.get(name)?.vars ?? [];
    return [name, ...vars.map(([k, v]) => `${k}=${inventoryValue(v)}`)].join(' ');
  };
  const out = [
    `# kolla-ansible inventory (multinode format, kolla-ansible ${layout.release}), written by ./stack.ts export from ${source}.`,
    '# Hosts as stack.ts reaches them; the service groups below follow kolla-ansible\'s own inventory,',
    '# except where this cloud runs a service on other hosts than the control group.',
  ];
  for (const g of TOP_GROUPS) {
    out.push('', `[${g}]`);
    if (g === 'deployment') out.push('localhost ansible_connection=local');
    else if (layout.top[g].length === 0) out.push(`# (none: no host of this cloud runs ${g} services)`);
    else out.push(...layout.top[g].map(hostLine));
  }
  for (const group of kollaGroups(layout.release)) {
    const placed = layout.placed.get(group.name);
    if (placed) out.push('', `# this cloud runs ${group.name} here, not on every host of ${group.children.join(', ')}`, `[${group.name}]`, ...placed);
    else out.push('', `[${group.name}:children]`, ...group.children);
  }
  return out.join('\n') + '\n';
}
