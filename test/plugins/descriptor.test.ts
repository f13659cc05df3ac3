// The lifecycle a service descriptor derives (lib/service/descriptor.ts), on recording hosts, a
// recording fake of the admin database and a recording fake of Keystone's client calls: init
// makes the databases and runs the db syncs in their declared order, register makes the service
// user, the service and its endpoints, clean drops the databases and puts the config files back.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as realDb from '../../lib/db.ts';
import type { Db } from '../../lib/db.ts';
import type { ServicePlugin } from '../../lib/plugin.ts';
import { apiServicePlugin, descriptorOf, infraPlugin, type ApiServiceDescriptor } from '../../lib/service/descriptor.ts';
import { dbPasswordPath } from '../../lib/service/config.ts';
import { PLUGINS } from '../../plugins/index.ts';
import { CELL0_UUID, NOVA, cells, wantedCells } from '../../plugins/nova/index.ts';
import rabbitmq from '../../plugins/rabbitmq/index.ts';
import { DEBIAN_SYSV, RecordingHost, makeContext } from '../fixtures/recording-host.ts';

vi.mock('../../lib/db.ts', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../lib/db.ts')>();
  return { ...orig, openDb: vi.fn(orig.openDb) };
});

/** Every call to Keystone's client, in order, as "function argument". */
const keystoneCalls: string[] = [];
vi.mock('../../lib/openstack/keystone.ts', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../lib/openstack/keystone.ts')>();
  const record = (name: string, result: (arg: unknown) => unknown) =>
    vi.fn(async (...args: unknown[]) => {
      // The session is the first argument of every call but authenticate.
      const arg = name === 'authenticate' ? args[0] : args[1];
      keystoneCalls.push(`${name} ${JSON.stringify(arg)}`);
      return result(arg);
    });
  return {
    ...orig,
    authenticate: record('authenticate', () => ({ token: 't', expiresAt: new Date(Date.now() + 3_600_000), catalog: [], endpointFor: () => 'http://x' })),
    ensureServiceUser: record('ensureServiceUser', () => ({ userId: 'u1', projectId: 'p1', roleId: 'r0', passwordAccepted: true })),
    ensureRole: record('ensureRole', (name) => `role-${String(name)}`),
    ensureRoleAssignment: record('ensureRoleAssignment', () => undefined),
    ensureService: record('ensureService', () => 's1'),
    ensureEndpoint: record('ensureEndpoint', () => 'created'),
    ensureProject: record('ensureProject', (name) => `project-${String(name)}`),
    ensureUser: record('ensureUser', () => 'u2'),
    ensureUserWithPassword: record('ensureUserWithPassword', () => ({ id: 'u2', accepted: true })),
  };
});

/** The admin database: records what is asked of it; every database has tables. */
function fakeDb(events: string[]): Db {
  return {
    ensureDatabase: async (name) => (events.push(`database ${name}`), 'created'),
    ensureUser: async (user, host, _pw, on) => void events.push(`db user ${user}@${host} on ${on.join(',')}`),
    tableCount: async () => 3,
    tables: async () => ['t'],
    dropDatabase: async () => undefined,
    dropUser: async () => undefined,
    query: async <T>() => [] as T[],
    close: async () => undefined,
  };
}

const apiPlugins = PLUGINS.filter((p) => {
  const d = descriptorOf(p);
  return d && 'apis' in d;
});
const descriptor = (p: ServicePlugin): ApiServiceDescriptor => descriptorOf(p) as ApiServiceDescriptor;

beforeEach(() => {
  keystoneCalls.length = 0;
});

describe('a descriptor-made plugin: init', () => {
  it("makes its databases and DB user, then runs Nova's three db syncs at once, then what is particular to the plugin", async () => {
    const events: string[] = [];
    vi.mocked(realDb.openDb).mockImplementation(async () => fakeDb(events));
    const host = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/^su -s \/bin\/sh -c /, (command) => (events.push(`run ${command}`), {}));
    const nova = apiServicePlugin(NOVA, { init: async () => void events.push('particular init') });
    await nova.init!(makeContext(host, DEBIAN_SYSV));
    expect(events.filter((e) => e.startsWith('database'))).toEqual(['database nova_api', 'database nova', 'database nova_cell0']);
    expect(events.findIndex((e) => e.startsWith('db user nova@'))).toBeLessThan(events.findIndex((e) => e.startsWith('run ')));
    const runs = events.filter((e) => /^(run|particular)/.test(e));
    expect(runs.slice(0, 3).sort()).toEqual([
      "run su -s /bin/sh -c 'nova-manage --config-file /etc/nova/nova.conf --config-file /etc/nova/stack-cell0.conf db sync --local_cell' nova",
      "run su -s /bin/sh -c 'nova-manage --config-file /etc/nova/nova.conf api_db sync' nova",
      "run su -s /bin/sh -c 'nova-manage --config-file /etc/nova/nova.conf db sync --local_cell' nova",
    ]);
    expect(runs[3]).toBe('particular init');
    expect(events.find((e) => e.startsWith('db user nova@'))).toContain('on nova_api,nova,nova_cell0');
  });

  it('db syncs wait for the one declared before them, or for what `after` names ([] = at once); a failed one stops those after it only', async () => {
    const events: string[] = [];
    vi.mocked(realDb.openDb).mockImplementation(async () => fakeDb(events));
    const sync = (label: string, after?: string[], slow = false) => ({
      label,
      command: `svc-manage ${label}`,
      databases: ['glance'],
      ...(after ? { after } : {}),
      before: async () => {
        events.push(`before ${label}`);
        if (slow) await new Promise((r) => setTimeout(r, 30));
      },
    });
    const d: ApiServiceDescriptor = { ...NOVA, name: 'glance', databases: ['glance'], dbSyncs: [sync('a', undefined, true), sync('b', []), sync('c'), sync('d', ['a', 'c'])] };
    const ok = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/^su -s \/bin\/sh -c /, (command) => (events.push(`run ${/svc-manage (\w)/.exec(command)![1]}`), {}));
    await apiServicePlugin(d).init!(makeContext(ok, DEBIAN_SYSV));
    const at = (e: string) => events.indexOf(e);
    // b starts beside a (a waits 30 ms in its before), c after b, d after both a and c.
    expect(at('before b')).toBeLessThan(at('run a'));
    expect(at('run b')).toBeLessThan(at('before c'));
    expect(at('before d')).toBeGreaterThan(Math.max(at('run a'), at('run c')));

    events.length = 0;
    const failing = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/^su -s \/bin\/sh -c /, (command) => {
      const label = /svc-manage (\w)/.exec(command)![1]!;
      events.push(`run ${label}`);
      return label === 'b' ? { exitCode: 1, stderr: 'b broke' } : {};
    });
    await expect(apiServicePlugin(d).init!(makeContext(failing, DEBIAN_SYSV))).rejects.toThrow(/^b failed on h1 \(exit 1\): svc-manage b\nb broke/);
    // a ran to its end; c and d, which wait for b, never started.
    expect(events.filter((e) => /^(run|before)/.test(e)).sort()).toEqual(['before a', 'before b', 'run a', 'run b']);
  });

  it("nova's cell mappings: cell0 and cell1 written to nova_api as map_cell0 and create_cell would, a missing one added, a changed one updated", async () => {
    const ctx = () => makeContext(new RecordingHost({ facts: DEBIAN_SYSV }), DEBIAN_SYSV);
    const [cell0, cell1] = wantedCells(ctx());
    expect(cell0).toMatchObject({ name: 'cell0', transport_url: 'none:///' });
    expect(cell0!.database_connection).toMatch(/^mysql\+pymysql:\/\/nova@[^/]+\/nova_cell0\?/);
    expect(cell1!.database_connection).toMatch(/^mysql\+pymysql:\/\/nova@[^/]+\/nova\?/);
    expect(cell1!.transport_url).toMatch(/^rabbit:\/\//);
    for (const [have, want] of [
      [[], [`INSERT cell0 ${CELL0_UUID}`, 'INSERT cell1 uuid']],
      [[cell0], ['INSERT cell1 uuid']],
      [[cell0, { ...cell1, transport_url: 'rabbit://old:pw@10.0.0.9:5672/' }], ['UPDATE cell1']],
      [[cell0, cell1], []],
    ] as const) {
      const writes: string[] = [];
      vi.mocked(realDb.openDb).mockImplementation(async () => ({
        ...fakeDb([]),
        query: async <T>(sql: string, params: unknown[] = []) => {
          if (/^SELECT name, transport_url, database_connection FROM nova_api\.cell_mappings/.test(sql)) return [...have] as T[];
          if (sql.startsWith('INSERT')) {
            // The values go as parameters (the broker URL holds a password), never in the statement.
            expect(sql).not.toContain('rabbit');
            const [uuid, name, transport, db] = params as string[];
            expect({ name, transport_url: transport, database_connection: db }).toEqual(name === 'cell0' ? cell0 : cell1);
            writes.push(`INSERT ${name} ${name === 'cell0' ? uuid : /^[0-9a-f-]{36}$/.test(uuid!) ? 'uuid' : uuid}`);
          } else if (sql.startsWith('UPDATE')) {
            expect(params).toEqual([cell1!.transport_url, cell1!.database_connection, 'cell1']);
            writes.push(`UPDATE ${String(params[2])}`);
          }
          return [] as T[];
        },
      }));
      await cells(ctx());
      expect(writes.sort(), JSON.stringify(have.map((h) => h!.name))).toEqual([...want]);
    }
  });

  it('every db sync migrates only databases its service declares', () => {
    for (const p of apiPlugins) {
      const d = descriptor(p);
      for (const s of d.dbSyncs) for (const db of s.databases) expect(d.databases, `${d.name}: ${s.label}`).toContain(db);
      expect(new Set(d.dbSyncs.flatMap((s) => s.databases)), d.name).toEqual(new Set(d.databases));
    }
  });
});

describe('a descriptor-made plugin: register', () => {
  for (const name of ['glance', 'placement', 'neutron', 'nova']) {
    it(`${name}: its service user with the service role, its service and its three endpoints at the address table's URL`, async () => {
      const p = apiPlugins.find((x) => x.name === name)!;
      const d = descriptor(p);
      // Without nova-api nova's own register part (waiting for its services, flavors) has nothing to do.
      const ctx = makeContext(new RecordingHost({ facts: DEBIAN_SYSV }), DEBIAN_SYSV, { [d.keystone!.password]: `${name}-pw` }, { services: name === 'nova' ? ['n-cond'] : [...d.services] });
      await p.register!(ctx);
      const url = ctx.endpoints.url[d.keystone!.type];
      expect(url).toMatch(/^http:\/\//);
      expect(keystoneCalls.slice(1)).toEqual([
        `ensureServiceUser ${JSON.stringify({ name, password: `${name}-pw` })}`,
        'ensureRole "service"',
        `ensureRoleAssignment ${JSON.stringify({ userId: 'u1', projectId: 'p1', roleId: 'role-service' })}`,
        `ensureService ${JSON.stringify({ name, type: d.keystone!.type, description: d.keystone!.description })}`,
        ...(['public', 'internal', 'admin'] as const).map((iface) => `ensureEndpoint ${JSON.stringify({ serviceId: 's1', interface: iface, url, regionId: 'RegionOne' })}`),
      ]);
      expect(keystoneCalls[0]).toMatch(/^authenticate .*"username":"admin"/);
      // The next caller gets a token whose catalog lists the new service.
      expect(ctx.cloud.adminSession).toBeUndefined();
    });
  }

  it('keystone registers no service of its own (bootstrap made it): only its projects, roles and demo user', async () => {
    const p = apiPlugins.find((x) => x.name === 'keystone')!;
    expect(descriptor(p).keystone).toBeUndefined();
    await p.register!(makeContext(new RecordingHost({ facts: DEBIAN_SYSV }), DEBIAN_SYSV));
    expect(keystoneCalls.some((c) => /^ensure(Service|Endpoint|ServiceUser) /.test(c))).toBe(false);
    expect(keystoneCalls.some((c) => c.startsWith('ensureProject "service"'))).toBe(true);
  });
});

describe('a descriptor-made plugin: clean', () => {
  for (const p of apiPlugins) {
    const d = descriptor(p);
    it(`${d.name}: stops its daemons, drops its databases and DB user, puts its config files back and removes what it made`, async () => {
      const host = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/command -v mariadb/, { stdout: '/usr/bin/mariadb' });
      const ctx = makeContext(host, DEBIAN_SYSV);
      await p.clean!(ctx);
      const lines = host.commands.map((c) => `${c.command}\n${c.input ?? ''}`);
      const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
      // Its daemons first (the last started first), then the databases.
      const daemons = p.daemons!(ctx);
      const firstStop = at(new RegExp(`run/${daemons[daemons.length - 1]!.name}\\.pid`));
      expect(firstStop, 'stop').toBeGreaterThanOrEqual(0);
      for (const db of d.databases) expect(at(new RegExp(`DROP DATABASE IF EXISTS \`${db}\``)), db).toBeGreaterThan(firstStop);
      // Its DB user's accounts are looked up to be dropped (this fake database has none left).
      expect(at(new RegExp(`SELECT host FROM mysql\\.user WHERE user = '${d.name}'`))).toBeGreaterThan(firstStop);
      // Each config file of this release back to the packaged copy.
      for (const c of d.configs.filter((c) => c.when?.(ctx) ?? true)) {
        // One with no packaged copy (nova's stack-cell0.conf) is stack.ts's own: removed.
        const back = c.packaged ? `if [ -f ${c.packaged} ]; then cp ${c.packaged} ${c.path} && cmp -s ${c.packaged} ${c.path}; else rm -f ${c.path}; fi` : `rm -f ${c.path}`;
        expect(host.commandLines, c.path).toContain(back);
      }
      // What it made, and its DB password file.
      expect(host.commandLines).toContain(`rm -rf -- ${[...d.leaves(ctx), dbPasswordPath(d.name)].join(' ')}`);
      expect(ctx.cloud.leftBehind).toEqual([]);
    });
  }
});

describe('a descriptor-made plugin: config files', () => {
  it('the DB password file comes first, readable by the service group only', async () => {
    for (const p of apiPlugins) {
      const ctx = makeContext(new RecordingHost({ facts: DEBIAN_SYSV }), DEBIAN_SYSV);
      const [first] = await p.configFiles!(ctx);
      expect(first, p.name).toMatchObject({ path: `/etc/${p.name}/stack-db.cnf`, owner: `root:${p.name}`, mode: 0o640 });
    }
  });

  it("a file is rendered from the packaged copy before the first stack unless declared otherwise (neutron's: from the host's own)", async () => {
    const packaged = '[DEFAULT]\nfrom_packaged = yes\n';
    for (const p of apiPlugins) {
      const d = descriptor(p);
      const files = Object.fromEntries(d.configs.filter((c) => c.packaged).map((c) => [c.packaged!, packaged]));
      const ctx = makeContext(new RecordingHost({ facts: DEBIAN_SYSV, files }), DEBIAN_SYSV);
      const rendered = await p.configFiles!(ctx);
      for (const c of d.configs.filter((c) => c.packaged && (c.when?.(ctx) ?? true))) {
        const file = rendered.find((f) => f.path === c.path);
        expect(file, c.path).toBeDefined();
        expect(file!.content.includes('from_packaged = yes'), c.path).toBe(c.renderFromPackaged !== false);
      }
    }
  });
});

describe('an infrastructure plugin', () => {
  it("runs its own preflight checks (settings) before the ports' check", async () => {
    const host = new RecordingHost({ facts: DEBIAN_SYSV });
    await expect(rabbitmq.preflight!(makeContext(host, DEBIAN_SYSV, { RABBIT_USERID: 'guest' }))).rejects.toThrow(/guest/);
    expect(host.commandLines).not.toContain('ss -Hltnp');
  });

  it('needs nothing and waits for nothing; its packages are its own list', async () => {
    const p = infraPlugin({ name: 'memcached', services: ['memcache'], ports: [{ port: 11211, service: 'memcache' }] }, {});
    expect([p.needs, p.after]).toEqual([[], { init: [], start: [], register: [] }]);
    expect(await p.packages(makeContext(new RecordingHost({ facts: DEBIAN_SYSV }), DEBIAN_SYSV))).toContain('memcached');
    const host = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/^ss -Hltnp$/, { stdout: 'LISTEN 0 128 127.0.0.1:11211 0.0.0.0:* users:(("memcached",pid=7,fd=3))\n' });
    await expect(p.preflight!(makeContext(host, DEBIAN_SYSV))).resolves.toBeUndefined();
  });
});
