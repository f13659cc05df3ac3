// MariaDB: the database every OpenStack service keeps its state in.
//
// Decisions:
// - Our settings live in a drop-in (99-stack.cnf) that sorts after the packaged files; the
//   packaged my.cnf / 50-server.cnf stay untouched, and `clean` only has to remove one file.
// - skip-name-resolve: MariaDB would otherwise reverse-resolve every client address on connect,
//   and a resolver that hangs (seen on these hosts) would stall every service's DB connection.
//   The price: grants must name addresses. 'localhost' still means the unix socket; TCP from
//   this host is '127.0.0.1'. No grant ever uses '%'.
// - root keeps its unix_socket login (root on the host can always get in). For stack.ts itself
//   the register phase creates root@<DATABASE_HOST address> with DATABASE_PASSWORD: the account
//   a TCP connection made on the DB host to DATABASE_HOST arrives as, which is exactly what
//   host.forward(3306, DATABASE_HOST) produces. The SQL goes to `mariadb` on stdin, so the
//   password is never on a command line.
// - `clean` drops that admin account, stops the server and removes the drop-in. The data
//   directory (/var/lib/mysql) belongs to the package and is kept; `apt-get purge mariadb-server`
//   removes it. Each service plugin's clean drops its own databases and users first.

import net from 'node:net';
import { openDb, type Db } from '../../lib/db.ts';
import { daemonLogTail, startDaemon, stopDaemon, type DaemonSpec } from '../../lib/daemon.ts';
import { dbPasswordProblem } from '../../lib/escape.ts';
import type { Host } from '../../lib/host/types.ts';
import { readPackageList } from '../../lib/packages.ts';
import { StackError } from '../../lib/errors.ts';
import { type ConfigFile, type ServicePlugin, type StackContext } from '../../lib/plugin.ts';
import { checkPorts, type PortSpec } from '../../lib/preflight.ts';
import { quote, sh } from '../../lib/shell.ts';
import { lastLines, pollUntil } from './poll.ts';
import { startOrRestart } from '../../lib/restart.ts';
import { adminAccountSql, dropAccountSql, SESSION_PREAMBLE, sqlAccount, sqlString } from './sql.ts';

export const MYSQL_PORT = 3306;
export const ADMIN_USER = 'root';
export const PORTS: readonly PortSpec[] = [{ port: MYSQL_PORT, service: 'mysql', owners: ['mariadbd', 'mysqld'] }];

/** ctx.shared key under which a multi-host runner may put the Host that runs MariaDB (default: ctx.host). */
export const DB_HOST_KEY = 'mariadb.host';

const SPEC: DaemonSpec = { name: 'mariadb', unit: 'mariadb' };

export const dropInPath = (ctx: Pick<StackContext, 'facts'>): string =>
  ctx.facts.family === 'rhel' ? '/etc/my.cnf.d/99-stack.cnf' : '/etc/mysql/mariadb.conf.d/99-stack.cnf';

/** Where the server writes its errors: set by our drop-in on Debian, by the package on RHEL. */
export const errorLogPath = (ctx: Pick<StackContext, 'facts'>): string =>
  ctx.facts.family === 'rhel' ? '/var/log/mariadb/mariadb.log' : '/var/log/mysql/error.log';

/** DATABASE_HOST is the database address from the address table (the all-in-one: the setting). */
const setting = (ctx: StackContext, name: 'DATABASE_HOST' | 'DATABASE_PASSWORD' | 'STACK_STATE_DIR'): string =>
  name === 'DATABASE_HOST' ? ctx.endpoints.database.host : String(ctx.config.settings[name]);
const serviceTimeoutMs = (ctx: StackContext): number => Number(ctx.config.settings.SERVICE_TIMEOUT) * 1000;

export const isLoopbackHost = (h: string): boolean => h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);

/** All-in-one: MariaDB and every service on one host, talking over loopback. */
export const isAllInOne = (ctx: StackContext): boolean => isLoopbackHost(setting(ctx, 'DATABASE_HOST'));

export function dropInContent(ctx: StackContext): string {
  const bind = setting(ctx, 'DATABASE_HOST') === 'localhost' ? '127.0.0.1' : setting(ctx, 'DATABASE_HOST');
  const lines = [
    '# Written by stack.ts (plugins/mariadb); `stack.ts clean` removes it and edits here are',
    '# overwritten on the next run. Put your own settings in a file that sorts after this one.',
    '[mysqld]',
    '# Services reach MariaDB at DATABASE_HOST; it listens there and nowhere else.',
    `bind-address = ${bind}`,
    '# Every service worker keeps its own connection pool (oslo.db: 5, growing to 50 under load).',
    'max_connections = 1024',
    'character-set-server = utf8mb4',
    'collation-server = utf8mb4_general_ci',
    '# No reverse DNS per connection (a slow resolver stalls every connect); grants name addresses.',
    'skip-name-resolve',
    '# Sized for a 4 GB machine that also runs the rest of the cloud.',
    'innodb_buffer_pool_size = 128M',
    'performance_schema = OFF',
  ];
  if (ctx.facts.family === 'debian') {
    lines.push('# Debian logs to syslog by default, and these hosts may run none: keep errors in a file we can show.');
    lines.push(`log_error = ${errorLogPath(ctx)}`);
  }
  return lines.join('\n') + '\n';
}

/** The mariadb client on the host, as root over the unix socket. */
const client = (...args: string[]): string => sh('mariadb', '--batch', '--skip-column-names', ...args);

async function logTail(ctx: StackContext): Promise<{ file: string; lines: string }> {
  const file = errorLogPath(ctx);
  const r = await ctx.host.run(`tail -n 30 ${quote(file)} 2>/dev/null`, { check: false, label: `tail ${file}` });
  if (r.stdout.trim()) return { file, lines: ctx.log.mask(r.stdout) };
  const d = await daemonLogTail(ctx.host, ctx.facts, SPEC, setting(ctx, 'STACK_STATE_DIR'));
  return { file: d.file, lines: ctx.log.mask(d.lines) };
}

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
const adminAccountHost = async (ctx: StackContext, dbHost: Host): Promise<string> =>
  isAllInOne(ctx) ? '127.0.0.1' : resolveOnHost(dbHost, setting(ctx, 'DATABASE_HOST'));

/** Open an admin connection (root over TCP through a forward from the DB host), run fn, close everything. */
export async function withAdminDb<T>(ctx: StackContext, fn: (db: Db) => Promise<T>): Promise<T> {
  // The host that runs MariaDB (every admin connection goes through an SSH forward from there).
  const dbHost = ctx.topology.hostFor('mysql') ? ctx.on('mysql').host : ((ctx.shared.get(DB_HOST_KEY) as Host | undefined) ?? ctx.host);
  const target = isAllInOne(ctx) ? '127.0.0.1' : await resolveOnHost(dbHost, setting(ctx, 'DATABASE_HOST'));
  const fwd = await dbHost.forward(MYSQL_PORT, target);
  try {
    const db = await openDb({ host: '127.0.0.1', port: fwd.port, user: ADMIN_USER, password: setting(ctx, 'DATABASE_PASSWORD') });
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
  const hosts = clientHosts ?? (isAllInOne(ctx) ? ['localhost', '127.0.0.1'] : [await clientAddress(ctx.host, setting(ctx, 'DATABASE_HOST'))]);
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

async function waitUntilAnswering(ctx: StackContext): Promise<void> {
  const res = await pollUntil(
    async () => {
      const r = await ctx.host.run(client('-e', 'SELECT 1'), { check: false, timeoutMs: 10_000, label: 'mariadb: SELECT 1 over the socket' });
      return { ok: r.exitCode === 0 && r.stdout.trim() === '1', detail: lastLines(r.stderr || r.stdout, 3) };
    },
    { timeoutMs: serviceTimeoutMs(ctx), intervalMs: 1000 },
  );
  if (!res.ok) {
    throw new StackError(
      `MariaDB on ${ctx.host.name} did not answer "SELECT 1" on its socket within ${Math.round(res.elapsedMs / 1000)} s: ${ctx.log.mask(res.detail ?? '')}`,
      `Look at the error log below; a bad setting in ${dropInPath(ctx)} or a full disk are the usual causes.`,
      await logTail(ctx),
    );
  }
}

/** Pipe SQL to the mariadb client as root over the socket; the SQL (with passwords) goes on stdin. */
async function runSql(ctx: StackContext, sql: string, label: string): Promise<void> {
  // An SQL error echoes part of the statement, with the password in its escaped form: the host's
  // command log and our message must mask that form as well as the plain one.
  const pw = setting(ctx, 'DATABASE_PASSWORD');
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
    await startDaemon(ctx.host, ctx.facts, SPEC, setting(ctx, 'STACK_STATE_DIR'));
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

const plugin: ServicePlugin = {
  name: 'mariadb',
  services: ['mysql'],
  needs: [],
  after: { init: [], start: [], register: [] },

  packages: (ctx) => readPackageList('mariadb', ctx.facts.family),

  async preflight(ctx) {
    const pwProblem = dbPasswordProblem(setting(ctx, 'DATABASE_PASSWORD'));
    if (pwProblem) throw new StackError(`DATABASE_PASSWORD cannot be used: ${pwProblem}.`, 'Set another DATABASE_PASSWORD in localrc (or remove it to have one generated).');
    const problems = (await checkPorts(ctx.host, PORTS)).filter((p) => p.severity === 'error');
    if (problems.length) throw new StackError(problems.map((p) => p.message).join('\n'), problems[0]!.hint);
  },

  async configFiles(ctx): Promise<ConfigFile[]> {
    return [{ path: dropInPath(ctx), content: dropInContent(ctx), mode: 0o644 }];
  },

  async configure(ctx) {
    if (ctx.facts.family === 'debian') {
      // The log_error directory: the package only makes it on some upgrade paths.
      await ctx.host.run(sh('install', '-d', '-o', 'mysql', '-g', 'adm', '-m', '2750', '/var/log/mysql'), { label: 'mariadb: log directory' });
    }
  },

  async start(ctx) {
    const started = await startOrRestart(ctx, SPEC, [dropInPath(ctx)]);
    await waitUntilAnswering(ctx);
    await started.markStarted();
  },

  async register(ctx) {
    const accountHost = await adminAccountHost(ctx, ctx.host);
    await runSql(ctx, adminAccountSql(ADMIN_USER, accountHost, setting(ctx, 'DATABASE_PASSWORD')), `mariadb: admin login ${ADMIN_USER}@${accountHost}`);
    if (!ctx.shared.has(DB_HOST_KEY)) ctx.shared.set(DB_HOST_KEY, ctx.host);
  },

  async verify(ctx) {
    const rows = await withAdminDb(ctx, (db) => db.query<{ ok: number }>('SELECT 1 AS ok')).catch((err: Error) => {
      throw new StackError(
        `MariaDB at ${setting(ctx, 'DATABASE_HOST')}:${MYSQL_PORT} does not accept stack.ts's admin login: ${ctx.log.mask(err.message)}`,
        `Is it running (service mariadb status on ${ctx.host.name})? Run stack.ts again to recreate the login.`,
      );
    });
    if (Number(rows[0]?.ok) !== 1) throw new StackError(`MariaDB on ${ctx.host.name} answered SELECT 1 with ${JSON.stringify(rows)}.`);
  },

  daemons: (ctx) => [{ ...SPEC, link: `every OpenStack service -> MariaDB (their databases at ${setting(ctx, 'DATABASE_HOST')}:${MYSQL_PORT})`, ownLog: errorLogPath(ctx) }],

  links: async (ctx) => [
    {
      service: 'MariaDB',
      link: `stack.ts and every OpenStack service -> MariaDB (logins at ${setting(ctx, 'DATABASE_HOST')}:${MYSQL_PORT})`,
      log: errorLogPath(ctx),
      hint: "Its admin login or its port is gone; ./stack.ts recreates the login and starts the server.",
      check: async () => {
        const rows = await withAdminDb(ctx, (db) => db.query<{ ok: number }>('SELECT 1 AS ok')).catch((err: Error) => ctx.log.mask(err.message));
        return typeof rows === 'string' ? `does not accept stack.ts's admin login: ${rows}` : undefined;
      },
    },
  ],

  async stop(ctx) {
    await stopDaemon(ctx.host, ctx.facts, SPEC, setting(ctx, 'STACK_STATE_DIR'));
  },

  async clean(ctx) {
    // The admin login holds DATABASE_PASSWORD: remove it while the server still runs (best effort).
    const alive = await ctx.host.run(client('-e', 'SELECT 1'), { check: false, timeoutMs: 10_000, label: 'mariadb: running?' });
    if (alive.exitCode === 0) {
      const accountHost = await adminAccountHost(ctx, ctx.host).catch(() => '127.0.0.1');
      await runSql(ctx, dropAccountSql(ADMIN_USER, accountHost), `mariadb: drop admin login ${ADMIN_USER}@${accountHost}`).catch((err: Error) =>
        ctx.log.warn(err.message),
      );
    }
    await stopDaemon(ctx.host, ctx.facts, SPEC, setting(ctx, 'STACK_STATE_DIR'));
    await ctx.host.run(sh('rm', '-f', dropInPath(ctx)), { label: 'mariadb: remove drop-in' });
    ctx.log.info(`${ctx.host.name}: MariaDB's data directory is kept (apt-get purge mariadb-server removes it).`);
  },
};

export default plugin;
