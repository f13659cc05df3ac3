// Nova's control plane: nova-api (uWSGI), nova-conductor, nova-scheduler, the three databases and
// cells v2. The compute service is its own plugin (nova-compute) so a compute-only host needs no DB.

import { FLAVORS } from '../../lib/flavors.ts';
import { apiPort } from '../../lib/api-services.ts';
import { converge, packageVersion } from '../../lib/converge.ts';
import { withAdminDb } from '../../lib/db-admin.ts';
import type { Db } from '../../lib/db.ts';
import { randomUUID } from 'node:crypto';
import { sh } from '../../lib/shell.ts';
import { StackError } from '../../lib/errors.ts';
import { FAST_POLL_MS } from '../../lib/wait.ts';
import type { StackContext } from '../../lib/plugin.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { ensureFlavors, listComputeServices, listImagesViaNova } from '../../lib/openstack/nova.ts';
import { daemonStatus } from '../../lib/daemon.ts';
import { authtoken, dbUrl, renderIni, serviceAuth, dbPasswordPath, uwsgiArgv, osloDaemon, osloRuntimeDirs } from '../../lib/service/config.ts';
import { adminSession, startService } from '../../lib/service/lifecycle.ts';
import { apiServicePlugin, type ApiServiceDescriptor } from '../../lib/service/descriptor.ts';
import { logTail } from '../../lib/log-tail.ts';
import { downReason, isBack, noteRestart, restartedWith } from './reports.ts';
import { releaseAtLeast } from '../../lib/release.ts';

const epoxy = (ctx: StackContext): boolean => releaseAtLeast(ctx.release, 'epoxy');

export const NOVA_PORT = apiPort('compute');
export const METADATA_PORT = apiPort('metadata');
const CONF = { path: '/etc/nova/nova.conf', packaged: '/usr/share/nova-common/nova.conf', variable: 'NOVA_CONF', owner: 'nova:nova' };
export const NOVA_CONF = CONF.path;
const API_LOG = '/var/log/nova/nova-api.log';
export const NOVA_DATABASES = ['nova_api', 'nova', 'nova_cell0'] as const;

export const novaUrl = (ctx: StackContext): string => ctx.endpoints.url.compute;

const runtimeDirs = osloRuntimeDirs('nova');

const apiDaemon = (ctx: StackContext): DaemonSpec => ({
  name: 'nova-api',
  argv: uwsgiArgv(ctx, '/etc/nova/nova-api-uwsgi.ini', NOVA_PORT, '/var/log/nova/nova-api-uwsgi.log'),
  logFile: '/var/log/nova/nova-api-uwsgi.log',
  runtimeDirs,
  link: `clients -> nova-api (the compute API at ${novaUrl(ctx)})`,
  ownLog: API_LOG,
});

/** The metadata API runs beside nova-api when the cloud has OVN metadata agents to serve. */
export const hasMetadata = (ctx: StackContext): boolean => ctx.topology.services.has('q-ovn-metadata-agent');

const metadataDaemon = (ctx: StackContext): DaemonSpec => ({
  name: 'nova-api-metadata',
  argv: uwsgiArgv(ctx, '/etc/nova/nova-api-metadata-uwsgi.ini', METADATA_PORT, '/var/log/nova/nova-api-metadata-uwsgi.log'),
  logFile: '/var/log/nova/nova-api-metadata-uwsgi.log',
  runtimeDirs,
  link: `the OVN metadata agents -> nova-api-metadata (${ctx.endpoints.url.metadata}, guests' 169.254.169.254)`,
  ownLog: '/var/log/nova/nova-api-metadata-uwsgi.log',
});

const plainDaemon = (name: 'nova-conductor' | 'nova-scheduler'): DaemonSpec =>
  osloDaemon('nova', {
    name,
    configFiles: [NOVA_CONF],
    link: name === 'nova-conductor' ? 'nova-api and nova-compute -> nova-conductor (over RabbitMQ)' : 'nova-conductor -> nova-scheduler (over RabbitMQ)',
  });

/**
 * Epoxy deprecates both for removal: keystone is the only auth strategy left, and Nova finds Glance
 * in the catalog (the endpoints registered from the address table) by region.
 */
function authAndImageLink(ctx: StackContext): Record<string, Record<string, string>> {
  if (epoxy(ctx)) return { glance: { region_name: ctx.config.settings.REGION_NAME, valid_interfaces: 'internal' } };
  // One explicit URL from the address table: the Nova->Glance link is the one that broke in seed 000.
  return { api: { auth_strategy: 'keystone' }, glance: { api_servers: ctx.endpoints.url.image } };
}

/** Options nova.conf and nova-compute.conf share: messaging, identity, the image and placement links. */
export function novaCommon(ctx: StackContext) {
  const s = ctx.config.settings;
  return {
    DEFAULT: {
      transport_url: ctx.endpoints.transportUrl,
      my_ip: ctx.endpoints.hosts.get(ctx.host.name)?.myIp ?? ctx.address,
      state_path: '/var/lib/nova',
    },
    ...authAndImageLink(ctx),
    keystone_authtoken: authtoken(ctx, 'nova', s.NOVA_PASSWORD),
    service_user: { send_service_user_token: true, ...serviceAuth(ctx, 'nova', s.NOVA_PASSWORD) },
    placement: serviceAuth(ctx, 'placement', s.PLACEMENT_PASSWORD),
    oslo_concurrency: { lock_path: '/var/lib/nova/tmp' },
    vnc: { enabled: false },
    // Only with neutron-server: Nova asks it for a server's ports and security groups.
    ...(ctx.config.services.has('q-svc')
      ? {
          neutron: {
            ...serviceAuth(ctx, 'neutron', s.NEUTRON_PASSWORD),
            // Guests' metadata requests come through the OVN metadata agents, signed with the shared secret.
            service_metadata_proxy: hasMetadata(ctx),
            ...(hasMetadata(ctx) ? { metadata_proxy_shared_secret: s.METADATA_PROXY_SHARED_SECRET } : {}),
          },
        }
      : {}),
  };
}

/**
 * conductor and scheduler report "up" in os-services once they run. A daemon that died while
 * starting would otherwise show up only later, as a compute host that never reports.
 */
async function waitForServices(ctx: StackContext): Promise<void> {
  const s = await adminSession(ctx);
  const wanted = (['n-cond', 'n-sch'] as const).filter((n) => ctx.config.services.has(n)).map((n) => (n === 'n-cond' ? 'nova-conductor' : 'nova-scheduler'));
  const deadline = Date.now() + ctx.config.settings.SERVICE_TIMEOUT * 1000;
  for (;;) {
    const up = new Set((await listComputeServices(s)).filter((x) => isBack(x, restartedWith(ctx, x.binary))).map((x) => x.binary));
    const missing = wanted.filter((b) => !up.has(b));
    if (!missing.length) return;
    const dead: string[] = [];
    for (const b of missing) {
      if (!(await daemonStatus(ctx.host, ctx.facts, plainDaemon(b as 'nova-conductor'), ctx.config.settings.STACK_STATE_DIR)).running) dead.push(b);
    }
    if (dead.length || Date.now() > deadline) {
      const b = (dead[0] ?? missing[0])!;
      const spec = plainDaemon(b as 'nova-conductor');
      throw new StackError(
        dead.length ? `${dead.join(' and ')} exited after it was started on ${ctx.host.name}.` : `${missing.join(' and ')} never reported to Nova as up and enabled${missing.some((b) => restartedWith(ctx, b)) ? ' after its restart' : ''} (waited ${ctx.config.settings.SERVICE_TIMEOUT} s).`,
        `Fix what its output says and run stack.ts again; ${b} also logs to /var/log/nova/${b}.log.`,
        { file: spec.logFile!, lines: await logTail(ctx, spec.logFile) },
      );
    }
    await new Promise((r) => setTimeout(r, FAST_POLL_MS));
  }
}

const manage = (args: string): string => `nova-manage --config-file ${NOVA_CONF} ${args}`;

/** [database] pointed at cell0's database: its db sync runs with --local_cell beside the others. */
const CELL0_CONF = { path: '/etc/nova/stack-cell0.conf', owner: 'nova:nova' };
export const CELL0_UUID = '00000000-0000-0000-0000-000000000000';

interface CellMapping {
  readonly name: string;
  readonly transport_url: string;
  readonly database_connection: string;
}

/**
 * The two cells of a one-cell cloud, as map_cell0 and create_cell would map them: cell0 (where
 * builds that found no host are kept; no broker) and cell1, where the servers run.
 */
export const wantedCells = (ctx: StackContext): CellMapping[] => [
  { name: 'cell0', transport_url: 'none:///', database_connection: dbUrl(ctx, 'nova', 'nova_cell0') },
  { name: 'cell1', transport_url: ctx.endpoints.transportUrl, database_connection: dbUrl(ctx, 'nova', 'nova') },
];

/**
 * The cell mappings, written to nova_api.cell_mappings as map_cell0 and create_cell write them: those
 * are two Python starts (~4 s after the API database's sync on a first run), and they never
 * update a mapping whose broker or database URL has changed since; a row that differs is updated.
 */
export async function cells(ctx: StackContext): Promise<void> {
  const wanted = wantedCells(ctx);
  const read = (db: Db) => db.query<CellMapping>('SELECT name, transport_url, database_connection FROM nova_api.cell_mappings ORDER BY name');
  await converge(ctx, {
    key: 'nova cells',
    inputs: [wanted, await packageVersion(ctx, 'python3-nova')],
    observe: () => withAdminDb(ctx, read),
    run: () =>
      withAdminDb(ctx, async (db) => {
        const have = await read(db);
        for (const want of wanted) {
          const row = have.find((r) => r.name === want.name);
          if (!row) {
            await db.query(
              'INSERT INTO nova_api.cell_mappings (uuid, name, transport_url, database_connection, disabled, created_at) VALUES (?, ?, ?, ?, 0, UTC_TIMESTAMP())',
              [want.name === 'cell0' ? CELL0_UUID : randomUUID(), want.name, want.transport_url, want.database_connection],
            );
          } else if (row.transport_url !== want.transport_url || row.database_connection !== want.database_connection) {
            await db.query('UPDATE nova_api.cell_mappings SET transport_url = ?, database_connection = ?, updated_at = UTC_TIMESTAMP() WHERE name = ?', [
              want.transport_url,
              want.database_connection,
              want.name,
            ]);
          }
        }
      }),
  });
}

export const NOVA: ApiServiceDescriptor = {
  name: 'nova',
  services: ['n-api', 'n-cond', 'n-sch'],
  needs: ['keystone', 'rabbitmq', 'placement', 'glance', 'neutron'],
  // nova-conductor builds its Placement client as it starts (Zed: a token for [placement]'s user,
  // the endpoint from the catalog): before placement's register it exits with HTTP 401 (seen when
  // nova's packages came first and its init finished before placement was installed).
  after: { init: ['mariadb/register'], start: ['rabbitmq/register', 'placement/register'], register: ['keystone/register'] },
  apis: ['compute', 'metadata'],
  log: API_LOG,
  configs: [CONF, CELL0_CONF],
  databases: NOVA_DATABASES,
  // The three databases are migrated at once (a sync's Python start and alembic take 5-7 s each on
  // a first run): --local_cell migrates the [database] of its config files only, not every mapped cell.
  dbSyncs: [
    { label: 'nova-manage api_db sync', command: manage('api_db sync'), databases: ['nova_api'] },
    { label: 'nova-manage db sync', command: manage('db sync --local_cell'), databases: ['nova'], after: [] },
    {
      label: 'nova-manage db sync (cell0)',
      command: `nova-manage --config-file ${NOVA_CONF} --config-file ${CELL0_CONF.path} db sync --local_cell`,
      databases: ['nova_cell0'],
      after: [],
    },
  ],
  keystone: { password: 'NOVA_PASSWORD', type: 'compute', description: 'OpenStack Compute', probe: 'servers' },
  leaves: () => ['/var/lib/nova/tmp', '/var/lib/nova/instances', API_LOG, ...['nova-api-uwsgi', 'nova-api-metadata-uwsgi', 'nova-conductor', 'nova-scheduler'].flatMap((n) => [`/var/log/nova/${n}.log`, `/var/log/nova/${n}.out`])],
};

export default apiServicePlugin(NOVA, (derived) => ({
  async configFiles(ctx) {
    const s = ctx.config.settings;
    const common = novaCommon(ctx);
    return [
      await renderIni(ctx, CONF, {
        ...common,
        DEFAULT: { ...common.DEFAULT, enabled_apis: 'osapi_compute', osapi_compute_workers: s.API_WORKERS },
        api_database: { connection: dbUrl(ctx, 'nova', 'nova_api') },
        database: { connection: dbUrl(ctx, 'nova', 'nova') },
        conductor: { workers: s.API_WORKERS },
        scheduler: { workers: s.API_WORKERS, discover_hosts_in_cells_interval: -1 },
      }),
      await renderIni(ctx, CELL0_CONF, { database: { connection: dbUrl(ctx, 'nova', 'nova_cell0') } }),
    ];
  },

  // After the three db syncs (cell mappings need only the API database's, and take a moment).
  init: cells,

  async configure(ctx) {
    await ctx.host.run(sh('install', '-d', '-o', 'nova', '-g', 'nova', '-m', '0750', '/var/lib/nova/tmp'));
  },

  async start(ctx) {
    const enabled = ctx.config.services;
    const files = [NOVA_CONF, dbPasswordPath('nova')];
    const because = ctx.cloud.brokerRestartReason();
    // The four daemons are independent of each other: started (or found running) at once.
    const plain = ([['n-cond', 'nova-conductor'], ['n-sch', 'nova-scheduler']] as const)
      .filter(([service]) => enabled.has(service))
      .map(async ([, binary]) => {
        const running = (await daemonStatus(ctx.host, ctx.facts, plainDaemon(binary), ctx.config.settings.STACK_STATE_DIR)).running;
        const why = because ?? (running && enabled.has('n-api') ? await downReason(ctx, binary) : undefined);
        return (await startService(ctx, plainDaemon(binary), files, undefined, why)) !== 'running' ? binary : undefined;
      });
    const apis = [
      ...(enabled.has('n-api') ? [startService(ctx, apiDaemon(ctx), files, `${novaUrl(ctx)}/`, because)] : []),
      ...(enabled.has('n-api') && hasMetadata(ctx) ? [startService(ctx, metadataDaemon(ctx), files, `${ctx.endpoints.url.metadata}/`, because)] : []),
    ];
    const [restarted] = await Promise.all([Promise.all(plain), Promise.all(apis)]);
    // register waits until they report from their new processes (see ./reports.ts); it needs nova-api.
    if (enabled.has('n-api')) for (const b of restarted) if (b) await noteRestart(ctx, b);
  },

  // After its service, user and endpoints are in Keystone.
  async register(ctx) {
    if (ctx.config.services.has('n-api')) {
      await waitForServices(ctx);
      const s = await adminSession(ctx);
      await ensureFlavors(s, FLAVORS);
    }
  },

  // Its API's links: only where nova-api runs.
  links: async (ctx) => (ctx.config.services.has('n-api') ? derived.links!(ctx) : []),

  async verify(ctx) {
    if (!ctx.config.services.has('n-api')) return;
    // Nova -> Glance: the link whose failure was a bare HTTP 500 in seed 000, explained only in nova-api's log.
    const s = await adminSession(ctx);
    try {
      await listImagesViaNova(s);
    } catch (err) {
      throw new StackError(
        `Nova cannot list images through Glance (GET ${novaUrl(ctx)}/images, compute 2.35): ${(err as Error).message}`,
        `Nova reaches Glance at ${ctx.endpoints.url.image} (${epoxy(ctx) ? 'the internal image endpoint of the catalog' : `[glance] api_servers in ${NOVA_CONF}`}); the nova-api log below says why it failed.`,
        { file: API_LOG, lines: await logTail(ctx, API_LOG) },
      );
    }
  },

  daemons: (ctx) => [plainDaemon('nova-conductor'), plainDaemon('nova-scheduler'), apiDaemon(ctx), ...(hasMetadata(ctx) ? [metadataDaemon(ctx)] : [])],
}));
