// `status`: each daemon on each host, running (with its pid) or stopped, and what the plugins add
// about the host (the hypervisor in use). Collected once, then printed as text or, with --json, as
// one JSON document.

import { daemonStatus } from './daemon.ts';
import type { ServicePlugin, StackContext } from './plugin.ts';

export interface DaemonState {
  readonly service: string;
  readonly daemon: string;
  readonly state: 'running' | 'stopped';
  /** Known for a running daemon whose pid could be read. */
  readonly pid: number | null;
}

export interface HostStatus {
  readonly host: string;
  readonly services: readonly DaemonState[];
  readonly notes: readonly string[];
}

export async function collectStatus(hosts: ReadonlyArray<{ ctx: StackContext; plugins: readonly ServicePlugin[] }>): Promise<HostStatus[]> {
  const out: HostStatus[] = [];
  for (const { ctx, plugins } of hosts) {
    const services: DaemonState[] = [];
    for (const p of plugins) {
      for (const d of p.daemons?.(ctx) ?? []) {
        const st = await daemonStatus(ctx.host, ctx.facts, d, ctx.config.settings.STACK_STATE_DIR);
        services.push({ service: p.name, daemon: d.name, state: st.running ? 'running' : 'stopped', pid: st.running ? (st.pid ?? null) : null });
      }
    }
    const notes: string[] = [];
    for (const p of plugins) notes.push(...((await p.describe?.(ctx)) ?? []));
    out.push({ host: ctx.host.name, services, notes });
  }
  return out;
}

export function formatStatus(status: readonly HostStatus[]): string {
  const rows: string[] = [];
  for (const h of status) {
    for (const s of h.services) rows.push(`${h.host.padEnd(14)} ${s.service.padEnd(13)} ${s.daemon.padEnd(16)} ${s.state === 'running' ? `running (pid ${s.pid ?? '?'})` : 'stopped'}`);
    for (const n of h.notes) rows.push(`${h.host.padEnd(14)} ${n}`);
  }
  return rows.join('\n') + '\n';
}
