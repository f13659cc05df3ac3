// In-memory stand-ins for Keystone v3, Glance v2, Nova and Placement, on one loopback server.
// Only what the clients use, answering with the shapes and statuses the real services use,
// so the clients' get-or-create logic, pagination and error handling can be unit-tested.

import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { json, startHttpServer, type Handler, type TestServer } from '../fixtures/http-server.ts';

interface Row {
  id: string;
  [k: string]: unknown;
}

export interface FakeCloud {
  readonly srv: TestServer;
  readonly url: string;
  readonly keystoneUrl: string;
  readonly tables: Record<string, Row[]>;
  readonly passwords: Map<string, string>;
  readonly assignments: Set<string>;
  readonly images: Row[];
  readonly imageData: Map<string, Buffer>;
  /** Page size of GET /v2/images, whatever limit the client asks for. */
  glancePageSize: number;
  /** Scripted Nova/Placement state for the server-status tests. */
  readonly nova: {
    getServerStatus: number;
    server: Row | undefined;
    actions: { action: string; request_id: string; start_time: string; message: string | null; events: Row[] }[];
    hypervisorServers: { name: string; uuid: string }[];
    /** Servers besides the one created through the fake (left by earlier runs, say): listed, found by id, deleted. */
    others: Row[];
    allocations: Record<string, { resources: Record<string, number> }>;
    /** Placement's resource providers, each with its inventory (empty until nova-compute reports it). */
    providers: { uuid: string; name: string; inventories: Record<string, { total: number }> }[];
  };
  /** Hand a request to the fake's own routing (to undo a test's srv.route override). */
  forward: Handler;
  /** Requests other than GET, as "METHOD /path". */
  writes(): string[];
  close(): Promise<void>;
}

const ADMIN_PASSWORD = 'secret$pass';

export async function startFakeCloud(): Promise<FakeCloud> {
  const srv = await startHttpServer();
  const base = srv.url;
  const tables: Record<string, Row[]> = {
    domains: [{ id: 'default', name: 'Default' }],
    projects: [{ id: 'p-admin', name: 'admin', domain_id: 'default' }],
    users: [{ id: 'u-admin', name: 'admin', domain_id: 'default' }],
    roles: [{ id: 'r-admin', name: 'admin', domain_id: null }],
    services: [
      { id: 's-keystone', name: 'keystone', type: 'identity' },
      { id: 's-glance', name: 'glance', type: 'image' },
      { id: 's-nova', name: 'nova', type: 'compute' },
      { id: 's-placement', name: 'placement', type: 'placement' },
    ],
    endpoints: [
      { id: 'e-ks', service_id: 's-keystone', interface: 'public', region_id: 'RegionOne', url: `${base}/v3` },
      { id: 'e-gl', service_id: 's-glance', interface: 'public', region_id: 'RegionOne', url: `${base}` },
      { id: 'e-nova', service_id: 's-nova', interface: 'public', region_id: 'RegionOne', url: `${base}/compute/v2.1` },
      { id: 'e-pl', service_id: 's-placement', interface: 'public', region_id: 'RegionOne', url: `${base}/placement` },
    ],
    regions: [{ id: 'RegionOne' }],
  };
  const passwords = new Map<string, string>([['u-admin', ADMIN_PASSWORD]]);
  const assignments = new Set<string>(['p-admin/u-admin/r-admin']);
  const tokens = new Set<string>();
  const images: Row[] = [];
  const imageData = new Map<string, Buffer>();
  const nova: FakeCloud['nova'] = { getServerStatus: 500, server: undefined, actions: [], hypervisorServers: [], allocations: {}, others: [], providers: [] };

  const catalog = () =>
    tables.services!.map((s) => ({
      id: s.id,
      type: s.type,
      name: s.name,
      endpoints: tables.endpoints!.filter((e) => e.service_id === s.id).map((e) => ({ id: e.id, interface: e.interface, region_id: e.region_id, url: e.url })),
    }));

  const cloud: FakeCloud = {
    srv,
    url: base,
    keystoneUrl: `${base}/v3`,
    tables,
    passwords,
    assignments,
    images,
    imageData,
    glancePageSize: 2,
    nova,
    forward: async () => undefined,
    writes: () => srv.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.url.split('?')[0]}`),
    close: () => srv.close(),
  };

  const authed = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (tokens.has(String(req.headers['x-auth-token']))) return true;
    json(res, 401, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });
    return false;
  };

  const routeAll: Handler = async (req, res, body, raw) => {
    const url = new URL(req.url ?? '/', base);
    const path = url.pathname;
    const m = req.method ?? 'GET';
    const q = url.searchParams;
    const isJson = String(req.headers['content-type'] ?? '').startsWith('application/json');
    const input = body && isJson ? (JSON.parse(body) as Record<string, Record<string, unknown>>) : {};
    let r: RegExpExecArray | null;

    // --- Keystone
    if (m === 'POST' && path === '/v3/auth/tokens') {
      const pw = (input.auth as { identity: { password: { user: { id?: string; name?: string; password: string } } } }).identity.password.user;
      const user = tables.users!.find((u) => (pw.id ? u.id === pw.id : u.name === pw.name));
      if (!user || passwords.get(user.id) !== pw.password) {
        return json(res, 401, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } });
      }
      const token = `tok-${randomUUID()}`;
      tokens.add(token);
      // The token's project and the user's roles there, as Keystone puts them in a scoped token.
      const scope = (input.auth as { scope?: { project?: { name?: string } } }).scope?.project?.name;
      const projectId = String((scope && tables.projects!.find((x) => x.name === scope)?.id) ?? 'p-admin');
      const roles = [...assignments]
        .filter((a) => a.startsWith(`${projectId}/${user.id}/`))
        .map((a) => ({ name: String(tables.roles!.find((x) => x.id === a.split('/')[2])?.name) }));
      return json(
        res, 201,
        { token: { expires_at: new Date(Date.now() + 3600_000).toISOString(), user: { id: user.id }, project: { id: projectId }, roles, catalog: catalog() } },
        { 'X-Subject-Token': token },
      );
    }
    if (path.startsWith('/v3/') && !authed(req, res)) return;
    if ((r = /^\/v3\/(domains|projects|users|roles|services|endpoints)$/.exec(path))) {
      const table = tables[r[1]!]!;
      const singular = r[1]!.slice(0, -1);
      if (m === 'GET') {
        const rows = table.filter((row) => [...q.entries()].every(([k, v]) => String(row[k] ?? (k === 'domain_id' ? 'default' : '')) === v));
        return json(res, 200, { [r[1]!]: rows });
      }
      if (m === 'POST') {
        const row = { id: randomUUID().replace(/-/g, ''), ...(input[singular] as object) } as Row;
        // Keystone keeps names unique (per domain for projects and users): a second create answers 409.
        const unique = ['domains', 'projects', 'users', 'roles'].includes(r[1]!);
        const scope = (x: Row) => String(x.domain_id ?? (r![1] === 'roles' || r![1] === 'domains' ? '' : 'default'));
        if (unique && table.some((x) => x.name === row.name && scope(x) === scope(row))) {
          return json(res, 409, { error: { code: 409, message: `Conflict occurred attempting to store ${singular} - Duplicate entry found with name ${String(row.name)}.`, title: 'Conflict' } });
        }
        if (singular === 'user') {
          passwords.set(row.id, String(row.password));
          delete row.password;
        }
        table.push(row);
        return json(res, 201, { [singular]: row });
      }
    }
    if ((r = /^\/v3\/(users|endpoints)\/([^/]+)$/.exec(path))) {
      const table = tables[r[1]!]!;
      const row = table.find((x) => x.id === r![2]);
      if (!row) return json(res, 404, { error: { code: 404, message: 'not found' } });
      if (m === 'PATCH') {
        const patch = { ...(input[r[1]!.slice(0, -1)] as Record<string, unknown>) };
        if (r[1] === 'users' && 'password' in patch) {
          passwords.set(row.id, String(patch.password));
          delete patch.password;
        }
        Object.assign(row, patch);
        return json(res, 200, { [r[1]!.slice(0, -1)]: row });
      }
      if (m === 'DELETE') {
        table.splice(table.indexOf(row), 1);
        return json(res, 204);
      }
    }
    if ((r = /^\/v3\/regions(?:\/([^/]+))?$/.exec(path))) {
      if (m === 'GET' && r[1]) {
        const row = tables.regions!.find((x) => x.id === decodeURIComponent(r![1]!));
        return row ? json(res, 200, { region: row }) : json(res, 404, { error: { code: 404, message: 'Could not find region' } });
      }
      if (m === 'POST') {
        const row = input.region as Row;
        tables.regions!.push(row);
        return json(res, 201, { region: row });
      }
    }
    if ((r = /^\/v3\/projects\/([^/]+)\/users\/([^/]+)\/roles\/([^/]+)$/.exec(path)) && m === 'PUT') {
      assignments.add(`${r[1]}/${r[2]}/${r[3]}`);
      return json(res, 204);
    }

    // --- Glance
    if (path.startsWith('/v2/') && !authed(req, res)) return;
    if (path === '/v2/images' && m === 'GET') {
      const marker = q.get('marker');
      let rows = images.filter((img) => [...q.entries()].every(([k, v]) => ['limit', 'marker'].includes(k) || String(img[k]) === v));
      if (marker) rows = rows.slice(rows.findIndex((x) => x.id === marker) + 1);
      const page = rows.slice(0, cloud.glancePageSize);
      const more = rows.length > page.length;
      const next = new URLSearchParams(q);
      next.set('marker', page.at(-1)?.id ?? '');
      return json(res, 200, { images: page, first: '/v2/images', ...(more ? { next: `/v2/images?${next}` } : {}) });
    }
    if (path === '/v2/images' && m === 'POST') {
      const row = { id: randomUUID(), status: 'queued', checksum: null, os_hash_algo: null, os_hash_value: null, size: null, ...input } as Row;
      images.push(row);
      return json(res, 201, row);
    }
    if ((r = /^\/v2\/images\/([^/]+)(\/file)?$/.exec(path))) {
      const img = images.find((x) => x.id === r![1]);
      if (!img) return json(res, 404, { error: 'image not found' });
      if (!r[2] && m === 'GET') return json(res, 200, img);
      if (!r[2] && m === 'DELETE') {
        images.splice(images.indexOf(img), 1);
        return json(res, 204);
      }
      if (r[2] && m === 'PUT') {
        const data = raw;
        imageData.set(img.id, data);
        Object.assign(img, {
          status: 'active',
          size: data.length,
          checksum: createHash('md5').update(data).digest('hex'),
          os_hash_algo: 'sha512',
          os_hash_value: createHash('sha512').update(data).digest('hex'),
          upload_content_type: req.headers['content-type'],
          upload_content_length: req.headers['content-length'],
        });
        return json(res, 204);
      }
      if (r[2] && m === 'GET') {
        const data = imageData.get(img.id);
        if (!data) return json(res, 204);
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length });
        return void res.end(data);
      }
    }

    // --- Nova (under /compute/v2.1) and Placement (under /placement)
    if ((path.startsWith('/compute/') || path.startsWith('/placement/')) && !authed(req, res)) return;
    if (path === '/compute/v2.1/images/detail' && m === 'GET') {
      if (req.headers['openstack-api-version'] !== 'compute 2.35') return json(res, 404, { itemNotFound: { code: 404, message: 'Not found' } });
      return json(res, 200, { images: images.map((i) => ({ id: i.id, name: i.name, status: String(i.status).toUpperCase() })) });
    }
    if (path === '/compute/v2.1/servers' && m === 'POST') {
      const v = /^compute 2\.(\d+)$/.exec(String(req.headers['openstack-api-version'] ?? ''));
      if (!v || Number(v[1]) < 37) return json(res, 500, { computeFault: { code: 500, message: 'Unexpected API Error (neutron quota)' } });
      const srvBody = input.server as Row;
      nova.server = { ...srvBody, id: randomUUID(), status: 'BUILD' };
      return json(res, 202, { server: { id: nova.server.id, adminPass: 'do-not-leak' } });
    }
    if (path === '/compute/v2.1/servers' && m === 'GET') {
      const name = new RegExp(q.get('name') ?? '');
      const all = [...nova.others, ...(nova.server ? [nova.server] : [])];
      return json(res, 200, { servers: all.filter((x) => name.test(String(x.name))).map((x) => ({ id: x.id, name: x.name })) });
    }
    if ((r = /^\/compute\/v2\.1\/servers\/([^/]+)$/.exec(path)) && nova.others.some((x) => x.id === r![1])) {
      const other = nova.others.find((x) => x.id === r![1])!;
      if (m === 'DELETE') {
        nova.others.splice(nova.others.indexOf(other), 1);
        return json(res, 204);
      }
      return json(res, 200, { server: other });
    }
    if ((r = /^\/compute\/v2\.1\/servers\/([^/]+)(?:\/os-instance-actions(?:\/([^/]+))?)?$/.exec(path))) {
      const known = nova.server && nova.server.id === r[1];
      if (!known) return json(res, 404, { itemNotFound: { code: 404, message: `Instance ${r[1]} could not be found.` } });
      if (path.includes('os-instance-actions')) {
        if (r[2]) {
          const a = nova.actions.find((x) => x.request_id === r![2]);
          return a ? json(res, 200, { instanceAction: a }) : json(res, 404, {});
        }
        return json(res, 200, { instanceActions: nova.actions.map(({ events: _e, ...a }) => a) });
      }
      if (m === 'GET') {
        if (nova.getServerStatus === 500) return json(res, 500, { computeFault: { code: 500, message: 'Unexpected API Error.' } });
        return json(res, 200, { server: nova.server });
      }
      if (m === 'DELETE') {
        nova.server = undefined;
        return json(res, 204);
      }
    }
    if (path === '/compute/v2.1/os-hypervisors/detail' && m === 'GET') {
      const withServers = q.get('with_servers') === 'true';
      return json(res, 200, {
        hypervisors: [
          { id: 'hv-1', hypervisor_hostname: 'fake-mini', state: 'up', status: 'enabled', running_vms: nova.hypervisorServers.length,
            ...(withServers && nova.hypervisorServers.length ? { servers: nova.hypervisorServers } : {}) },
        ],
      });
    }
    if (path === '/placement/resource_providers' && m === 'GET') {
      return json(res, 200, { resource_providers: nova.providers.map((p) => ({ uuid: p.uuid, name: p.name, generation: 1 })) });
    }
    if ((r = /^\/placement\/resource_providers\/([^/]+)\/inventories$/.exec(path)) && m === 'GET') {
      const p = nova.providers.find((x) => x.uuid === r![1]);
      return p ? json(res, 200, { inventories: p.inventories, resource_provider_generation: 1 }) : json(res, 404, { errors: [{ status: 404 }] });
    }
    if ((r = /^\/placement\/allocations\/([^/]+)$/.exec(path)) && m === 'GET') {
      return json(res, 200, nova.server && nova.server.id === r[1] ? { allocations: nova.allocations } : { allocations: {} });
    }
    return json(res, 404, { error: `no fake for ${m} ${path}` });
  };
  srv.fallback(routeAll);
  cloud.forward = routeAll;
  return cloud;
}

export { ADMIN_PASSWORD };
