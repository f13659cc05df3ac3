// Stopping one service on one host: what unstack does per plugin, and what a plugin's own clean
// calls before it removes files. Kept apart from the task graph so plugins need not import it.

import { stopDaemon } from './daemon.ts';
import type { ServicePlugin, StackContext } from './plugin.ts';

/** A plugin's own stop, or else each of its daemons, last started first. */
export async function stopPlugin(ctx: StackContext, p: ServicePlugin): Promise<void> {
  if (p.stop) return p.stop(ctx);
  for (const d of [...(p.daemons?.(ctx) ?? [])].reverse()) await stopDaemon(ctx.host, ctx.facts, d, ctx.config.settings.STACK_STATE_DIR);
}
