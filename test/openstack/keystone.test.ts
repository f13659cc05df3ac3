import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../lib/openstack/http.ts';
import {
  authenticate,
  ensureCatalogEntry,
  ensureDomain,
  ensureEndpoint,
  ensureProject,
  ensureRegion,
  ensureRole,
  ensureRoleAssignment,
  ensureService,
  ensureServiceUser,
  ensureUser,
  findEndpoint,
  identityRoot,
  type Session,
} from '../../lib/openstack/keystone.ts';
import { StackError } from '../../lib/errors.ts';
import { json } from '../fixtures/http-server.ts';
import { ADMIN_PASSWORD, startFakeCloud, type FakeCloud } from './fake-cloud.ts';

let cloud: FakeCloud;
let s: Session;

beforeAll(async () => {
  cloud = await startFakeCloud();
});
afterAll(async () => cloud?.close());

beforeEach(async () => {
  s = await authenticate({ authUrl: cloud.url, username: 'admin', password: ADMIN_PASSWORD, projectName: 'admin' });
  cloud.srv.requests.length = 0;
});

describe('authenticate', () => {
  it('gets a token from X-Subject-Token, the catalog, and ids; endpointFor reads the catalog', async () => {
    expect(s.token).toMatch(/^tok-/);
    expect(s.userId).toBe('u-admin');
    expect(s.projectId).toBe('p-admin');
    expect(s.expiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(s.identityUrl).toBe(`${cloud.url}/v3`);
    expect(s.endpointFor('image')).toBe(cloud.url);
    expect(s.endpointFor('compute', 'public', 'RegionOne')).toBe(`${cloud.url}/compute/v2.1`);
  });

  it('sends v3 password auth scoped to the project by domain names', async () => {
    await authenticate({ authUrl: `${cloud.url}/v3/`, username: 'admin', password: ADMIN_PASSWORD, projectName: 'admin' });
    const body = JSON.parse(cloud.srv.requests.at(-1)!.body);
    expect(body.auth.identity.password.user).toEqual({ name: 'admin', password: ADMIN_PASSWORD, domain: { name: 'Default' } });
    expect(body.auth.scope.project).toEqual({ name: 'admin', domain: { name: 'Default' } });
    expect(cloud.srv.requests.at(-1)!.url).toBe('/v3/auth/tokens');
  });

  it('explains a refused login without echoing the password', async () => {
    const err = (await authenticate({ authUrl: cloud.url, username: 'admin', password: 'wrong-pw', projectName: 'admin' }).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(401);
    expect(err.message).toContain(`POST ${cloud.url}/v3/auth/tokens -> 401`);
    expect(err.message).toContain('ADMIN_PASSWORD');
    expect(err.message).not.toContain('wrong-pw');
  });

  it('maps catalog URLs through mapUrl (SSH port forwards)', async () => {
    const mapped = await authenticate({
      authUrl: cloud.url, username: 'admin', password: ADMIN_PASSWORD, projectName: 'admin',
      mapUrl: (u) => u.replace(cloud.url, 'http://127.0.0.1:1'),
    }).catch((e: unknown) => e);
    // The auth URL is mapped too: port 1 refuses, and the message names the mapped address.
    expect((mapped as ApiError).message).toContain('127.0.0.1:1');
    const ok = await authenticate({
      authUrl: cloud.url, username: 'admin', password: ADMIN_PASSWORD, projectName: 'admin',
      mapUrl: (u) => u.replace('/compute/', '/nova/'),
    });
    expect(ok.endpointFor('compute')).toBe(`${cloud.url}/nova/v2.1`);
  });

  it('says what is missing when the catalog lacks a service', () => {
    expect(() => s.endpointFor('volumev3')).toThrow(StackError);
    expect(() => s.endpointFor('volumev3')).toThrow(/no public endpoint for service type "volumev3".*identity, image, compute, placement/);
    expect(() => findEndpoint([], 'image', 'internal', 'RegionTwo')).toThrow(/internal endpoint .* in region RegionTwo/);
  });

  it('normalises the auth URL', () => {
    expect(identityRoot('http://h:5000')).toBe('http://h:5000/v3');
    expect(identityRoot('http://h:5000/v3/')).toBe('http://h:5000/v3');
    expect(identityRoot('http://h/identity/v2.0')).toBe('http://h/identity/v3');
  });
});

describe('get-or-create', () => {
  it('tasks that ensure the same project, role and domain at once all get the one Keystone created (a 409 is read back)', async () => {
    // The task graph runs several services' register phases together; each ensures project
    // "service" and role "service". Keystone answers the slower POST with 409 Duplicate entry.
    const [roles, projects, domains] = await Promise.all([
      Promise.all([1, 2, 3, 4].map(() => ensureRole(s, 'racing-role'))),
      Promise.all([1, 2, 3, 4].map(() => ensureProject(s, 'racing-project', 'default'))),
      Promise.all([1, 2, 3].map(() => ensureDomain(s, 'stackdom'))),
    ]);
    expect(new Set(roles).size).toBe(1);
    expect(new Set(projects).size).toBe(1);
    expect(new Set(domains).size).toBe(1);
    expect(cloud.tables.roles!.filter((r) => r.name === 'racing-role')).toHaveLength(1);
    expect(cloud.tables.projects!.filter((p) => p.name === 'racing-project')).toHaveLength(1);
  });

  it('ensureProject, ensureRole, ensureDomain, ensureRegion create once and then only read', async () => {
    const p1 = await ensureProject(s, 'service', 'default', 'Service users');
    const r1 = await ensureRole(s, 'member');
    const d1 = await ensureDomain(s, 'heat');
    const g1 = await ensureRegion(s, 'RegionTwo');
    expect(cloud.writes()).toEqual(['POST /v3/projects', 'POST /v3/roles', 'POST /v3/domains', 'POST /v3/regions']);
    cloud.srv.requests.length = 0;
    expect(await ensureProject(s, 'service', 'default')).toBe(p1);
    expect(await ensureRole(s, 'member')).toBe(r1);
    expect(await ensureDomain(s, 'heat')).toBe(d1);
    expect(await ensureRegion(s, 'RegionTwo')).toBe(g1);
    expect(cloud.writes()).toEqual([]);
    expect(cloud.tables.projects!.filter((p) => p.name === 'service')).toHaveLength(1);
  });

  it('finds existing rows made by keystone-manage bootstrap', async () => {
    expect(await ensureProject(s, 'admin')).toBe('p-admin');
    expect(await ensureRole(s, 'admin')).toBe('r-admin');
    expect(await ensureDomain(s, 'Default')).toBe('default');
    expect(await ensureRegion(s, 'RegionOne')).toBe('RegionOne');
    expect(cloud.writes()).toEqual([]);
  });

  it('ensureUser creates a user, leaves a matching password alone, and converges a changed one', async () => {
    const projectId = await ensureProject(s, 'service');
    cloud.srv.requests.length = 0;
    const id = await ensureUser(s, { name: 'glance', password: 'pw-one', projectId });
    expect(cloud.writes()).toEqual(['POST /v3/users']);
    expect(cloud.tables.users!.find((u) => u.id === id)).toMatchObject({ name: 'glance', default_project_id: projectId, domain_id: 'default' });

    cloud.srv.requests.length = 0;
    expect(await ensureUser(s, { name: 'glance', password: 'pw-one', projectId })).toBe(id);
    // Only the password probe (a token request) is sent: no PATCH that would revoke tokens.
    expect(cloud.writes()).toEqual(['POST /v3/auth/tokens']);

    cloud.srv.requests.length = 0;
    expect(await ensureUser(s, { name: 'glance', password: 'pw-two', projectId })).toBe(id);
    expect(cloud.writes()).toEqual(['POST /v3/auth/tokens', `PATCH /v3/users/${id}`]);
    expect(cloud.passwords.get(id)).toBe('pw-two');
  });

  it('ensureRoleAssignment uses an idempotent PUT', async () => {
    await ensureRoleAssignment(s, { userId: 'u-x', projectId: 'p-y', roleId: 'r-admin' });
    await ensureRoleAssignment(s, { userId: 'u-x', projectId: 'p-y', roleId: 'r-admin' });
    expect(cloud.writes()).toEqual(['PUT /v3/projects/p-y/users/u-x/roles/r-admin', 'PUT /v3/projects/p-y/users/u-x/roles/r-admin']);
    expect(cloud.assignments.has('p-y/u-x/r-admin')).toBe(true);
  });

  it('ensureServiceUser makes user, project service and the admin grant; the second run creates nothing', async () => {
    const first = await ensureServiceUser(s, { name: 'nova', password: 'nova-pw' });
    expect(cloud.assignments.has(`${first.projectId}/${first.userId}/${first.roleId}`)).toBe(true);
    expect(first.roleId).toBe('r-admin');
    cloud.srv.requests.length = 0;
    const second = await ensureServiceUser(s, { name: 'nova', password: 'nova-pw' });
    // The first made the user (no token for its password yet); the second had Keystone accept it.
    expect(first.passwordAccepted).toBe(false);
    expect(second).toEqual({ ...first, passwordAccepted: true });
    expect(cloud.writes().filter((w) => w.startsWith('POST /v3/') && w !== 'POST /v3/auth/tokens')).toEqual([]);
  });

  it('ensureService matches on name and type', async () => {
    expect(await ensureService(s, { name: 'glance', type: 'image' })).toBe('s-glance');
    expect(cloud.writes()).toEqual([]);
    const id = await ensureService(s, { name: 'cinderv3', type: 'volumev3', description: 'Block Storage' });
    expect(cloud.writes()).toEqual(['POST /v3/services']);
    expect(await ensureService(s, { name: 'cinderv3', type: 'volumev3' })).toBe(id);
  });
});

describe('ensureEndpoint', () => {
  it('creates a missing endpoint once', async () => {
    const serviceId = await ensureService(s, { name: 'swift', type: 'object-store' });
    cloud.srv.requests.length = 0;
    const a = await ensureEndpoint(s, { serviceId, interface: 'internal', url: 'http://10.0.0.5:8080', regionId: 'RegionOne' });
    expect(a.action).toBe('created');
    const b = await ensureEndpoint(s, { serviceId, interface: 'internal', url: 'http://10.0.0.5:8080', regionId: 'RegionOne' });
    expect(b).toEqual({ id: a.id, action: 'unchanged', removed: [] });
    expect(cloud.writes()).toEqual(['POST /v3/endpoints']);
  });

  it('PATCHes an endpoint whose URL names another host, and reports the old URL', async () => {
    const r = await ensureEndpoint(s, { serviceId: 's-glance', interface: 'public', url: 'http://controller01:9292', regionId: 'RegionOne' });
    expect(r).toEqual({ id: 'e-gl', action: 'updated', previousUrl: cloud.url, removed: [] });
    expect(cloud.writes()).toEqual(['PATCH /v3/endpoints/e-gl']);
    expect(cloud.tables.endpoints!.find((e) => e.id === 'e-gl')!.url).toBe('http://controller01:9292');
    // put it back for the other tests
    await ensureEndpoint(s, { serviceId: 's-glance', interface: 'public', url: cloud.url, regionId: 'RegionOne' });
  });

  it('deletes duplicates so one URL wins', async () => {
    cloud.tables.endpoints!.push(
      { id: 'dup-1', service_id: 's-nova', interface: 'admin', region_id: 'RegionOne', url: 'http://controller:8774/v2.1' },
      { id: 'dup-2', service_id: 's-nova', interface: 'admin', region_id: 'RegionOne', url: 'http://controller01:8774/v2.1' },
    );
    const r = await ensureEndpoint(s, { serviceId: 's-nova', interface: 'admin', url: 'http://controller01:8774/v2.1', regionId: 'RegionOne' });
    expect(r).toEqual({ id: 'dup-2', action: 'unchanged', removed: ['dup-1'] });
    expect(cloud.tables.endpoints!.filter((e) => e.service_id === 's-nova' && e.interface === 'admin')).toHaveLength(1);
  });

  it('ensureCatalogEntry registers a service with its three endpoints, idempotently', async () => {
    const spec = {
      name: 'heat', type: 'orchestration', regionId: 'RegionOne',
      urls: { public: 'http://h:8004/v1', internal: 'http://h:8004/v1', admin: 'http://h:8004/v1' },
    };
    const first = await ensureCatalogEntry(s, spec);
    expect(Object.values(first.endpoints).map((e) => e.action)).toEqual(['created', 'created', 'created']);
    cloud.srv.requests.length = 0;
    const second = await ensureCatalogEntry(s, spec);
    expect(second.serviceId).toBe(first.serviceId);
    expect(Object.values(second.endpoints).map((e) => e.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(cloud.writes()).toEqual([]);
  });
});

describe('errors', () => {
  it('carry method, URL and status from the API', async () => {
    const bad = { ...s, token: 'expired' };
    const err = (await ensureProject(bad, 'x').catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.method).toBe('GET');
    expect(err.status).toBe(401);
    expect(err.url).toBe(`${cloud.url}/v3/projects?name=x&domain_id=default`);
    expect(err.message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/v3\/projects\?name=x&domain_id=default -> 401 Unauthorized: .*requires authentication/);
  });

  it('never put the request body (a user password) into an error', async () => {
    cloud.srv.route('POST', '/v3/users', (_req, res) => json(res, 409, { error: { code: 409, message: 'Conflict occurred' } }));
    try {
      const err = (await ensureUser(s, { name: 'newbie', password: 'p@ss-secret' }).catch((e: unknown) => e)) as ApiError;
      expect(err.status).toBe(409);
      expect(err.message).toContain('POST');
      expect(err.message).not.toContain('p@ss-secret');
      expect(JSON.parse(cloud.srv.requests.at(-1)!.body).user.password).toBe('p@ss-secret');
    } finally {
      cloud.srv.route('POST', '/v3/users', (req, res, body, raw) => cloud.forward(req, res, body, raw));
    }
  });
});
