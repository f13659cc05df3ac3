// MariaDB administration through mysql2: databases, users and grants made idempotently,
// and the table check that tells whether a db_sync really did its job.
// Passwords travel only as `?` parameters (mysql2 escapes them); errors are rebuilt from
// the server's code and message so that mysql2's `sql` field (which holds the escaped
// statement, password included) never reaches a log.
import mysql from 'mysql2/promise';

export interface DbTarget {
  host?: string;
  port?: number;
  socketPath?: string;
  user: string;
  password?: string;
}

export interface Db {
  /** CREATE DATABASE IF NOT EXISTS, utf8mb4. */
  ensureDatabase(name: string): Promise<'created' | 'exists'>;
  /** CREATE USER IF NOT EXISTS, set the password, GRANT ALL ON each db.*; safe to repeat. */
  ensureUser(user: string, hostPattern: string, password: string, grantsOn: string[]): Promise<void>;
  tableCount(database: string): Promise<number>;
  tables(database: string): Promise<string[]>;
  /** Only `clean` uses it. */
  dropDatabase(name: string): Promise<void>;
  dropUser(user: string, hostPattern: string): Promise<void>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** An error from MariaDB or the connection, safe to print. */
export class DbError extends Error {
  constructor(
    message: string,
    readonly where: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'DbError';
  }
}

export const describeTarget = (t: DbTarget): string =>
  t.socketPath ? `socket ${t.socketPath}` : `${t.host ?? 'localhost'}:${t.port ?? 3306}`;

const IDENT = /^[A-Za-z0-9_]+$/;

function checkDbName(name: string): string {
  if (!IDENT.test(name) || name.length > 64) {
    throw new DbError(`invalid database name ${JSON.stringify(name)}: use letters, digits and _ (at most 64)`, 'validation');
  }
  return `\`${name}\``;
}

interface MysqlError {
  code?: string;
  errno?: number;
  sqlMessage?: string;
  message?: string;
}

/** Removes every given secret from a text. */
const mask = (text: string, secrets: readonly string[]): string =>
  secrets.filter((s) => s.length > 0).reduce((t, s) => t.split(s).join('***'), text);

function connectError(t: DbTarget, e: unknown, timeoutMs: number): DbError {
  const where = describeTarget(t);
  const err = e as MysqlError;
  const secrets = t.password ? [t.password] : [];
  let why: string;
  switch (err.code) {
    case 'ECONNREFUSED':
      why = 'connection refused - is MariaDB running and listening there (bind-address, port)?';
      break;
    case 'ENOENT':
      why = 'no such socket - is MariaDB running, and is this its socket path?';
      break;
    case 'ETIMEDOUT':
      why = `no answer within ${timeoutMs} ms - check the address, the port and any firewall`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      why = `host name ${t.host ?? ''} does not resolve`;
      break;
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
      why = `access denied for user '${t.user}' - check that user's password and host in MariaDB (${err.sqlMessage ?? ''})`;
      break;
    case 'ER_HOST_NOT_PRIVILEGED':
      why = `this machine's address is not allowed to connect (${err.sqlMessage ?? ''}) - grant the user on this host`;
      break;
    default:
      why = err.sqlMessage ?? err.message ?? String(e);
  }
  return new DbError(mask(`cannot connect to MariaDB at ${where}: ${why}`, secrets), where, err.code);
}

export async function openDb(t: DbTarget, timeoutMs = 10_000): Promise<Db> {
  const where = describeTarget(t);
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection({
      host: t.socketPath ? undefined : (t.host ?? 'localhost'),
      port: t.socketPath ? undefined : (t.port ?? 3306),
      socketPath: t.socketPath,
      user: t.user,
      password: t.password ?? '',
      connectTimeout: timeoutMs,
      charset: 'utf8mb4',
      multipleStatements: false,
    });
  } catch (e) {
    throw connectError(t, e, timeoutMs);
  }
  // A connection-level error (server gone) would otherwise be an unhandled 'error' event.
  conn.on('error', () => {});

  const run = async <T>(sql: string, params: unknown[] = [], secrets: string[] = []): Promise<T[]> => {
    try {
      const [rows] = await conn.query(sql, params);
      return rows as T[];
    } catch (e) {
      const err = e as MysqlError;
      // The statement shown is the one with `?` placeholders, never the escaped one.
      const msg = `MariaDB at ${where} refused "${sql}": ${err.sqlMessage ?? err.message ?? String(e)}`;
      throw new DbError(mask(msg, [...secrets, ...(t.password ? [t.password] : [])]), where, err.code);
    }
  };

  // mysql2 escapes with backslashes; under NO_BACKSLASH_ESCAPES they would be literal.
  try {
    const [mode] = await run<{ m: string }>('SELECT @@SESSION.sql_mode AS m');
    if (mode?.m.includes('NO_BACKSLASH_ESCAPES')) await run("SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')");
  } catch (e) {
    conn.destroy();
    throw e;
  }

  const exists = async (name: string): Promise<boolean> =>
    (await run<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]))[0]!.n > 0;

  return {
    async ensureDatabase(name) {
      const quoted = checkDbName(name);
      if (await exists(name)) return 'exists';
      await run(`CREATE DATABASE IF NOT EXISTS ${quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
      return 'created';
    },

    async ensureUser(user, hostPattern, password, grantsOn) {
      if (user.length === 0 || user.length > 80) throw new DbError(`invalid MariaDB user name ${JSON.stringify(user)}`, where);
      if (hostPattern.length === 0) throw new DbError(`empty host pattern for MariaDB user '${user}'`, where);
      const dbs = grantsOn.map(checkDbName);
      await run('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [user, hostPattern, password], [password]);
      // The user may exist from an earlier run with another password: this one wins.
      await run('ALTER USER ?@? IDENTIFIED BY ?', [user, hostPattern, password], [password]);
      for (const db of dbs) await run(`GRANT ALL PRIVILEGES ON ${db}.* TO ?@?`, [user, hostPattern]);
    },

    async tableCount(database) {
      const rows = await run<{ n: number }>(
        "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
        [database],
      );
      return Number(rows[0]!.n);
    },

    async tables(database) {
      const rows = await run<{ t: string }>(
        "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
        [database],
      );
      return rows.map((r) => r.t);
    },

    async dropDatabase(name) {
      await run(`DROP DATABASE IF EXISTS ${checkDbName(name)}`);
    },

    async dropUser(user, hostPattern) {
      await run('DROP USER IF EXISTS ?@?', [user, hostPattern]);
    },

    query: <T>(sql: string, params?: unknown[]) => run<T>(sql, params),

    async close() {
      await conn.end().catch(() => conn.destroy());
    },
  };
}
