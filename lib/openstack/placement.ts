// Placement reads: what compute nodes offer and what servers hold. Used by verify to tell
// "nova-compute never reported" (no provider) from "the scheduler found no room" (no allocation).

import { joinUrl } from './http.ts';
import { call, type Interface, type Session } from './keystone.ts';

/** 1.14 adds parent/root provider uuids; 1.28 adds consumer_generation; both exist since Rocky. */
const VERSION = 'placement 1.28';

export interface ResourceProvider {
  readonly uuid: string;
  readonly name: string;
  readonly generation: number;
  readonly parent_provider_uuid?: string | null;
  readonly root_provider_uuid?: string;
}

export interface Inventory {
  readonly total: number;
  readonly reserved: number;
  readonly min_unit: number;
  readonly max_unit: number;
  readonly step_size: number;
  readonly allocation_ratio: number;
}

export interface ConsumerAllocations {
  /** Keyed by resource provider uuid. Empty when the consumer holds nothing (or does not exist). */
  readonly allocations: Readonly<Record<string, { readonly resources: Readonly<Record<string, number>>; readonly generation?: number }>>;
  readonly project_id?: string;
  readonly user_id?: string;
  readonly consumer_generation?: number | null;
}

const url = (s: Session, path: string, iface?: Interface) => joinUrl(s.endpointFor('placement', iface), path);
const headers = { 'OpenStack-API-Version': VERSION };

export async function listResourceProviders(s: Session, filters: Readonly<Record<string, string>> = {}, iface?: Interface): Promise<ResourceProvider[]> {
  const qs = new URLSearchParams(filters).toString();
  const r = await call<{ resource_providers: ResourceProvider[] }>(s, 'GET', url(s, `resource_providers${qs ? `?${qs}` : ''}`, iface), { headers });
  return r.resource_providers;
}

/** Inventories of one provider keyed by resource class (VCPU, MEMORY_MB, DISK_GB). */
export async function getInventories(s: Session, rpId: string, iface?: Interface): Promise<Record<string, Inventory>> {
  const r = await call<{ inventories: Record<string, Inventory> }>(s, 'GET', url(s, `resource_providers/${rpId}/inventories`, iface), { headers });
  return r.inventories;
}

/** Resources used on one provider, keyed by resource class. */
export async function getUsages(s: Session, rpId: string, iface?: Interface): Promise<Record<string, number>> {
  const r = await call<{ usages: Record<string, number> }>(s, 'GET', url(s, `resource_providers/${rpId}/usages`, iface), { headers });
  return r.usages;
}

/** What a consumer (a server's uuid) holds. Placement answers 200 with `{}` for an unknown consumer. */
export function getAllocations(s: Session, consumerId: string, iface?: Interface): Promise<ConsumerAllocations> {
  return call<ConsumerAllocations>(s, 'GET', url(s, `allocations/${consumerId}`, iface), { headers });
}
