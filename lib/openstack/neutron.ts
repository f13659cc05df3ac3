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

type Kind = 'networks' | 'subnets' | 'routers' | 'ports' | 'floatingips' | 'security-groups' | 'security-group-rules';
const singular: Record<Kind, string> = { networks: 'network', subnets: 'subnet', routers: 'router', ports: 'port', floatingips: 'floatingip', 'security-groups': 'security_group', 'security-group-rules': 'security_group_rule' };
const plural: Record<Kind, string> = { networks: 'networks', subnets: 'subnets', routers: 'routers', ports: 'ports', floatingips: 'floatingips', 'security-groups': 'security_groups', 'security-group-rules': 'security_group_rules' };

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

/**
 * The one object of `kind` named `name` in `projectId`, created with `attrs` when there is none.
 * `listed`: that lookup, already asked for (beside other work, before `attrs` were known).
 */
export async function ensureNamed<T extends { id: string }>(
  s: Session,
  kind: Kind,
  name: string,
  projectId: string,
  attrs: Record<string, unknown>,
  listed?: Promise<T[]>,
): Promise<{ value: T; created: boolean }> {
  const found = await (listed ?? listNamed<T>(s, kind, name, projectId));
  if (found.length > 1) throw new Error(`${found.length} ${plural[kind]} named ${name} in project ${projectId}: remove all but one`);
  if (found[0]) return { value: found[0], created: false };
  return { value: await create<T>(s, kind, { name, project_id: projectId, ...attrs }), created: true };
}

/** The objects of `kind` named `name` in `projectId` (ensureNamed's lookup). */
export const listNamed = <T>(s: Session, kind: Kind, name: string, projectId: string): Promise<T[]> => list<T>(s, kind, { name, project_id: projectId });

/** Adds the router's interface on the subnet unless it has one there. */
export async function ensureRouterInterface(s: Session, routerId: string, subnetId: string): Promise<boolean> {
  const ports = await list<Port>(s, 'ports', { device_id: routerId });
  if (ports.some((p) => p.fixed_ips.some((f) => f.subnet_id === subnetId))) return false;
  await call(s, 'PUT', u(s, `routers/${routerId}/add_router_interface`), { json: { subnet_id: subnetId } });
  return true;
}

export interface SecurityGroupRule {
  readonly direction: 'ingress' | 'egress';
  readonly ethertype: 'IPv4' | 'IPv6';
  readonly protocol: string | null;
  readonly port_range_min?: number | null;
  readonly port_range_max?: number | null;
  readonly remote_ip_prefix?: string | null;
  readonly remote_group_id?: string | null;
}

/** A rule already in `rules` that lets in what `want` does, from anywhere. */
export const hasRule = (rules: readonly SecurityGroupRule[], want: SecurityGroupRule): boolean =>
  rules.some(
    (r) =>
      r.direction === want.direction &&
      r.ethertype === want.ethertype &&
      r.protocol === want.protocol &&
      (r.port_range_min ?? null) === (want.port_range_min ?? null) &&
      (r.port_range_max ?? null) === (want.port_range_max ?? null) &&
      !r.remote_group_id &&
      (!r.remote_ip_prefix || r.remote_ip_prefix === '0.0.0.0/0'),
  );

/** Adds to the group each of `wanted` it lacks (a re-run puts back a rule someone deleted); what was added. */
export async function ensureSecurityGroupRules(s: Session, groupId: string, wanted: readonly SecurityGroupRule[], known?: readonly SecurityGroupRule[]): Promise<SecurityGroupRule[]> {
  const rules = known ?? (await list<SecurityGroupRule>(s, 'security-group-rules', { security_group_id: groupId }));
  const missing = wanted.filter((w) => !hasRule(rules, w));
  await Promise.all(missing.map((rule) => addSecurityGroupRule(s, { security_group_id: groupId, ...rule })));
  return missing;
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
