// What every OpenStack API service plugin shares: its config file rendered from the packaged one,
// its [keystone_authtoken], its database, a db_sync whose outcome is checked, and its daemon.
// Kept here so keystone/glance/placement/nova differ only in their own options.

import { apiPort } from '../../lib/api-services.ts';
import { IniDoc } from '../../lib/ini.ts';
import { dbConnectionUrl, pymysqlOptionFile } from '../../lib/escape.ts';
import { sh } from '../../lib/shell.ts';
import { StackError } from '../../lib/errors.ts';
import { type ConfigFile, type LinkCheck, type StackContext } from '../../lib/plugin.ts';
import { SCHEMA, type SettingName } from '../../lib/config/schema.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { startOrRestart } from '../../lib/restart.ts';
import { waitForHttp } from '../../lib/wait.ts';
import { logTail } from '../../lib/log-tail.ts';
import { withAdminDb, ensureServiceDatabase, dropServiceDatabases } from '../../lib/db-admin.ts';
import { leftBehind } from '../../lib/clean.ts';
import { converge, packageVersion } from '../../lib/converge.ts';
import { linesSince } from '../../lib/log-cause.ts';
import { daemonStatus } from '../../lib/daemon.ts';
import { authenticate, call, ensureEndpoint, ensureRole, ensureRoleAssignment, ensureService, ensureServiceUser, type Session } from '../../lib/openstack/keystone.ts';
import { releaseAtLeast } from '../../lib/release.ts';
import { ApiError, joinUrl } from '../../lib/openstack/http.ts';

export type IniValues = Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>;

export const KEYSTONE_PORT = apiPort('identity');

/** Where this host's APIs listen: its bind address in the address table. */
export const bindAddress = (ctx: StackContext): string => ctx.endpoints.hosts.get(ctx.host.name)?.bind ?? ctx.address;
export const urlHost = (h: string): string => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);
export const keystoneUrl = (ctx: StackContext): string => ctx.endpoints.url.identity;

/**
 * A config file as the plugin wants it: the host's current file (or, before the first stack, the
 * copy the package ships) with our values set. Starting from the packaged file keeps its comments,
 * so a user diffing /etc/glance/glance-api.conf sees only what stack.ts changed.
 */
export async function renderIni(
  ctx: StackContext,
  file: { path: string; packaged?: string; variable?: string; owner?: string; mode?: number },
  values: IniValues,
): Promise<ConfigFile> {
  const current =
    (await ctx.host.readFileIfExists(file.path)) ?? (file.packaged ? await ctx.host.readFileIfExists(file.packaged) : null) ?? '';
  const doc = IniDoc.parse(current, { dialect: 'oslo' });
  for (const [section, kv] of Object.entries(values)) {
    for (const [key, value] of Object.entries(kv)) doc.set(section, key, String(value));
  }
  return { path: file.path, variable: file.variable, content: doc.toString(), mode: file.mode ?? 0o640, owner: file.owner };
}

/** [keystone_authtoken] for a service user; URLs and memcached from the address table. */
export function authtoken(ctx: StackContext, username: string, password: string): Record<string, string> {
  return {
    www_authenticate_uri: `${keystoneUrl(ctx)}/`,
    auth_url: `${keystoneUrl(ctx)}/`,
    memcached_servers: ctx.endpoints.memcacheServers,
    auth_type: 'password',
    project_domain_name: 'Default',
    user_domain_name: 'Default',
    project_name: 'service',
    username,
    password,
    region_name: ctx.config.settings.REGION_NAME,
    // Tokens in memcached are encrypted and signed: another local user on 11211 can neither read nor forge them.
    memcache_security_strategy: 'ENCRYPT',
    memcache_secret_key: ctx.config.settings.MEMCACHE_SECRET_KEY,
    // Epoxy's keystonemiddleware calls accepting a service token without the service role deprecated
    // behaviour; registerService gives every service user that role, so it is required from there on.
    ...(releaseAtLeast(ctx.release, 'epoxy') ? { service_token_roles_required: 'true' } : {}),
  };
}

/** keystoneauth options for a service-to-service client section ([placement], [service_user], ...). */
export function serviceAuth(ctx: StackContext, username: string, password: string): Record<string, string> {
  return {
    auth_type: 'password',
    auth_url: `${keystoneUrl(ctx)}/v3`,
    project_domain_name: 'Default',
    user_domain_name: 'Default',
    project_name: 'service',
    username,
    password,
    region_name: ctx.config.settings.REGION_NAME,
  };
}

/** Where a service's database password lives: beside its config, readable by its group only. */
export const dbPasswordPath = (service: string): string => `/etc/${service}/stack-db.cnf`;

/**
 * The [database] connection for a service. The password is not in the URL but in the option file
 * dbPasswordFile() writes: URL-encoding puts '%' in it, and alembic's ConfigParser rejects that.
 */
export const dbUrl = (ctx: StackContext, service: string, database: string): string =>
  dbConnectionUrl({ user: service, host: ctx.endpoints.database.host, database, query: { read_default_file: dbPasswordPath(service) } });

/**
 * A service's own database password: never the database root's, so a service's stack-db.cnf
 * (readable by its group) opens only its own databases.
 */
export function dbPassword(ctx: StackContext, service: string): string {
  const name = `${service.toUpperCase()}_DB_PASSWORD`;
  if (!Object.hasOwn(SCHEMA, name) || SCHEMA[name as SettingName].type !== 'secret') {
    throw new StackError(`no database password setting ${name} for ${service}`, 'this is a bug in stack.ts: add the setting to lib/config/schema.ts');
  }
  return String(ctx.config.settings[name as SettingName]);
}

export const dbPasswordFile = (ctx: StackContext, service: string): ConfigFile => ({
  path: dbPasswordPath(service),
  content: pymysqlOptionFile(dbPassword(ctx, service)),
  mode: 0o640,
  owner: `root:${service}`,
});

/** Create the service's databases and its DB user (grants limited to the hosts that need them). */
export async function ensureDatabases(ctx: StackContext, user: string, databases: readonly string[]): Promise<void> {
  await ensureServiceDatabase(ctx, { databases: [...databases], user, password: dbPassword(ctx, user) });
}

/**
 * Run a schema migration as the service's own user (so its log files are not root-owned) and then
 * check the outcome: seed 001's db_sync exited 0, printed one harmless-looking line and made no tables.
 */
/**
 * A db sync whose schema is already where this package version puts it is not run again: the
 * stamp holds the command, the package version and the schema it left (tables, migration
 * version); a dropped table or a sync killed halfway leaves another schema, and it runs.
 */
export async function dbSync(
  ctx: StackContext,
  step: { user: string; command: string; databases: readonly string[]; label: string; logFile?: string },
): Promise<void> {
  await converge(ctx, {
    key: step.label,
    inputs: [step.command, step.databases, ctx.config.settings.DATABASE_HOST, await packageVersion(ctx, `python3-${step.user}`)],
    observe: () => schemaState(ctx, step.databases),
    run: () => runDbSync(ctx, step),
  });
}

/** Tables and migration versions of the databases: what a db sync leaves. */
export async function schemaState(ctx: StackContext, databases: readonly string[]): Promise<unknown> {
  return withAdminDb(ctx, async (db) => {
    const out: Record<string, unknown> = {};
    for (const name of databases) {
      const tables = await db.tables(name);
      const versions: string[] = [];
      for (const t of ['alembic_version', 'migrate_version']) {
        if (!tables.includes(t)) continue;
        const rows = await db.query<Record<string, unknown>>(`SELECT * FROM \`${name}\`.\`${t}\``);
        versions.push(...rows.map((r) => JSON.stringify(r)).sort());
      }
      out[name] = { tables, versions };
    }
    return out;
  });
}

async function runDbSync(
  ctx: StackContext,
  step: { user: string; command: string; databases: readonly string[]; label: string; logFile?: string },
): Promise<void> {
  const run = await ctx.host.run(sh('su', '-s', '/bin/sh', '-c', step.command, step.user), {
    check: false,
    timeoutMs: ctx.config.settings.COMMAND_TIMEOUT * 1000,
  });
  if (run.exitCode !== 0) {
    // The command's own output is often only shutdown noise; the cause is in the service's log.
    const output = ctx.log.mask((run.stderr || run.stdout).trim().split('\n').slice(-8).join('\n'));
    throw new StackError(
      `${step.label} failed on ${ctx.host.name} (exit ${run.exitCode}): ${step.command}${output ? `\n${output}` : ''}`,
      `A wrong [database] connection, a database that refuses the user, or an unreadable ${dbPasswordPath(step.user)} are the usual causes.`,
      step.logFile ? { file: step.logFile, lines: await logTail(ctx, step.logFile) } : undefined,
    );
  }
  await withAdminDb(ctx, async (db) => {
    for (const name of step.databases) {
      const n = await db.tableCount(name);
      if (n === 0) {
        throw new StackError(
          `${step.label} exited 0 but database "${name}" on ${ctx.endpoints.database.host} has no tables.`,
          `The migration did nothing: check the [database] connection in the service's config and the output below.`,
          { file: step.logFile ?? 'output', lines: ctx.log.mask((run.stdout + '\n' + run.stderr).trim().split('\n').slice(-20).join('\n')) },
        );
      }
    }
  });
}

/**
 * Start a daemon, or restart it when the files it reads changed since it started (a re-run with a
 * new password must not leave the old one in a running process), and, for an API, wait until it
 * really answers over HTTP (not just an open port).
 */
export async function startService(
  ctx: StackContext,
  spec: DaemonSpec,
  configFiles: readonly string[],
  url?: string,
  restartBecause?: string,
): Promise<'started' | 'restarted' | 'running'> {
  const since = new Date(Date.now() - 5000);
  const { action, markStarted } = await startOrRestart(ctx, spec, configFiles, restartBecause);
  if (url) {
    const stateDir = ctx.config.settings.STACK_STATE_DIR;
    await waitForHttp(url, {
      name: spec.name,
      timeoutMs: ctx.config.settings.SERVICE_TIMEOUT * 1000,
      // This start's lines only: an older failure at the end of the log would mislead.
      onTimeout: async () => linesSince(await logTail(ctx, spec.logFile, 200), since).split('\n').slice(-40).join('\n'),
      ...(spec.logFile ? { logFile: spec.logFile } : {}),
      alive: async () => (await daemonStatus(ctx.host, ctx.facts, spec, stateDir)).running,
    });
  }
  await markStarted();
  return action;
}


/**
 * A Python daemon of an OpenStack service run as the service's user, the way its packages lay it
 * out: /run/<service> and /var/lock/<service> made before each start, /var/lib/<service> as its
 * working directory, its output in /var/log/<service>/<name>.out beside its own log.
 */
export function osloDaemon(service: string, spec: { name: string; argv: readonly string[]; ownLog: string; link: string }): DaemonSpec {
  return {
    ...spec,
    user: service,
    group: service,
    logFile: `/var/log/${service}/${spec.name}.out`,
    runtimeDirs: [
      { path: `/run/${service}`, owner: `${service}:${service}` },
      { path: `/var/lock/${service}`, owner: `${service}:${service}` },
    ],
    workDir: `/var/lib/${service}`,
  };
}

/** The last lines of a service log on the host, masked: what explains a failure (seed 000's lesson). */
export { logTail };

/**
 * uWSGI apps (keystone, placement, nova-api) from Debian's ini, with our bind address and worker
 * counts. Its own log goes to logFile (flags after --ini override the ini's logto), so a start
 * failure's log tail is the one that explains it.
 */
export function uwsgiArgv(ctx: StackContext, ini: string, port: number, logFile: string, extra: readonly string[] = []): string[] {
  const bind = `${urlHost(bindAddress(ctx))}:${port}`;
  return [
    '/usr/bin/uwsgi_python3',
    '--ini',
    ini,
    '--http-socket',
    bind,
    '--processes',
    String(ctx.config.settings.API_WORKERS),
    // Several threads per worker gave wrong role assignments in keystone under load; scale by processes.
    '--threads',
    '1',
    // Debian's ini files don't all send it; without it clients that reuse connections fail after a 204.
    '--add-header',
    'Connection: close',
    '--logto',
    logFile,
    ...extra,
  ];
}

/** An admin token for the register and verify phases, shared by every plugin of the run. */
export async function adminSession(ctx: StackContext): Promise<Session> {
  const cached = ctx.cloud.adminSession;
  if (cached && cached.expiresAt.getTime() - Date.now() > 60_000) return cached;
  const session = await authenticate({
    authUrl: `${keystoneUrl(ctx)}/v3`,
    username: 'admin',
    password: ctx.config.settings.ADMIN_PASSWORD,
    projectName: 'admin',
  });
  ctx.cloud.adminSession = session;
  return session;
}


/** The context of the host that runs the cloud's MariaDB; this one where no host of the topology does. */
function databaseContext(ctx: StackContext): StackContext {
  try {
    return ctx.on('mysql');
  } catch {
    return ctx;
  }
}

/**
 * What `clean` removes for an API service: its databases and DB user, its config files put back to
 * the packaged copies (the package still owns them), and the data and logs stack.ts made.
 */
export async function cleanService(
  ctx: StackContext,
  what: { databases: readonly string[]; dbUser?: string; configs?: readonly { path: string; packaged?: string }[]; paths?: readonly string[] },
): Promise<void> {
  if (what.databases.length || what.dbUser) {
    try {
      // On the host that runs MariaDB: a controller's own host has none (its drops found nothing
      // there and left the databases behind), or has the package for another purpose (the drop
      // started a MariaDB there and left it running).
      for (const l of await dropServiceDatabases(databaseContext(ctx), what.databases, what.dbUser)) leftBehind(ctx, l);
    } catch (err) {
      const what2 = [...what.databases, ...(what.dbUser ? [`user ${what.dbUser}`] : [])].join(', ');
      leftBehind(ctx, `databases ${what2}: ${ctx.log.mask((err as Error).message.split('\n')[0] ?? '')}`);
    }
  }
  for (const c of what.configs ?? []) {
    const cmd = c.packaged
      ? `if [ -f ${sh(c.packaged)} ]; then cp ${sh(c.packaged)} ${sh(c.path)} && cmp -s ${sh(c.packaged)} ${sh(c.path)}; else rm -f ${sh(c.path)}; fi`
      : sh('rm', '-f', c.path);
    const r = await ctx.host.run(cmd, { check: false });
    if (r.exitCode !== 0) leftBehind(ctx, `${c.path} (not put back: ${r.stderr.trim() || `exit ${r.exitCode}`})`);
  }
  const paths = [...(what.paths ?? []), ...(what.dbUser ? [dbPasswordPath(what.dbUser)] : [])];
  if (paths.length) {
    await ctx.host.run(sh('rm', '-rf', '--', ...paths), { check: false });
    for (const p of paths) if (await ctx.host.exists(p)) leftBehind(ctx, `${p} (could not be removed)`);
  }
}

/** Register a service user (admin and service in project service), the service and its three endpoints (URLs from the address table). */
export async function registerService(
  ctx: StackContext,
  svc: { user: string; password: string; name: string; type: string; description: string; url: string },
): Promise<void> {
  const s = await adminSession(ctx);
  const user = await ensureServiceUser(s, { name: svc.user, password: svc.password });
  // The tokens a service sends along with a user's (X-Service-Token) must carry the service role.
  await ensureRoleAssignment(s, { userId: user.userId, projectId: user.projectId, roleId: await ensureRole(s, 'service') });
  const serviceId = await ensureService(s, { name: svc.name, type: svc.type, description: svc.description });
  for (const iface of ['public', 'internal', 'admin'] as const) {
    await ensureEndpoint(s, { serviceId, interface: iface, url: svc.url, regionId: ctx.config.settings.REGION_NAME });
  }
  // A token's catalog is fixed when it is issued: the next caller needs one that lists this service.
  ctx.cloud.adminSession = undefined;
}

/**
 * A copy of a packaged uWSGI ini that this host can run. Debian's keystone ini loads uWSGI's
 * apparmor plugin and switches to the "keystone" profile; where AppArmor is off or that profile is
 * not loaded (containers, most test hosts) uWSGI exits at once with aa_change_profile(): Invalid
 * argument. Then the copy leaves both lines out; where the profile is loaded it keeps them.
 */
export async function uwsgiIni(ctx: StackContext, packaged: string, path: string): Promise<ConfigFile> {
  const doc = IniDoc.parse((await ctx.host.readFileIfExists(packaged)) ?? '', { dialect: 'plain' });
  const profile = doc.get('uwsgi', 'apparmor-profile');
  if (profile) {
    const loaded = await ctx.host.run(
      `grep -qx Y /sys/module/apparmor/parameters/enabled 2>/dev/null && grep -q ${sh(`^${profile} `)} /sys/kernel/security/apparmor/profiles 2>/dev/null`,
      { check: false, label: `is the AppArmor profile ${profile} loaded` },
    );
    if (loaded.exitCode !== 0) {
      const plugins = (doc.get('uwsgi', 'plugins') ?? '').split(',').map((p) => p.trim()).filter((p) => p && p !== 'apparmor');
      doc.set('uwsgi', 'plugins', plugins.join(','));
      doc.delete('uwsgi', 'apparmor-profile');
    }
  }
  return { path, content: doc.toString(), mode: 0o644 };
}

/**
 * The links an API service depends on besides its daemon, for verify: Keystone accepts its
 * service user's password, and its databases still have their tables. Each check first sends the
 * service one admin request, so that its own log holds the lines that explain a failure.
 */
export function serviceLinks(
  ctx: StackContext,
  svc: { name: string; user: string; password: string; type: string; databases: readonly string[]; log: string; probe: string },
): LinkCheck[] {
  // Its answer does not matter (the checks below decide); what it logs does.
  const provoke = async (): Promise<void> => {
    try {
      const s = await adminSession(ctx);
      await call(s, 'GET', joinUrl(s.endpointFor(svc.type, 'internal'), svc.probe), { timeoutMs: 10_000 });
    } catch {
      // the check that follows names what is wrong
    }
  };
  return [
    {
      service: svc.name,
      link: `${svc.name} -> Keystone (its service user ${svc.user}, [keystone_authtoken] and the service clients in its config)`,
      log: svc.log,
      hint: `Keystone's password for ${svc.user} differs from the one in ${svc.name}'s config; ./stack.ts sets it back.`,
      check: async () => {
        await provoke();
        try {
          await authenticate({ authUrl: `${keystoneUrl(ctx)}/v3`, username: svc.user, password: svc.password, projectName: 'service', timeoutMs: 10_000 });
          return undefined;
        } catch (err) {
          if (err instanceof ApiError && err.status === 401) return `cannot log in to Keystone: Keystone rejects user ${svc.user}'s password (HTTP 401)`;
          throw err;
        }
      },
    },
    ...svc.databases.map(
      (database): LinkCheck => ({
        service: svc.name,
        link: `${svc.name} -> MariaDB (its database ${database} at ${ctx.endpoints.database.host})`,
        log: svc.log,
        hint: `The database was emptied or dropped; ./stack.ts creates it and re-runs ${svc.name}'s db sync (data that was in it is lost).`,
        check: async () => {
          await provoke();
          const n = await withAdminDb(ctx, (db) => db.tableCount(database));
          return n === 0 ? `has an empty database: ${database} has no tables` : undefined;
        },
      }),
    ),
  ];
}
