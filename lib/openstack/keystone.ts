// Keystone v3 through REST: one token, then idempotent get-or-create calls that each cost one or
// two requests (the `openstack` CLI costs about a second per call). Every ensureX can be run on
// every stack: a second run finds what the first created and changes nothing.

import { StackError } from '../errors.ts';
import { ApiError, joinUrl, request, requestJson, type RequestOptions } from './http.ts';

export interface CatalogEndpoint {
  readonly id: string;
  readonly interface: 'public' | 'internal' | 'admin';
  readonly region_id?: string;
  readonly region?: string;
  readonly url: string;
}

export interface CatalogEntry {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly endpoints: readonly CatalogEndpoint[];
}

export type Interface = 'public' | 'internal' | 'admin';

export interface Session {
  readonly token: string;
  readonly expiresAt: Date;
  readonly catalog: readonly CatalogEntry[];
  readonly userId: string;
  readonly projectId: string;
  /** Names of the roles the token carries on its project. */
  readonly roles: readonly string[];
  /** Keystone's v3 root as reached from here, e.g. http://10.0.0.5:5000/v3. */
  readonly identityUrl: string;
  /** Default idle timeout for requests made with this session. */
  readonly timeoutMs: number;
  /** URL of a service from the catalog, passed through mapUrl. Throws a StackError naming what is missing. */
  endpointFor(type: string, iface?: Interface, region?: string): string;
}

export interface AuthOptions {
  /** Keystone's URL, with or without /v3. */
  readonly authUrl: string;
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  /** Domain names, as devstack's OS_USER_DOMAIN_NAME / OS_PROJECT_DOMAIN_NAME. */
  readonly userDomain?: string;
  readonly projectDomain?: string;
  readonly timeoutMs?: number;
  /**
   * Rewrites every URL the session uses (catalog endpoints and the auth URL), e.g. to reach a remote
   * host's http://SERVICE_HOST:9292 through an SSH port forward on 127.0.0.1.
   */
  readonly mapUrl?: (url: string) => string;
}

/** Keystone's v3 root for a URL given with or without the version. */
export const identityRoot = (authUrl: string): string => {
  const trimmed = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(trimmed) ? trimmed : `${trimmed.replace(/\/v2\.0$/, '')}/v3`;
};

interface TokenBody {
  token: {
    expires_at: string;
    user: { id: string };
    project?: { id: string };
    roles?: { name: string }[];
    catalog?: CatalogEntry[];
  };
}

/** A session's request timeout where the login names none. */
export const SESSION_TIMEOUT_MS = 30_000;

/** v3 password authentication, scoped to a project. The token comes from the X-Subject-Token header. */
export async function authenticate(opts: AuthOptions): Promise<Session> {
  const mapUrl = opts.mapUrl ?? ((u: string) => u);
  const identityUrl = mapUrl(identityRoot(opts.authUrl));
  const timeoutMs = opts.timeoutMs ?? SESSION_TIMEOUT_MS;
  const body = {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: opts.username, password: opts.password, domain: { name: opts.userDomain ?? 'Default' } } },
      },
      scope: { project: { name: opts.projectName, domain: { name: opts.projectDomain ?? 'Default' } } },
    },
  };
  let res;
  try {
    res = await request('POST', joinUrl(identityUrl, 'auth/tokens'), { json: body, timeoutMs, expect: [201], service: 'keystone' });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      throw new ApiError(
        `${e.message}\n  Keystone refused user "${opts.username}" (domain ${opts.userDomain ?? 'Default'}) for project "${opts.projectName}": ` +
          'wrong password, unknown user, or no role on that project' +
          (opts.username === 'admin' ? '. Check ADMIN_PASSWORD against the one keystone was bootstrapped with.' : '.'),
        e.method, e.url, e.status, e.body,
      );
    }
    throw e;
  }
  const token = res.headers['x-subject-token'];
  const parsed = await res.json<TokenBody>();
  if (typeof token !== 'string' || !token) {
    throw new ApiError(`POST ${identityUrl}/auth/tokens -> 201 but no X-Subject-Token header: is this really Keystone v3?`, 'POST', identityUrl, 201);
  }
  const catalog = parsed.token.catalog ?? [];
  return {
    token,
    expiresAt: new Date(parsed.token.expires_at),
    catalog,
    userId: parsed.token.user.id,
    projectId: parsed.token.project?.id ?? '',
    roles: (parsed.token.roles ?? []).map((r) => r.name),
    identityUrl,
    timeoutMs,
    endpointFor(type, iface = 'public', region) {
      return mapUrl(findEndpoint(catalog, type, iface, region));
    },
  };
}

/** Pure lookup in a token's catalog; exported for tests and for summaries. */
export function findEndpoint(catalog: readonly CatalogEntry[], type: string, iface: Interface = 'public', region?: string): string {
  const services = catalog.filter((c) => c.type === type);
  const eps = services.flatMap((c) => c.endpoints).filter((e) => e.interface === iface && (!region || (e.region_id ?? e.region) === region));
  const first = eps[0];
  if (!first) {
    const known = catalog.map((c) => c.type).join(', ') || 'nothing';
    throw new StackError(
      `the Keystone catalog has no ${iface} endpoint for service type "${type}"${region ? ` in region ${region}` : ''} (it lists: ${known})`,
      `register the service (./stack.ts re-runs the register phase), or check REGION_NAME matches the region keystone was bootstrapped with`,
    );
  }
  return first.url;
}

/** A request with the session's token and timeout. Plugins and the other clients use this. */
export function call<T = unknown>(s: Session, method: string, url: string, opts: RequestOptions = {}): Promise<T> {
  return requestJson<T>(method, url, { timeoutMs: s.timeoutMs, ...opts, token: s.token });
}

const idUrl = (s: Session, path: string) => joinUrl(s.identityUrl, path);
const q = (params: Record<string, string | undefined>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) p.set(k, v);
  return p.toString();
};

interface Named {
  id: string;
  name: string;
  domain_id?: string | null;
}

/**
 * Create, or when Keystone answers 409 read what a concurrent run or task created meanwhile: with
 * the task graph several services register at once, and each ensures the same `service` project
 * and role (two POSTs of role "service" failed glance's register with "Duplicate entry", seen end to end).
 */
async function createOrRead(create: () => Promise<string>, read: () => Promise<string | undefined>): Promise<string> {
  try {
    return await create();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 409)) throw e;
    const id = await read();
    if (!id) throw e;
    return id;
  }
}

export async function ensureDomain(s: Session, name: string, description?: string): Promise<string> {
  const read = async () => {
    const { domains } = await call<{ domains: Named[] }>(s, 'GET', idUrl(s, `domains?${q({ name })}`));
    return domains.find((d) => d.name === name)?.id;
  };
  return (
    (await read()) ??
    createOrRead(async () => (await call<{ domain: Named }>(s, 'POST', idUrl(s, 'domains'), { json: { domain: { name, description, enabled: true } } })).domain.id, read)
  );
}

/** Regions are named by their id (RegionOne). */
export async function ensureRegion(s: Session, id: string, description?: string): Promise<string> {
  try {
    await call(s, 'GET', idUrl(s, `regions/${encodeURIComponent(id)}`));
    return id;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
  return createOrRead(
    async () => {
      await call(s, 'POST', idUrl(s, 'regions'), { json: { region: { id, description } } });
      return id;
    },
    async () => id,
  );
}

export async function ensureProject(s: Session, name: string, domainId = 'default', description?: string): Promise<string> {
  const read = async () => {
    const { projects } = await call<{ projects: Named[] }>(s, 'GET', idUrl(s, `projects?${q({ name, domain_id: domainId })}`));
    return projects.find((p) => p.name === name && (p.domain_id ?? 'default') === domainId)?.id;
  };
  const create = async () =>
    (await call<{ project: Named }>(s, 'POST', idUrl(s, 'projects'), { json: { project: { name, domain_id: domainId, description, enabled: true } } })).project.id;
  return (await read()) ?? createOrRead(create, read);
}

export interface UserSpec {
  readonly name: string;
  /** Never logged; it is only sent in request bodies, and ApiError never includes request bodies. */
  readonly password: string;
  /** default_project_id. */
  readonly projectId?: string;
  readonly domainId?: string;
  readonly email?: string;
}

/**
 * Get or create a user. When the user exists, its password is brought to the given one: first a
 * token request tells whether it already matches (Keystone revokes a user's tokens when its
 * password is set, so an unconditional PATCH would kill sessions that are in use, including this
 * one when the user is admin); only a mismatch is PATCHed.
 */
export async function ensureUser(s: Session, spec: UserSpec): Promise<string> {
  return (await ensureUserWithPassword(s, spec)).id;
}

/** ensureUser, also telling whether Keystone issued a token for the password as it stood (a re-run's usual case). */
export async function ensureUserWithPassword(s: Session, spec: UserSpec): Promise<{ id: string; accepted: boolean }> {
  const domainId = spec.domainId ?? 'default';
  const { users } = await call<{ users: Named[] }>(s, 'GET', idUrl(s, `users?${q({ name: spec.name, domain_id: domainId })}`));
  const found = users.find((u) => u.name === spec.name);
  if (!found) {
    const { user } = await call<{ user: Named }>(s, 'POST', idUrl(s, 'users'), {
      json: {
        user: { name: spec.name, password: spec.password, domain_id: domainId, default_project_id: spec.projectId, email: spec.email, enabled: true },
      },
    });
    return { id: user.id, accepted: false };
  }
  if (await passwordWorks(s, found.id, spec.password)) return { id: found.id, accepted: true };
  await call(s, 'PATCH', idUrl(s, `users/${found.id}`), { json: { user: { password: spec.password } } });
  return { id: found.id, accepted: false };
}

/** True when Keystone issues an (unscoped) token for this user id and password. */
export async function passwordWorks(s: Session, userId: string, password: string): Promise<boolean> {
  const res = await request('POST', idUrl(s, 'auth/tokens'), {
    json: { auth: { identity: { methods: ['password'], password: { user: { id: userId, password } } } } },
    expect: [201, 401],
    timeoutMs: s.timeoutMs,
    service: 'keystone',
  });
  res.stream.resume();
  return res.status === 201;
}

/** Global (domain-less) role by name: admin, member, reader, service. */
export async function ensureRole(s: Session, name: string): Promise<string> {
  const read = async () => {
    const { roles } = await call<{ roles: Named[] }>(s, 'GET', idUrl(s, `roles?${q({ name })}`));
    return roles.find((r) => r.name === name && !r.domain_id)?.id;
  };
  return (await read()) ?? createOrRead(async () => (await call<{ role: Named }>(s, 'POST', idUrl(s, 'roles'), { json: { role: { name } } })).role.id, read);
}

/** PUT is idempotent in Keystone: granting an existing assignment answers 204 and changes nothing. */
export async function ensureRoleAssignment(s: Session, a: { userId: string; projectId: string; roleId: string }): Promise<void> {
  await call(s, 'PUT', idUrl(s, `projects/${a.projectId}/users/${a.userId}/roles/${a.roleId}`));
}

export interface ServiceSpec {
  readonly name: string;
  readonly type: string;
  readonly description?: string;
}

export async function ensureService(s: Session, spec: ServiceSpec): Promise<string> {
  const { services } = await call<{ services: (Named & { type: string })[] }>(s, 'GET', idUrl(s, `services?${q({ type: spec.type })}`));
  const found = services.find((x) => x.type === spec.type && x.name === spec.name);
  if (found) return found.id;
  const { service } = await call<{ service: Named }>(s, 'POST', idUrl(s, 'services'), {
    json: { service: { name: spec.name, type: spec.type, description: spec.description, enabled: true } },
  });
  return service.id;
}

export interface EndpointSpec {
  readonly serviceId: string;
  readonly interface: Interface;
  readonly url: string;
  /** Must exist (ensureRegion, or keystone-manage bootstrap's --bootstrap-region-id). */
  readonly regionId: string;
}

export interface EndpointResult {
  readonly id: string;
  readonly action: 'created' | 'updated' | 'unchanged';
  /** The URL that was replaced, when action is 'updated'. */
  readonly previousUrl?: string;
  /** Ids of duplicate endpoints (same service, interface, region) that were deleted. */
  readonly removed: readonly string[];
}

interface EndpointRow {
  id: string;
  service_id: string;
  interface: string;
  region_id?: string | null;
  region?: string | null;
  url: string;
}

/**
 * One endpoint per service + interface + region, with this URL. A stale URL (an earlier run with
 * another SERVICE_HOST, or seed 001's controller vs controller01) is PATCHed, and duplicates are
 * deleted, so clients cannot pick the wrong one at random.
 */
export async function ensureEndpoint(s: Session, spec: EndpointSpec): Promise<EndpointResult> {
  const { endpoints } = await call<{ endpoints: EndpointRow[] }>(
    s, 'GET', idUrl(s, `endpoints?${q({ service_id: spec.serviceId, interface: spec.interface, region_id: spec.regionId })}`),
  );
  const same = endpoints.filter(
    (e) => e.service_id === spec.serviceId && e.interface === spec.interface && (e.region_id ?? e.region) === spec.regionId,
  );
  const keep = same.find((e) => e.url === spec.url) ?? same[0];
  const removed: string[] = [];
  for (const e of same) {
    if (e === keep) continue;
    await call(s, 'DELETE', idUrl(s, `endpoints/${e.id}`));
    removed.push(e.id);
  }
  if (!keep) {
    const { endpoint } = await call<{ endpoint: EndpointRow }>(s, 'POST', idUrl(s, 'endpoints'), {
      json: { endpoint: { service_id: spec.serviceId, interface: spec.interface, url: spec.url, region_id: spec.regionId, enabled: true } },
    });
    return { id: endpoint.id, action: 'created', removed };
  }
  if (keep.url === spec.url) return { id: keep.id, action: 'unchanged', removed };
  await call(s, 'PATCH', idUrl(s, `endpoints/${keep.id}`), { json: { endpoint: { url: spec.url } } });
  return { id: keep.id, action: 'updated', previousUrl: keep.url, removed };
}

export interface ServiceUserSpec {
  readonly name: string;
  readonly password: string;
  /** Default "service", as every OpenStack guide and devstack use. */
  readonly projectName?: string;
  /** Default "admin": what nova, glance and placement need for their keystone_authtoken user. */
  readonly roleName?: string;
  readonly domainId?: string;
}

/** The user a service authenticates as: user in project "service" with the admin role there. */
export async function ensureServiceUser(
  s: Session,
  spec: ServiceUserSpec,
): Promise<{ userId: string; projectId: string; roleId: string; /** Keystone issued a token for the password already in place. */ passwordAccepted: boolean }> {
  const domainId = spec.domainId ?? 'default';
  const projectId = await ensureProject(s, spec.projectName ?? 'service', domainId, 'Service users');
  const user = await ensureUserWithPassword(s, { name: spec.name, password: spec.password, projectId, domainId });
  const roleId = await ensureRole(s, spec.roleName ?? 'admin');
  await ensureRoleAssignment(s, { userId: user.id, projectId, roleId });
  return { userId: user.id, projectId, roleId, passwordAccepted: user.accepted };
}

export interface CatalogSpec extends ServiceSpec {
  readonly regionId: string;
  /** One URL per interface; usually the same URL three times. */
  readonly urls: Readonly<Partial<Record<Interface, string>>>;
}

/** Service + its endpoints in one call. Returns the endpoint results so a caller can report URL changes. */
export async function ensureCatalogEntry(s: Session, spec: CatalogSpec): Promise<{ serviceId: string; endpoints: Record<string, EndpointResult> }> {
  const serviceId = await ensureService(s, spec);
  const endpoints: Record<string, EndpointResult> = {};
  for (const [iface, url] of Object.entries(spec.urls) as [Interface, string][]) {
    endpoints[iface] = await ensureEndpoint(s, { serviceId, interface: iface, url, regionId: spec.regionId });
  }
  return { serviceId, endpoints };
}
