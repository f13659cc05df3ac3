// Escaping for each place a value (most often a password) is written to. Every writer
// escapes for its own target; test/escape/roundtrip.test.ts proves each one against the
// real reader (oslo.config, SQLAlchemy, MariaDB's option-file parser, pymysql).

export { quote as shellQuote } from './shell.ts';

/** oslo.config interpolates `$name` / `${name}`; a literal `$` is written `$$`. */
export const osloEscape = (v: string): string => v.split('$').join('$$');

export const osloUnescape = (v: string): string => v.split('$$').join('$');

/**
 * Percent-encode everything outside RFC 3986 "unreserved" (A-Z a-z 0-9 - . _ ~), as UTF-8.
 * encodeURIComponent leaves ! ' ( ) * alone, which some URL parsers treat as delimiters.
 */
export const urlUserinfo = (v: string): string =>
  encodeURIComponent(v).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

/** A host as it goes into a URL authority: IPv6 literals are bracketed. */
const urlHost = (host: string): string => {
  if (host.length === 0) throw new Error('a URL needs a host name or address, got an empty string');
  if (host.startsWith('[')) return host;
  return host.includes(':') ? `[${host}]` : host;
};

export interface DbUrlParts {
  readonly user: string;
  /** Left out of the URL when undefined (the password then comes from a read_default_file). */
  readonly password?: string;
  readonly host: string;
  readonly port?: number;
  readonly database: string;
  /** SQLAlchemy dialect+driver. */
  readonly driver?: string;
  /** Merged over the default `charset=utf8`. */
  readonly query?: Readonly<Record<string, string>>;
}

/** SQLAlchemy URL as OpenStack's `[database] connection` expects it. */
export function dbConnectionUrl(p: DbUrlParts): string {
  const driver = p.driver ?? 'mysql+pymysql';
  if (!/^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)?$/.test(driver)) {
    throw new Error(`database driver "${driver}" is not of the form dialect+driver (e.g. mysql+pymysql)`);
  }
  const port = p.port === undefined ? '' : `:${p.port}`;
  const query = { charset: 'utf8', ...p.query };
  // '/' stays as is in query values: a path like read_default_file must not gain a '%', which
  // alembic's ConfigParser (keystone, placement, nova db sync) would take for interpolation.
  const qs = Object.entries(query)
    .map(([k, v]) => `${urlUserinfo(k)}=${urlUserinfo(v).replace(/%2F/g, '/')}`)
    .join('&');
  const password = p.password === undefined ? '' : `:${urlUserinfo(p.password)}`;
  return (
    `${driver}://${urlUserinfo(p.user)}${password}@${urlHost(p.host)}${port}` +
    `/${urlUserinfo(p.database)}${qs ? `?${qs}` : ''}`
  );
}

export interface TransportUrlParts {
  readonly user: string;
  readonly password: string;
  readonly hosts: readonly string[];
  readonly port?: number;
  /** RabbitMQ virtual host; '/' (the default vhost) is written as an empty path. */
  readonly vhost?: string;
  readonly scheme?: string;
}

/** oslo.messaging transport_url: `rabbit://u:p@h1:5672,u:p@h2:5672/vhost`. */
export function transportUrl(p: TransportUrlParts): string {
  if (p.hosts.length === 0) throw new Error('transport_url needs at least one RabbitMQ host');
  const port = p.port ?? 5672;
  const vhost = p.vhost ?? '/';
  const cred = `${urlUserinfo(p.user)}:${urlUserinfo(p.password)}`;
  const authorities = p.hosts.map((h) => `${cred}@${urlHost(h)}:${port}`).join(',');
  const path = vhost === '/' ? '/' : `/${urlUserinfo(vhost)}`;
  return `${p.scheme ?? 'rabbit'}://${authorities}${path}`;
}

/**
 * A value for a my.cnf-style option file, as MariaDB's option-file reader (mysys
 * my_default.c) reads it back: double-quoted (so `#`, `;`, leading/trailing spaces and quotes
 * survive), with backslash, double quote and line breaks backslash-escaped.
 */
export function mysqlOptionValue(v: string): string {
  const body = v.replace(/[\\"\n\r\t\b]/g, (c) => {
    switch (c) {
      case '\\':
        return '\\\\';
      case '"':
        return '\\"';
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return '\\b';
    }
  });
  return `"${body}"`;
}

/**
 * Why a password cannot be used by OpenStack services to log in to MariaDB, or undefined.
 * pymysql (what every service's `mysql+pymysql://` URL uses) encodes the password as latin1,
 * while MariaDB stored the hash of its UTF-8 bytes: any non-ASCII password fails (or raises
 * UnicodeEncodeError) even though the mariadb client accepts it. Proven in
 * test/escape/roundtrip.test.ts.
 */
export function dbPasswordProblem(password: string): string | undefined {
  if (password.length === 0) return 'the password is empty';
  // eslint-disable-next-line no-control-regex
  if (/[^\x20-\x7e]/.test(password)) {
    return (
      'the password has characters outside printable ASCII; OpenStack services connect with pymysql, ' +
      'which sends passwords as latin1, so MariaDB would refuse them. Use ASCII letters, digits and punctuation'
    );
  }
  return undefined;
}

/**
 * A pymysql option file holding a database password, for `?read_default_file=` in a connection URL.
 * Why not the URL: a URL-encoded password has '%' in it, and alembic (keystone, placement and nova
 * db sync) feeds the URL through ConfigParser interpolation, which rejects it ("invalid
 * interpolation syntax"). pymysql reads this file with a RawConfigParser and only strips one pair
 * of surrounding quotes, so the value goes in verbatim between double quotes: no escaping.
 */
export function pymysqlOptionFile(password: string): string {
  if (/[\r\n]/.test(password)) throw new Error('a database password cannot contain a line break');
  return `# Written by stack.ts: the database password pymysql reads (read_default_file in [database] connection).\n[client]\npassword = "${password}"\n`;
}
