// The run of an OpenStack API service: its daemons started (and restarted when their files
// changed), its user, service and endpoints in Keystone, the links verify checks, and what clean
// removes.

import { sh } from '../shell.ts';
import type { LinkCheck, StackContext } from '../plugin.ts';
import type { DaemonSpec } from '../daemon.ts';
import { daemonStatus } from '../daemon.ts';
import { startOrRestart } from '../restart.ts';
import { waitForHttp } from '../wait.ts';
import { logTail } from '../log-tail.ts';
import { withAdminDb, dropServiceDatabases } from '../db-admin.ts';
import { leftBehind } from '../clean.ts';
import { linesSince } from '../log-cause.ts';
import { authenticate, call, ensureEndpoint, ensureRole, ensureRoleAssignment, ensureService, ensureServiceUser, type Session } from '../openstack/keystone.ts';
import { ApiError, joinUrl } from '../openstack/http.ts';
import { dbPasswordPath, keystoneUrl } from './config.ts';

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


/** An admin token for the register and verify phases, shared by every plugin of the run. */
export async function adminSession(ctx: StackContext): Promise<Session> {
  const cached = ctx.cloud.adminSession;
  if (cached && cached.expiresAt.getTime() - Date.now() > 60_000) return cached;
  // Plugins register at once: the ones that find no session wait for one login, not one each
  // (every login is a bcrypt check that Keystone's one worker does in turn, ~0.2 s).
  const login = (ctx.cloud.adminLogin ??= authenticate({
    authUrl: `${keystoneUrl(ctx)}/v3`,
    username: 'admin',
    password: ctx.config.settings.ADMIN_PASSWORD,
    projectName: 'admin',
  }).finally(() => {
    if (ctx.cloud.adminLogin === login) ctx.cloud.adminLogin = undefined;
  }));
  const session = await login;
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
  const region = ctx.config.settings.REGION_NAME;
  if (catalogExactly(s, svc, region) && (await serviceUserInPlace(ctx, svc))) return;
  const user = await ensureServiceUser(s, { name: svc.user, password: svc.password });
  if (user.passwordAccepted) markLoginProven(ctx, svc.user, svc.password);
  // The tokens a service sends along with a user's (X-Service-Token) must carry the service role.
  await ensureRoleAssignment(s, { userId: user.userId, projectId: user.projectId, roleId: await ensureRole(s, 'service') });
  const serviceId = await ensureService(s, { name: svc.name, type: svc.type, description: svc.description });
  for (const iface of ['public', 'internal', 'admin'] as const) {
    await ensureEndpoint(s, { serviceId, interface: iface, url: svc.url, regionId: region });
  }
  // A token's catalog is fixed when it is issued: the next caller needs one that lists this
  // service as it now is. Where it already did (only the user was repaired), no new login.
  if (!catalogExactly(s, svc, region)) ctx.cloud.adminSession = undefined;
}

/**
 * What register would make is all there, as the admin's token of this run shows it: one service
 * of this type, named so, with exactly one endpoint per interface in the region, each at `url`.
 */
function catalogExactly(s: Session, svc: { name: string; type: string; url: string }, region: string): boolean {
  const entries = s.catalog.filter((c) => c.type === svc.type);
  if (entries.length !== 1 || entries[0]!.name !== svc.name) return false;
  const here = entries[0]!.endpoints.filter((e) => (e.region_id ?? e.region) === region);
  return here.length === 3 && (['public', 'internal', 'admin'] as const).every((iface) => here.some((e) => e.interface === iface && e.url === svc.url));
}

/**
 * A re-run's one check instead of register's ten requests: the service user logs in to project
 * service with its password and its token carries the admin and service roles there. A refusal
 * (changed password, lost role) sends register the whole way, which repairs it.
 */
async function serviceUserInPlace(ctx: StackContext, svc: { user: string; password: string }): Promise<boolean> {
  try {
    const t = await serviceLogin(ctx, svc);
    if (!['admin', 'service'].every((r) => t.roles.includes(r))) return false;
    markLoginProven(ctx, svc.user, svc.password);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return false;
    throw err;
  }
}

/** A service user's own login, to project service, as the service makes it. */
const serviceLogin = (ctx: StackContext, svc: { user: string; password: string }): Promise<Session> =>
  authenticate({ authUrl: `${keystoneUrl(ctx)}/v3`, username: svc.user, password: svc.password, projectName: 'service', timeoutMs: 10_000 });

/** What keystoneLoginsProven holds for a user and password (never printed). */
const loginKey = (user: string, password: string): string => `${user}\0${password}`;

/** Keystone issued a token for this user and password earlier in this run (a register's check). */
export const loginProven = (ctx: StackContext, user: string, password: string): boolean => ctx.cloud.keystoneLoginsProven.has(loginKey(user, password));

export const markLoginProven = (ctx: StackContext, user: string, password: string): void => void ctx.cloud.keystoneLoginsProven.add(loginKey(user, password));

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
        // This run's register saw Keystone issue a token for this very password a moment ago.
        if (loginProven(ctx, svc.user, svc.password)) return undefined;
        try {
          await serviceLogin(ctx, svc);
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
