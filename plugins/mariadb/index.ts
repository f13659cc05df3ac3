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

import { stopDaemon } from '../../lib/daemon.ts';
import { dbPasswordProblem } from '../../lib/escape.ts';
import { StackError } from '../../lib/errors.ts';
import { type ConfigFile, type ServicePlugin, type StackContext } from '../../lib/plugin.ts';
import type { PortSpec } from '../../lib/preflight.ts';
import { infraPlugin } from '../../lib/service/descriptor.ts';
import { sh } from '../../lib/shell.ts';
import { startOrRestart } from '../../lib/restart.ts';
import { adminAccountSql, dropAccountSql } from '../../lib/db-sql.ts';
import {
  ADMIN_USER,
  adminAccountHost,
  client,
  dbSetting as setting,
  dropInPath,
  errorLogPath,
  MARIADB_SPEC as SPEC,
  MYSQL_PORT,
  runSql,
  waitUntilAnswering,
  withAdminDb,
} from '../../lib/db-admin.ts';

export const PORTS: readonly PortSpec[] = [{ port: MYSQL_PORT, service: 'mysql', owners: ['mariadbd', 'mysqld'] }];

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

const plugin: ServicePlugin = infraPlugin({ name: 'mariadb', services: ['mysql'], ports: PORTS }, {
  async preflight(ctx) {
    const pwProblem = dbPasswordProblem(setting(ctx, 'DATABASE_PASSWORD'));
    if (pwProblem) throw new StackError(`DATABASE_PASSWORD cannot be used: ${pwProblem}.`, 'Set another DATABASE_PASSWORD in localrc (or remove it to have one generated).');
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
    ctx.cloud.databaseHost ??= ctx.host;
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
});

export default plugin;
