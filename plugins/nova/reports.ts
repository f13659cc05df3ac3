// When a restarted Nova service is back. os-services says "up" while the last heartbeat is younger
// than service_down_time (60 s), so right after a restart the old process's heartbeat still reads
// "up": verify then booted its test server at once and got "No valid host was found" (issue 15).
// A restarted service is back once a report newer than the restart shows, with the service up and
// enabled (nova-compute disables itself while its hypervisor connection is broken, and enables
// itself again once connected).

import { listComputeServices, type ComputeService } from '../../lib/openstack/nova.ts';
import type { StackContext } from '../../lib/plugin.ts';
import { adminSession } from '../../lib/service/lifecycle.ts';

/** Service id -> updated_at, read right after a restart: a later report has another updated_at. */
export type Reports = ReadonlyMap<string, string | null>;

const key = (binary: string, host: string): string => `${binary}@${host}`;

/**
 * Remember that `binary` was (re)started on this host in this run: its reports as they are now
 * (taken after the old process is gone, so any change comes from the new one).
 */
export async function noteRestart(ctx: StackContext, binary: string): Promise<void> {
  // Unreadable now (Keystone or nova-api away): the wait falls back to "up and enabled".
  const now = await adminSession(ctx)
    .then((s) => listComputeServices(s, { binary }))
    .catch(() => [] as ComputeService[]);
  ctx.cloud.novaRestarts.set(key(binary, ctx.host.name), new Map(now.map((x) => [String(x.id), x.updated_at])));
}

/** The reports noted at the restart of `binary` on this host in this run, if it was restarted. */
export const restartedWith = (ctx: StackContext, binary: string): Reports | undefined => ctx.cloud.novaRestarts.get(key(binary, ctx.host.name));

/** The service is working: up and enabled, and, after a restart, reporting from its new process. */
export function isBack(svc: ComputeService, restarted: Reports | undefined): boolean {
  if (svc.state !== 'up' || svc.status !== 'enabled') return false;
  return !restarted || !restarted.has(String(svc.id)) || restarted.get(String(svc.id)) !== svc.updated_at;
}

/**
 * Why a running `binary` on this host must be restarted although its files did not change, or
 * undefined: Nova lists it as down (no report for service_down_time). A client that lost its
 * RabbitMQ connection, say to a password changed and set back by hand, does not connect again by
 * itself (seen: "nova-compute on vm is enabled/down" after a re-run). Unreadable: undefined.
 */
export async function downReason(ctx: StackContext, binary: string, host?: string): Promise<string | undefined> {
  const services = await adminSession(ctx)
    .then((s) => listComputeServices(s, { binary }))
    .catch(() => [] as ComputeService[]);
  const down = services.find((x) => (host === undefined || x.host === host) && x.state === 'down' && !x.forced_down);
  return down ? `Nova lists it as down (its last report: ${down.updated_at ?? 'never'}); a client that lost its RabbitMQ connection does not connect again by itself` : undefined;
}
