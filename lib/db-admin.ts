// MariaDB administration every service needs from stack.ts: the admin login (root over TCP,
// through a forward from the host that runs MariaDB), a service's databases, user and grants,
// and their drop at clean; with the facts about the server that takes (its unit, error log,
// drop-in, client command). plugins/mariadb runs the server; lib/service/ and the service
// plugins create and drop their databases through here.

import net from 'node:net';
import { openDb, type Db } from './db.ts';
import { startDaemon, type DaemonSpec } from './daemon.ts';
import { serviceLogTail } from './log-tail.ts';
import type { Host } from './host/types.ts';
import { StackError } from './errors.ts';
import type { StackContext } from './plugin.ts';
import { quote, sh } from './shell.ts';
import { FAST_POLL_MS, lastLines, pollUntil } from './wait.ts';
import { SESSION_PREAMBLE, sqlAccount, sqlString } from './db-sql.ts';
import { PORTS } from './endpoints.ts';

export const MYSQL_PORT = PORTS.database;
export const ADMIN_USER = 'root';


/** The MariaDB server's unit. */
export const MARIADB_SPEC: DaemonSpec = { name: 'mariadb', unit: 'mariadb' };

export const dropInPath = (ctx: Pick<StackContext, 'facts'>): string =>
  ctx.facts.family === 'rhel' ? '/etc/my.cnf.d/99-stack.cnf' : '/etc/mysql/mariadb.conf.d/99-stack.cnf';

/** Where the server writes its errors: set by our drop-in on Debian, by the package on RHEL. */
export const errorLogPath = (ctx: Pick<StackContext, 'facts'>): string =>
  ctx.facts.family === 'rhel' ? '/var/log/mariadb/mariadb.log' : '/var/log/mysql/error.log';

/** DATABASE_HOST is the database address from the address table (the all-in-one: the setting). */
export const dbSetting = (ctx: StackContext, name: 'DATABASE_HOST' | 'DATABASE_PASSWORD' | 'STACK_STATE_DIR'): string =>
  name === 'DATABASE_HOST' ? ctx.endpoints.database.host : String(ctx.config.settings[name]);
export const serviceTimeoutMs = (ctx: StackContext): number => Number(ctx.config.settings.SERVICE_TIMEOUT) * 1000;

export const isLoopbackHost = (h: string): boolean => h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);

/** All-in-one: MariaDB and every service on one host, talking over loopback. */
export const isAllInOne = (ctx: StackContext): boolean => isLoopbackHost(dbSetting(ctx, 'DATABASE_HOST'));


/** The mariadb client on the host, as root over the unix socket. */
export const client = (...args: string[]): string => sh('mariadb', '--batch', '--skip-column-names', ...args);

/** The server's error log, else the journal (or the daemon's output). */
export const mariadbLogTail = (ctx: StackContext) => serviceLogTail(ctx, { file: errorLogPath(ctx), daemon: MARIADB_SPEC });

/** The address DATABASE_HOST names, as MariaDB (with skip-name-resolve) will see a connection from itself. */
async function resolveOnHost(host: Host, name: string): Promise<string> {
  if (net.isIP(name)) return name;
  if (name === 'localhost') return '127.0.0.1';
  const r = await host.run(`getent ahosts ${quote(name)} | awk 'NR==1 {print $1}'`, { check: false, label: `resolve ${name}` });
  const addr = r.stdout.trim();
  if (!net.isIP(addr)) {
    throw new StackError(`DATABASE_HOST "${name}" does not resolve on ${host.name}.`, `Set DATABASE_HOST to an address, or add "${name}" to /etc/hosts on ${host.name}.`);
  }
  return addr;
}

/**
 * The address a service on `host` connects to DATABASE_HOST from (the route's source address):
 * the one host MariaDB must grant the service's user on.
 */
export async function clientAddress(host: Host, databaseHost: string): Promise<string> {
  const target = await resolveOnHost(host, databaseHost);
  const r = await host.run(`ip -o route get ${quote(target)}`, { check: false, label: `route to ${target}` });
  const m = / src (\S+)/.exec(r.stdout);
  if (!m || !net.isIP(m[1]!)) {
    throw new StackError(
      `Cannot tell which address ${host.name} uses to reach the database at ${target} (ip route get: ${lastLines(r.stderr || r.stdout, 2) || 'no route'}).`,
      `Check the network between ${host.name} and ${target}.`,
    );
  }
  return m[1]!;
}

/** Host part of the admin account: what a connection from the DB host to DATABASE_HOST arrives as. */
export const adminAccountHost = async (ctx: StackContext, dbHost: Host): Promise<string> =>
  isAllInOne(ctx) ? '127.0.0.1' : resolveOnHost(dbHost, dbSetting(ctx, 'DATABASE_HOST'));

/** Open an admin connection (root over TCP through a forward from the DB host), run fn, close everything. */
export async function withAdminDb<T>(ctx: StackContext, fn: (db: Db) => Promise<T>): Promise<T> {
  // The host that runs MariaDB (every admin connection goes through an SSH forward from there).
  const dbHost = ctx.topology.hostFor('mysql') ? ctx.on('mysql').host : (ctx.cloud.databaseHost ?? ctx.host);
  const target = isAllInOne(ctx) ? '127.0.0.1' : await resolveOnHost(dbHost, dbSetting(ctx, 'DATABASE_HOST'));
  const fwd = await dbHost.forward(MYSQL_PORT, target);
  try {
    const db = await openDb({ host: '127.0.0.1', port: fwd.port, user: ADMIN_USER, password: dbSetting(ctx, 'DATABASE_PASSWORD') });
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  } finally {
    await fwd.close();
  }
}

export interface ServiceDatabase {
  readonly databases: readonly string[];
  readonly user: string;
  readonly password: string;
  /** Addresses the service connects from. Default: 'localhost' and '127.0.0.1' all-in-one, else ctx.host's source address towards DATABASE_HOST. */
  readonly clientHosts?: readonly string[];
}

/** The host patterns a service's DB user is granted on. Never a wildcard. */
export async function serviceGrantHosts(ctx: StackContext, clientHosts?: readonly string[]): Promise<string[]> {
  const hosts = clientHosts ?? (isAllInOne(ctx) ? ['localhost', '127.0.0.1'] : [await clientAddress(ctx.host, dbSetting(ctx, 'DATABASE_HOST'))]);
  if (hosts.length === 0) throw new StackError('No client host given for a database grant.', 'Pass the addresses of the hosts the service runs on.');
  for (const h of hosts) {
    // % and _ are wildcards in MariaDB host patterns: a grant on them would reach other machines.
    if (/[%_]/.test(h) || h.trim() === '') {
      throw new StackError(`Refusing a database grant on host pattern "${h}": grants name one address each.`, 'Pass the service hosts\' addresses.');
    }
  }
  return [...new Set(hosts)];
}

/** Create the databases (if missing) and the user with its password and grants. Never drops anything. */
export async function ensureServiceDatabase(ctx: StackContext, want: ServiceDatabase): Promise<void> {
  const hosts = await serviceGrantHosts(ctx, want.clientHosts);
  await withAdminDb(ctx, async (db) => {
    for (const name of want.databases) {
      const r = await db.ensureDatabase(name);
      if (r === 'created') ctx.log.debug(`${ctx.host.name}: created database ${name}`);
    }
    for (const h of hosts) await db.ensureUser(want.user, h, want.password, [...want.databases]);
  });
}

export async function waitUntilAnswering(ctx: StackContext): Promise<void> {
  const res = await pollUntil(
    async () => {
      const r = await ctx.host.run(client('-e', 'SELECT 1'), { check: false, timeoutMs: 10_000, label: 'mariadb: SELECT 1 over the socket' });
      return { ok: r.exitCode === 0 && r.stdout.trim() === '1', detail: lastLines(r.stderr || r.stdout, 3) };
    },
    { timeoutMs: serviceTimeoutMs(ctx), intervalMs: FAST_POLL_MS },
  );
  if (!res.ok) {
    throw new StackError(
      `MariaDB on ${ctx.host.name} did not answer "SELECT 1" on its socket within ${Math.round(res.elapsedMs / 1000)} s: ${ctx.log.mask(res.detail ?? '')}`,
      `Look at the error log below; a bad setting in ${dropInPath(ctx)} or a full disk are the usual causes.`,
      await mariadbLogTail(ctx),
    );
  }
}

/** Pipe SQL to the mariadb client as root over the socket; the SQL (with passwords) goes on stdin. */
export async function runSql(ctx: StackContext, sql: string, label: string): Promise<void> {
  // An SQL error echoes part of the statement, with the password in its escaped form: the host's
  // command log and our message must mask that form as well as the plain one.
  const pw = dbSetting(ctx, 'DATABASE_PASSWORD');
  const escaped = sqlString(pw).slice(1, -1);
  if (escaped !== pw) ctx.log.addSecret(escaped);
  const r = await ctx.host.run(client(), { input: sql, check: false, timeoutMs: 30_000, label });
  if (r.exitCode !== 0) {
    const why = ctx.log.mask(lastLines(r.stderr || r.stdout, 5));
    throw new StackError(`${label} failed on ${ctx.host.name}: ${why}`, `Check that root can log in with "mariadb" on ${ctx.host.name} (unix_socket).`);
  }
}

/**
 * clean: drop a service's databases and every account of its user, over the socket as root (the
 * TCP admin login may be gone). A stopped server (after unstack) is started for it first. Returns
 * what is still there afterwards, so clean can say what is left instead of "Cleaned".
 */
export async function dropServiceDatabases(ctx: StackContext, databases: readonly string[], user?: string): Promise<string[]> {
  if ((await ctx.host.run('command -v mariadb || command -v mysql', { check: false, label: 'mariadb: installed?' })).exitCode !== 0) return [];
  const up = await ctx.host.run(client('-e', 'SELECT 1'), { check: false, timeoutMs: 10_000, label: 'mariadb: running?' });
  if (up.exitCode !== 0) {
    ctx.log.info(`${ctx.host.name}: starting MariaDB to drop ${[...databases, ...(user ? [`user ${user}`] : [])].join(', ')}`);
    // mariadb's own clean (last) stops it again.
    await startDaemon(ctx.host, ctx.facts, MARIADB_SPEC, dbSetting(ctx, 'STACK_STATE_DIR'));
    await waitUntilAnswering(ctx);
  }
  const names = databases.map((d) => sqlString(d)).join(', ');
  const accountsOf = async (u: string): Promise<string[]> => {
    const r = await ctx.host.run(client(), { input: `${SESSION_PREAMBLE}\nSELECT host FROM mysql.user WHERE user = ${sqlString(u)};\n`, check: false, label: `mariadb: accounts of ${u}` });
    return r.stdout.split('\n').map((h) => h.trim()).filter(Boolean);
  };
  // One account per host the user was granted on (one per service host when multi-host).
  const accounts = user ? await accountsOf(user) : [];
  const sql = [
    SESSION_PREAMBLE,
    ...databases.map((d) => `DROP DATABASE IF EXISTS \`${d.replace(/`/g, '``')}\`;`),
    ...accounts.map((h) => `DROP USER IF EXISTS ${sqlAccount(user!, h)};`),
    '',
  ].join('\n');
  if (databases.length || accounts.length) await runSql(ctx, sql, `mariadb: drop ${[...databases, ...(user ? [`user ${user}`] : [])].join(', ')}`);
  const left: string[] = [];
  if (databases.length) {
    const r = await ctx.host.run(client(), {
      input: `${SESSION_PREAMBLE}\nSELECT schema_name FROM information_schema.schemata WHERE schema_name IN (${names});\n`,
      check: false,
      label: 'mariadb: databases left',
    });
    left.push(...r.stdout.split('\n').map((d) => d.trim()).filter(Boolean).map((d) => `database ${d}`));
  }
  if (user) left.push(...(await accountsOf(user)).map((h) => `database user ${user}@${h}`));
  return left;
}

