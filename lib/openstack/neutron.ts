// The few Neutron calls a stack makes and verify uses: find-or-create by name (a re-run creates
// nothing twice), ports, floating IPs and security group rules.

import { call, type Session } from './keystone.ts';
import { ApiError } from './http.ts';

const u = (s: Session, path: string): string => `${s.endpointFor('network').replace(/\/$/, '')}/v2.0/${path}`;
const q = (params: Record<string, string>): string => new URLSearchParams(params).toString();

export interface Network {
  readonly id: string;
  readonly name: string;
  readonly project_id: string;
  readonly 'router:external'?: boolean;
  readonly 'provider:network_type'?: string;
  readonly status?: string;
}
export interface Subnet {
  readonly id: string;
  readonly name: string;
  readonly network_id: string;
  readonly cidr: string;
  readonly gateway_ip: string | null;
}
export interface Router {
  readonly id: string;
  readonly name: string;
  readonly project_id: string;
  readonly external_gateway_info: { network_id: string; enable_snat?: boolean; external_fixed_ips?: { subnet_id: string; ip_address: string }[] } | null;
  readonly status?: string;
}
export interface Port {
  readonly id: string;
  readonly name: string;
  readonly network_id: string;
  readonly mac_address: string;
  readonly status: string;
  readonly device_owner: string;
  readonly device_id: string;
  readonly fixed_ips: readonly { subnet_id: string; ip_address: string }[];
  readonly 'binding:host_id'?: string;
  readonly 'binding:vif_type'?: string;
}
export interface FloatingIp {
  readonly id: string;
  readonly floating_ip_address: string;
  readonly port_id: string | null;
  readonly status: string;
}

type Kind = 'networks' | 'subnets' | 'routers' | 'ports' | 'floatingips' | 'security-groups';
const singular: Record<Kind, string> = { networks: 'network', subnets: 'subnet', routers: 'router', ports: 'port', floatingips: 'floatingip', 'security-groups': 'security_group' };
const plural: Record<Kind, string> = { networks: 'networks', subnets: 'subnets', routers: 'routers', ports: 'ports', floatingips: 'floatingips', 'security-groups': 'security_groups' };

export async function list<T>(s: Session, kind: Kind, filter: Record<string, string> = {}): Promise<T[]> {
  const body = await call<Record<string, T[]>>(s, 'GET', u(s, `${kind}${Object.keys(filter).length ? `?${q(filter)}` : ''}`));
  return body[plural[kind]] ?? [];
}

export async function create<T>(s: Session, kind: Kind, attrs: Record<string, unknown>): Promise<T> {
  const body = await call<Record<string, T>>(s, 'POST', u(s, kind), { json: { [singular[kind]]: attrs } });
  return body[singular[kind]]!;
}

export async function update<T>(s: Session, kind: Kind, id: string, attrs: Record<string, unknown>): Promise<T> {
  const body = await call<Record<string, T>>(s, 'PUT', u(s, `${kind}/${id}`), { json: { [singular[kind]]: attrs } });
  return body[singular[kind]]!;
}

export async function remove(s: Session, kind: Kind, id: string): Promise<void> {
  try {
    await call(s, 'DELETE', u(s, `${kind}/${id}`));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
}

/** The one object of `kind` named `name` in `projectId`, created with `attrs` when there is none. */
export async function ensureNamed<T extends { id: string }>(
  s: Session,
  kind: Kind,
  name: string,
  projectId: string,
  attrs: Record<string, unknown>,
): Promise<{ value: T; created: boolean }> {
  const found = await list<T>(s, kind, { name, project_id: projectId });
  if (found.length > 1) throw new Error(`${found.length} ${plural[kind]} named ${name} in project ${projectId}: remove all but one`);
  if (found[0]) return { value: found[0], created: false };
  return { value: await create<T>(s, kind, { name, project_id: projectId, ...attrs }), created: true };
}

/** Adds the router's interface on the subnet unless it has one there. */
export async function ensureRouterInterface(s: Session, routerId: string, subnetId: string): Promise<boolean> {
  const ports = await list<Port>(s, 'ports', { device_id: routerId });
  if (ports.some((p) => p.fixed_ips.some((f) => f.subnet_id === subnetId))) return false;
  await call(s, 'PUT', u(s, `routers/${routerId}/add_router_interface`), { json: { subnet_id: subnetId } });
  return true;
}

export async function addSecurityGroupRule(s: Session, rule: Record<string, unknown>): Promise<void> {
  try {
    await call(s, 'POST', u(s, 'security-group-rules'), { json: { security_group_rule: rule } });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err; // already there
  }
}

export interface Agent {
  readonly agent_type: string;
  readonly host: string;
  readonly alive: boolean;
}

/** Neutron's agents (with OVN: one per chassis, one per metadata agent). */
export async function listAgents(s: Session): Promise<Agent[]> {
  return (await call<{ agents: Agent[] }>(s, 'GET', u(s, 'agents'))).agents;
}
