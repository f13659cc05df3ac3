// From config to plan: which plugins run, in which order. Pure: no host is touched here.

import type { Config } from './config/types.ts';
import { StackError } from './errors.ts';
import { type ServicePlugin } from './plugin.ts';

/** The plugins any enabled service needs, ordered so each comes after what it needs. */
export function orderPlugins(config: Config, all: readonly ServicePlugin[]): ServicePlugin[] {
  const enabled = all.filter((p) => p.services.some((s) => config.services.has(s)));
  const byName = new Map(enabled.map((p) => [p.name, p]));
  const ordered: ServicePlugin[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: ServicePlugin, path: string[]): void => {
    if (state.get(p.name) === 'done') return;
    if (state.get(p.name) === 'visiting') {
      throw new StackError(`Plugins need each other in a cycle: ${[...path, p.name].join(' -> ')}`, 'This is a bug in stack.ts; please report it.');
    }
    state.set(p.name, 'visiting');
    // A need that is not enabled here is expected to run elsewhere (or the user disabled it on purpose).
    for (const n of p.needs) {
      const dep = byName.get(n);
      if (dep) visit(dep, [...path, p.name]);
    }
    state.set(p.name, 'done');
    ordered.push(p);
  };
  for (const p of enabled) visit(p, []);
  return ordered;
}
