// Masking by key: a config file on a host may hold passwords this run does not know (an older
// DATABASE_PASSWORD, another cloud's service password), so value-based masking cannot hide them.
// Every option whose name says it carries a secret is hidden whatever its value, and the
// credentials inside URLs (transport_url, [database] connection, anything scheme://user:pw@host).

import { MASK } from './log.ts';

/**
 * Option names whose whole value is a secret: password, *_password, OS_PASSWORD, passwd,
 * memcache_secret_key, *_secret, *_token (admin_token), erlang cookies.
 */
const SECRET_KEY = /(^|[_.-])(password|passwd|pass|secret|secret_key|token|cookie)$/i;

/** `key = value`, `key: value` (clouds.yaml), `export KEY=value` (openrc), with any indent. */
const OPTION_LINE = /^(\s*(?:export\s+)?(?:-\s+)?["']?)([A-Za-z0-9_.-]+)(["']?\s*[=:]\s*)(.*)$/;

/** user:password@ inside a URL; greedy up to the last @, so a password holding '@' is hidden whole. */
const URL_CREDENTIALS = /([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/@\s]*):[^\s]*@/g;

/** One line of a config file with its secret values replaced by ***. */
export function maskOptionLine(line: string): string {
  const m = OPTION_LINE.exec(line);
  if (m && SECRET_KEY.test(m[2]!) && m[4]!.trim() !== '') return `${m[1]}${m[2]}${m[3]}${MASK}`;
  return line.replace(URL_CREDENTIALS, `$1:${MASK}@`);
}

/** Every line of a config file text (or of a unified diff of one) masked by key. */
export function maskOptions(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      // A unified diff's body lines start with ' ', '+' or '-'; its headers are left alone.
      if (/^(---|\+\+\+|@@) /.test(line)) return line;
      const mark = /^[ +-]/.test(line) ? line[0]! : '';
      return mark + maskOptionLine(line.slice(mark.length));
    })
    .join('\n');
}
