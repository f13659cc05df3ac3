// SQL text for statements that must go through the mariadb command-line client (before any
// TCP login exists). Values are escaped as string literals; the script travels on stdin.

/**
 * A MariaDB string literal. Backslash is an escape character unless the session has
 * NO_BACKSLASH_ESCAPES, so every script built from these starts with SESSION_PREAMBLE, which
 * turns that mode off: then doubling quotes and escaping backslash and NUL covers every byte.
 */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''").replace(/\0/g, '\\0')}'`;
}

/** 'user'@'host' */
export const sqlAccount = (user: string, host: string): string => `${sqlString(user)}@${sqlString(host)}`;

/** Makes sqlString's escaping hold whatever the server's default sql_mode is. */
export const SESSION_PREAMBLE = "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');";

/** Create (or re-password) an account with every privilege, able to grant them: the admin login stack.ts uses over TCP. */
export function adminAccountSql(user: string, host: string, password: string): string {
  const account = sqlAccount(user, host);
  return [
    SESSION_PREAMBLE,
    `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${sqlString(password)};`,
    // An account from an earlier run may have another password (DATABASE_PASSWORD changed): set it every time.
    `ALTER USER ${account} IDENTIFIED BY ${sqlString(password)};`,
    `GRANT ALL PRIVILEGES ON *.* TO ${account} WITH GRANT OPTION;`,
    '',
  ].join('\n');
}

export const dropAccountSql = (user: string, host: string): string => `${SESSION_PREAMBLE}\nDROP USER IF EXISTS ${sqlAccount(user, host)};\n`;
