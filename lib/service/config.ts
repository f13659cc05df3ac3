// What an OpenStack API service's config files hold: its file rendered from the packaged one, the
// Keystone options of its users (one block: keystonemiddleware's [keystone_authtoken] and the
// service-to-service clients'), its database URL and password file, and how its daemons run.

import { IniDoc } from '../ini.ts';
import { dbConnectionUrl, pymysqlOptionFile } from '../escape.ts';
import { sh } from '../shell.ts';
import { StackError } from '../errors.ts';
import type { ConfigFile, StackContext } from '../plugin.ts';
import { SCHEMA, type SettingName } from '../config/schema.ts';
import type { DaemonSpec } from '../daemon.ts';
import { urlHost } from '../endpoints.ts';
import { releaseAtLeast } from '../release.ts';

export type IniValues = Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>>;

/** Where this host's APIs listen: its bind address in the address table. */
export const bindAddress = (ctx: StackContext): string => ctx.endpoints.hosts.get(ctx.host.name)?.bind ?? ctx.address;
export const keystoneUrl = (ctx: StackContext): string => ctx.endpoints.url.identity;

/**
 * A config file as the plugin wants it: the host's current file (or, before the first stack, the
 * copy the package ships) with our values set. Starting from the packaged file keeps its comments,
 * so a user diffing /etc/glance/glance-api.conf sees only what stack.ts changed.
 */
export async function renderIni(
  ctx: StackContext,
  file: { path: string; packaged?: string; renderFromPackaged?: false; variable?: string; owner?: string; mode?: number },
  values: IniValues,
): Promise<ConfigFile> {
  const packaged = file.renderFromPackaged === false ? undefined : file.packaged;
  const current = (await ctx.host.readFileIfExists(file.path)) ?? (packaged ? await ctx.host.readFileIfExists(packaged) : null) ?? '';
  const doc = IniDoc.parse(current, { dialect: 'oslo' });
  for (const [section, kv] of Object.entries(values)) {
    for (const [key, value] of Object.entries(kv)) doc.set(section, key, String(value));
  }
  return { path: file.path, variable: file.variable, content: doc.toString(), mode: file.mode ?? 0o640, owner: file.owner };
}


/**
 * The Keystone options of a service user, one block for both of its uses: keystonemiddleware's
 * [keystone_authtoken] (tokens checked against Keystone, cached in memcached) and a keystoneauth
 * client section ([placement], [service_user], [nova], ...) for calls to another service.
 * URLs and memcached from the address table.
 */
export function keystoneAuth(ctx: StackContext, use: 'authtoken' | 'client', username: string, password: string): Record<string, string> {
  const keystone = keystoneUrl(ctx);
  const token = use === 'authtoken';
  return {
    ...(token ? { www_authenticate_uri: `${keystone}/`, auth_url: `${keystone}/`, memcached_servers: ctx.endpoints.memcacheServers } : {}),
    auth_type: 'password',
    ...(token ? {} : { auth_url: `${keystone}/v3` }),
    project_domain_name: 'Default',
    user_domain_name: 'Default',
    project_name: 'service',
    username,
    password,
    region_name: ctx.config.settings.REGION_NAME,
    ...(token
      ? {
          // Tokens in memcached are encrypted and signed: another local user on 11211 can neither read nor forge them.
          memcache_security_strategy: 'ENCRYPT',
          memcache_secret_key: ctx.config.settings.MEMCACHE_SECRET_KEY,
          // Epoxy's keystonemiddleware calls accepting a service token without the service role deprecated
          // behaviour; registerService gives every service user that role, so it is required from there on.
          ...(releaseAtLeast(ctx.release, 'epoxy') ? { service_token_roles_required: 'true' } : {}),
        }
      : {}),
  };
}

/** [keystone_authtoken] for a service user. */
export const authtoken = (ctx: StackContext, username: string, password: string): Record<string, string> => keystoneAuth(ctx, 'authtoken', username, password);
/** keystoneauth options for a service-to-service client section ([placement], [service_user], ...). */
export const serviceAuth = (ctx: StackContext, username: string, password: string): Record<string, string> => keystoneAuth(ctx, 'client', username, password);

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

/** What an OpenStack service's daemons need made before each start: /run/<service> and /var/lock/<service>. */
export const osloRuntimeDirs = (service: string): { path: string; owner: string }[] => [
  { path: `/run/${service}`, owner: `${service}:${service}` },
  { path: `/var/lock/${service}`, owner: `${service}:${service}` },
];

/**
 * A Python daemon of an OpenStack service run as the service's user, the way its packages lay it
 * out: /usr/bin/<name> with its config files, its own log /var/log/<service>/<name>.log, its output
 * in <name>.out beside it, its runtime directories made before each start, /var/lib/<service> as
 * its working directory.
 */
export function osloDaemon(service: string, spec: { name: string; configFiles: readonly string[]; link: string }): DaemonSpec {
  const ownLog = `/var/log/${service}/${spec.name}.log`;
  return {
    name: spec.name,
    argv: [`/usr/bin/${spec.name}`, ...spec.configFiles.flatMap((f) => ['--config-file', f]), '--log-file', ownLog],
    link: spec.link,
    ownLog,
    user: service,
    group: service,
    logFile: `/var/log/${service}/${spec.name}.out`,
    runtimeDirs: osloRuntimeDirs(service),
    workDir: `/var/lib/${service}`,
  };
}

/**
 * uWSGI apps (keystone, placement, nova-api) from Debian's ini, with our bind address and worker
 * counts. Its own log goes to logFile (flags after --ini override the ini's logto), so a start
 * failure's log tail is the one that explains it.
 */
export function uwsgiArgv(ctx: StackContext, ini: string, port: number, logFile: string, extra: readonly string[] = [], minProcesses = 1): string[] {
  const bind = `${urlHost(bindAddress(ctx))}:${port}`;
  return [
    '/usr/bin/uwsgi_python3',
    '--ini',
    ini,
    '--http-socket',
    bind,
    '--processes',
    String(Math.max(minProcesses, ctx.config.settings.API_WORKERS)),
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
