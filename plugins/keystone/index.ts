// Keystone: identity, the catalog every other service registers in, and the admin/demo users.

import { readPackageList } from '../../lib/packages.ts';
import { sh } from '../../lib/shell.ts';
import { StackError } from '../../lib/errors.ts';
import { type LinkCheck, type ServicePlugin, type StackContext } from '../../lib/plugin.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { stopPlugin } from '../../lib/stop-plugin.ts';
import {
  ensureProject,
  ensureRole,
  ensureRoleAssignment,
  ensureUser,
  authenticate,
  type Session,
} from '../../lib/openstack/keystone.ts';
import { ApiError, request } from '../../lib/openstack/http.ts';
import {
  KEYSTONE_PORT,
  adminSession,
  cleanService,
  dbSync,
  dbPasswordFile,
  dbUrl,
  ensureDatabases,
  keystoneUrl,
  logTail,
  renderIni,
  startService,
  dbPasswordPath,
  uwsgiArgv,
  uwsgiIni,
} from '../common/openstack.ts';

const CONF = '/etc/keystone/keystone.conf';
const LOG = '/var/log/keystone/keystone.log';
const UWSGI_INI = '/etc/keystone/keystone-uwsgi-stack.ini';

const daemon = (ctx: StackContext): DaemonSpec => ({
  name: 'keystone',
  argv: uwsgiArgv(ctx, UWSGI_INI, KEYSTONE_PORT, '/var/log/keystone/keystone-uwsgi.log'),
  // uwsgi drops to keystone:keystone itself (uid/gid in Debian's ini); it must start as root to bind.
  logFile: '/var/log/keystone/keystone-uwsgi.log',
  runtimeDirs: [{ path: '/run/keystone', owner: 'keystone:keystone' }],
  link: `every service and client -> Keystone (the identity API at ${keystoneUrl(ctx)})`,
  ownLog: LOG,
});

/** Which plugin's service each catalog type is. */
const SERVICE_OF_TYPE: Readonly<Record<string, string>> = { identity: 'keystone', image: 'glance', placement: 'placement', compute: 'nova', network: 'neutron' };

const hostOf = (url: string): string => {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
};

/**
 * Keystone's links: it issues the admin a token, and each service's endpoints in its catalog are
 * on the host the address table puts that service (the ones stack.ts registered).
 */
function keystoneLinks(ctx: StackContext): LinkCheck[] {
  // A token of its own: a cached one may carry a catalog from before the last registration.
  let fresh: Promise<Session> | undefined;
  const session = (): Promise<Session> =>
    (fresh ??= authenticate({ authUrl: `${keystoneUrl(ctx)}/v3`, username: 'admin', password: ctx.config.settings.ADMIN_PASSWORD, projectName: 'admin', timeoutMs: 10_000 }));
  const catalogLinks = (Object.entries(ctx.endpoints.url) as [string, string][]).map(
    ([type, expected]): LinkCheck => ({
      service: SERVICE_OF_TYPE[type] ?? type,
      link: `clients and services -> ${SERVICE_OF_TYPE[type] ?? type} (its ${type} endpoints in Keystone's catalog)`,
      hint: `Every endpoint is built from the address table (./stack.ts plan prints it); ./stack.ts sets the catalog back to it.`,
      check: async () => {
        const s = await session();
        for (const entry of s.catalog.filter((e) => e.type === type)) {
          const wrong = entry.endpoints.find((ep) => hostOf(ep.url) !== hostOf(expected));
          if (wrong) return `has its ${wrong.interface} endpoint at ${wrong.url} in the catalog, but the address table puts ${type} on ${hostOf(expected)} (${expected})`;
        }
        return undefined;
      },
    }),
  );
  return [
    {
      service: 'keystone',
      link: `every service and client -> Keystone (the admin's login at ${keystoneUrl(ctx)}/v3)`,
      log: LOG,
      hint: 'The admin password in Keystone no longer matches ADMIN_PASSWORD; ./stack.ts re-runs bootstrap, which resets it.',
      check: async () => {
        try {
          await authenticate({ authUrl: `${keystoneUrl(ctx)}/v3`, username: 'admin', password: ctx.config.settings.ADMIN_PASSWORD, projectName: 'admin', timeoutMs: 10_000 });
          return undefined;
        } catch (err) {
          if (err instanceof ApiError && err.status === 401) return 'refuses the admin login (HTTP 401)';
          throw err;
        }
      },
    },
    ...catalogLinks,
  ];
}

/** keystone-manage reads the bootstrap password from its environment; feed it through stdin so no argv shows it. */
/** An API that answers at all (version list 300, 401 without a token) is reachable; 5xx is not. */
const ANSWERS = Array.from({ length: 400 }, (_, i) => 100 + i);

export const withPasswordFromStdin = (envName: string, command: string): string =>
  // && and the -n test: an empty or missing password must stop here, not bootstrap an admin without one.
  `IFS= read -r ${envName} && [ -n "$${envName}" ] || { echo '${envName}: no password arrived on stdin' >&2; exit 1; }\nexport ${envName}\nexec ${command}`;

const plugin: ServicePlugin = {
  name: 'keystone',
  services: ['key'],
  needs: ['mariadb', 'memcached'],
  after: { init: ['mariadb/register'], start: ['memcached/start'], register: [] },

  packages: async (ctx) => readPackageList('keystone', ctx.facts.family),

  async configFiles(ctx) {
    return [
      dbPasswordFile(ctx, 'keystone'),
      await uwsgiIni(ctx, '/etc/keystone/keystone-uwsgi.ini', UWSGI_INI),
      await renderIni(
        ctx,
        { path: CONF, packaged: '/usr/share/keystone/keystone.conf', variable: 'KEYSTONE_CONF', owner: 'keystone:keystone' },
        {
          database: { connection: dbUrl(ctx, 'keystone', 'keystone') },
          token: { provider: 'fernet' },
          cache: { enabled: true, backend: 'dogpile.cache.memcached', memcache_servers: ctx.endpoints.memcacheServers },
        },
      ),
    ];
  },

  async init(ctx) {
    await ensureDatabases(ctx, 'keystone', ['keystone']);
    await dbSync(ctx, { user: 'keystone', command: 'keystone-manage db_sync', databases: ['keystone'], label: 'keystone-manage db_sync', logFile: LOG });
    for (const step of ['fernet_setup', 'credential_setup']) {
      await ctx.host.run(sh('keystone-manage', step, '--keystone-user', 'keystone', '--keystone-group', 'keystone'));
    }
    const url = `${keystoneUrl(ctx)}/v3/`;
    // bootstrap is idempotent: it creates what is missing and resets the admin password to ours.
    await ctx.host.run(
      withPasswordFromStdin(
        'OS_BOOTSTRAP_PASSWORD',
        sh(
          'keystone-manage',
          'bootstrap',
          '--bootstrap-admin-url',
          url,
          '--bootstrap-internal-url',
          url,
          '--bootstrap-public-url',
          url,
          '--bootstrap-region-id',
          ctx.config.settings.REGION_NAME,
        ),
      ),
      { secret: ctx.config.settings.ADMIN_PASSWORD, label: 'keystone-manage bootstrap (password on stdin)' },
    );
  },

  async start(ctx) {
    await startService(ctx, daemon(ctx), [CONF, UWSGI_INI, dbPasswordPath('keystone')], `${keystoneUrl(ctx)}/v3`);
  },

  async register(ctx) {
    const s = await adminSession(ctx);
    const demo = ctx.config.settings.DEMO_PROJECT;
    await ensureProject(s, 'service', 'default', 'Service users of the cloud');
    const demoProject = await ensureProject(s, demo, 'default', 'Demo project made by stack.ts');
    const member = await ensureRole(s, 'member');
    await ensureRole(s, 'reader');
    const demoUser = await ensureUser(s, { name: demo, password: ctx.config.settings.ADMIN_PASSWORD, projectId: demoProject });
    await ensureRoleAssignment(s, { userId: demoUser, projectId: demoProject, roleId: member });
  },

  links: async (ctx) => keystoneLinks(ctx),

  async verify(ctx) {
    const settings = ctx.config.settings;
    const auth = `${keystoneUrl(ctx)}/v3`;
    for (const [user, project] of [
      ['admin', 'admin'],
      [settings.DEMO_PROJECT, settings.DEMO_PROJECT],
    ] as const) {
      try {
        await authenticate({ authUrl: auth, username: user, password: settings.ADMIN_PASSWORD, projectName: project });
      } catch (err) {
        throw new StackError(`Keystone refused a token for ${user} in project ${project} at ${auth}: ${(err as Error).message}`,
          'The admin password in Keystone no longer matches ADMIN_PASSWORD; `./stack.ts` again re-runs bootstrap, which resets it.',
          { file: LOG, lines: await logTail(ctx, LOG) });
      }
    }
    // Every endpoint in the catalog must answer on its URL: seed 001's admin endpoint pointed at another host.
    const s = await adminSession(ctx);
    for (const entry of s.catalog) {
      for (const ep of entry.endpoints) {
        try {
          await request('GET', ep.url, { timeoutMs: 10_000, expect: ANSWERS });
        } catch (err) {
          throw new StackError(
            `The ${ep.interface} endpoint of ${entry.type} (${entry.name}) does not answer at ${ep.url}: ${(err as Error).message}`,
            'Every endpoint is built from the address table (`./stack.ts plan` prints it); check the service is running (`./stack.ts status`) and that its address is this host\'s.',
          );
        }
      }
    }
  },

  daemons: (ctx) => [daemon(ctx)],

  async clean(ctx) {
    await stopPlugin(ctx, plugin);
    await cleanService(ctx, {
      databases: ['keystone'],
      dbUser: 'keystone',
      configs: [{ path: CONF, packaged: '/usr/share/keystone/keystone.conf' }],
      paths: ['/etc/keystone/fernet-keys', '/etc/keystone/credential-keys', UWSGI_INI, LOG, daemon(ctx).logFile!],
    });
  },
};

export default plugin;
