// Keystone: identity, the catalog every other service registers in, and the admin/demo users.

import { sh } from '../../lib/shell.ts';
import { partSkipped } from '../../lib/step-notes.ts';
import { StackError } from '../../lib/errors.ts';
import type { LinkCheck, StackContext } from '../../lib/plugin.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import {
  ensureProject,
  ensureRole,
  ensureRoleAssignment,
  ensureUserWithPassword,
  authenticate,
  SESSION_TIMEOUT_MS,
  type Session,
} from '../../lib/openstack/keystone.ts';
import { ApiError, request } from '../../lib/openstack/http.ts';
import { adminSession, loginProven, markLoginProven, startService } from '../../lib/service/lifecycle.ts';
import { dbUrl, keystoneUrl, renderIni, dbPasswordPath, uwsgiArgv, uwsgiIni } from '../../lib/service/config.ts';
import { apiServicePlugin, type ApiServiceDescriptor } from '../../lib/service/descriptor.ts';
import { apiPort } from '../../lib/api-services.ts';
import { logTail } from '../../lib/log-tail.ts';

const KEYSTONE_CONF = { path: '/etc/keystone/keystone.conf', packaged: '/usr/share/keystone/keystone.conf', variable: 'KEYSTONE_CONF', owner: 'keystone:keystone' };
const CONF = KEYSTONE_CONF.path;
const LOG = '/var/log/keystone/keystone.log';
const UWSGI_INI = '/etc/keystone/keystone-uwsgi-stack.ini';
const UWSGI_LOG = '/var/log/keystone/keystone-uwsgi.log';

const daemon = (ctx: StackContext): DaemonSpec => ({
  name: 'keystone',
  // Two processes at least: every login is a bcrypt check (~0.2 s of CPU), and every service and
  // every register and verify step logs in here; with one worker they queued behind each other.
  argv: uwsgiArgv(ctx, UWSGI_INI, apiPort('identity'), UWSGI_LOG, [], 2),
  // uwsgi drops to keystone:keystone itself (uid/gid in Debian's ini); it must start as root to bind.
  logFile: UWSGI_LOG,
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
          // The catalog checks' own login: one bcrypt check on Keystone's worker for both.
          await session();
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

const KEY_REPOSITORIES = ['fernet', 'credential'] as const;

/**
 * Makes each key repository that lacks a primary key (0 missing, empty or not keystone's): what
 * fernet_setup and credential_setup make, a 0700 directory with keys 0 (staged) and 1 (primary),
 * each 32 random bytes in URL-safe base64, 0600 and keystone's. Written by the shell instead of
 * keystone-manage: each of those is a Python start of ~1.5 s of CPU on a first run, and the keys
 * never leave the host. Keys already there are kept (a new one would void every token) and given
 * back to keystone.
 */
export function keyRepositoriesScript(): string {
  return KEY_REPOSITORIES.map((r) => {
    const dir = `/etc/keystone/${r}-keys`;
    const key = (i: number) => sh(`${dir}/${i}`);
    const fresh = (i: number) =>
      `[ -s ${key(i)} ] || { (umask 077; head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\\n' > ${key(i)}.new) && mv ${key(i)}.new ${key(i)}; } || exit $?`;
    return [
      `if [ -s ${key(0)} ] && [ "$(stat -c %U ${key(0)})" = keystone ]; then :; else`,
      `  install -d -o keystone -g keystone -m 0700 ${sh(dir)} || exit $?`,
      `  ${fresh(0)}`,
      `  ${fresh(1)}`,
      `  chown keystone:keystone ${key(0)} ${key(1)} && chmod 0600 ${key(0)} ${key(1)} || exit $?`,
      'fi',
    ].join('\n');
  }).join('\n');
}

/**
 * Why bootstrap has nothing to do, or undefined when it must run: the admin logs in with
 * ADMIN_PASSWORD to project admin, and the catalog's identity service has its public, internal
 * and admin endpoints at `url` in the region. Any doubt (Keystone not up yet, a refused password,
 * an endpoint elsewhere) runs bootstrap, which repairs each of them.
 */
export function bootstrapHolds(catalog: Session['catalog'], url: string, region: string): string | undefined {
  const want = url.replace(/\/+$/, '');
  const identity = catalog.filter((c) => c.type === 'identity').flatMap((c) => c.endpoints);
  const missing = (['public', 'internal', 'admin'] as const).filter(
    (iface) => !identity.some((e) => e.interface === iface && e.url.replace(/\/+$/, '') === want && (e.region_id ?? e.region) === region),
  );
  return missing.length ? undefined : `the admin logs in and the identity endpoints are at ${want} in ${region}`;
}

async function bootstrapInPlace(ctx: StackContext, url: string): Promise<string | undefined> {
  try {
    const s = await authenticate({ authUrl: url, username: 'admin', password: ctx.config.settings.ADMIN_PASSWORD, projectName: 'admin', timeoutMs: 5_000 });
    const holds = bootstrapHolds(s.catalog, url, ctx.config.settings.REGION_NAME);
    // The run's admin session from here on (register would log in again): with the requests' usual timeout.
    if (holds) ctx.cloud.adminSession ??= { ...s, timeoutMs: SESSION_TIMEOUT_MS };
    return holds;
  } catch {
    return undefined;
  }
}

export const KEYSTONE: ApiServiceDescriptor = {
  name: 'keystone',
  services: ['key'],
  needs: ['mariadb', 'memcached'],
  after: { init: ['mariadb/register'], start: ['memcached/start'], register: [] },
  apis: ['identity'],
  log: LOG,
  configs: [KEYSTONE_CONF],
  databases: ['keystone'],
  dbSyncs: [{ label: 'keystone-manage db_sync', command: 'keystone-manage db_sync', databases: ['keystone'] }],
  // No service user and no catalog entry of its own to register: bootstrap makes both (init).
  leaves: () => ['/etc/keystone/fernet-keys', '/etc/keystone/credential-keys', UWSGI_INI, LOG, UWSGI_LOG],
};

export default apiServicePlugin(KEYSTONE, {
  async configFiles(ctx) {
    return [
      await uwsgiIni(ctx, '/etc/keystone/keystone-uwsgi.ini', UWSGI_INI),
      await renderIni(ctx, KEYSTONE_CONF, {
        database: { connection: dbUrl(ctx, 'keystone', 'keystone') },
        token: { provider: 'fernet' },
        // Every login (the services' own, stack.ts's) is a bcrypt check: at Keystone's 12 rounds ~0.2 s of
        // CPU each, ~30 of them on a first run. A stored hash keeps its own cost until the password is set again.
        identity: { password_hash_algorithm: 'bcrypt', password_hash_rounds: ctx.config.settings.KEYSTONE_PASSWORD_HASH_ROUNDS },
        cache: { enabled: true, backend: 'dogpile.cache.memcached', memcache_servers: ctx.endpoints.memcacheServers },
      }),
    ];
  },

  // After its db sync.
  async init(ctx) {
    // One shell for both key repositories: a re-run whose keys are in place starts no Python at all.
    await ctx.host.run(keyRepositoriesScript(), { label: 'Keystone\'s fernet and credential keys where they are missing' });
    const url = `${keystoneUrl(ctx)}/v3/`;
    const inPlace = await bootstrapInPlace(ctx, url);
    if (inPlace) {
      ctx.log.info(`keystone-manage bootstrap skipped: ${inPlace}`);
      partSkipped('bootstrap: the admin logs in, the identity endpoints are in place');
      return;
    }
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
    const demoUser = await ensureUserWithPassword(s, { name: demo, password: ctx.config.settings.ADMIN_PASSWORD, projectId: demoProject });
    if (demoUser.accepted) markLoginProven(ctx, demo, ctx.config.settings.ADMIN_PASSWORD);
    await ensureRoleAssignment(s, { userId: demoUser.id, projectId: demoProject, roleId: member });
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
        // A login this run already had Keystone take (the admin's session, the demo user's check in
        // register) is not asked again: each is a bcrypt check on Keystone's one worker.
        if (user === 'admin') await adminSession(ctx);
        else if (!loginProven(ctx, user, settings.ADMIN_PASSWORD)) await authenticate({ authUrl: auth, username: user, password: settings.ADMIN_PASSWORD, projectName: project });
      } catch (err) {
        throw new StackError(`Keystone refused a token for ${user} in project ${project} at ${auth}: ${(err as Error).message}`,
          'The admin password in Keystone no longer matches ADMIN_PASSWORD; `./stack.ts` again re-runs bootstrap, which resets it.',
          { file: LOG, lines: await logTail(ctx, LOG) });
      }
    }
    // Every endpoint in the catalog must answer on its URL: seed 001's admin endpoint pointed at another host.
    // Asked at once; the first failure in catalog order is the one reported.
    const s = await adminSession(ctx);
    const endpoints = s.catalog.flatMap((entry) => entry.endpoints.map((ep) => ({ entry, ep })));
    const answers = endpoints.map(({ ep }) => request('GET', ep.url, { timeoutMs: 10_000, expect: ANSWERS }).then(
      (res) => void res.stream.resume(),
      (err: unknown) => err as Error,
    ));
    for (const [i, { entry, ep }] of endpoints.entries()) {
      const err = await answers[i];
      if (err) {
        throw new StackError(
          `The ${ep.interface} endpoint of ${entry.type} (${entry.name}) does not answer at ${ep.url}: ${err.message}`,
          'Every endpoint is built from the address table (`./stack.ts plan` prints it); check the service is running (`./stack.ts status`) and that its address is this host\'s.',
        );
      }
    }
  },

  daemons: (ctx) => [daemon(ctx)],
});
