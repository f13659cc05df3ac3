// What a service's own log says went wrong: the lines of this run's time window (not whatever the
// log happens to end with), and a hint matched to the cause they name.

export interface Cause {
  /** The log line that names the cause. */
  readonly line: string;
  /** What to do, for this cause. */
  readonly hint: string;
}

const CAUSES: readonly { match: RegExp; hint: string }[] = [
  { match: /HypervisorUnavailable|libvirtError|Failed to connect socket to '\/var\/run\/libvirt/, hint: 'The hypervisor is not reachable: is libvirtd running on this host (and /dev/kvm usable)? For a cloud without one, set VIRT_DRIVER=fake.' },
  { match: /Access denied for user/, hint: "The database refused the service's password: the DATABASE_PASSWORD in localrc differs from the one its database user has. ./stack.ts sets it again." },
  { match: /(Connection refused|ECONNREFUSED|unreachable).*(:5672|amqp)|AMQP server on \S+ is unreachable|amqp.*Connection refused/i, hint: 'RabbitMQ does not accept connections on 5672: is rabbitmq-server running (rabbitmqctl status)? ./stack.ts starts it again.' },
  { match: /ACCESS_REFUSED|Login was refused using authentication mechanism/, hint: 'RabbitMQ refused the login: the RABBIT_PASSWORD in localrc differs from the broker user\'s. ./stack.ts sets it again.' },
  { match: /Can't connect to (local )?(MySQL|MariaDB) server|Lost connection to (MySQL|MariaDB)|\(2003,|\(2013,/, hint: 'MariaDB does not answer: is it running (service mariadb status)? ./stack.ts starts it again.' },
  { match: /Address already in use/, hint: 'Its port is taken by another process: find it with ss -ltnp and stop it.' },
  { match: /(401|Unauthorized).*(keystone|auth)|The request you have made requires authentication/i, hint: "Keystone rejects the service's own credentials: its password in Keystone differs from SERVICE_PASSWORD. ./stack.ts sets it again." },
  { match: /Permission denied/, hint: 'A file or directory it needs is not readable by its user: check the owner and mode named in the line.' },
];

/** The first known cause in the lines, last occurrence first (the newest explains the failure). */
export function findCause(lines: string): Cause | undefined {
  const all = lines.split('\n').reverse();
  for (const line of all) {
    for (const c of CAUSES) if (c.match.test(line)) return { line: line.trim(), hint: c.hint };
  }
  return undefined;
}

/** oslo.log / MariaDB / uWSGI-style leading timestamps: "2026-11-27 13:40:01.123" or "2026-11-27T13:40:01" (hosts log in UTC). */
const STAMP = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)/;

/**
 * Lines logged at or after `since` (UTC, as the hosts write their logs).
 * Lines without a timestamp (tracebacks) belong to the line before them. Without any timestamp
 * in the text, it is returned whole: better the tail than nothing.
 */
export function linesSince(text: string, since: Date): string {
  const lines = text.split('\n');
  if (!lines.some((l) => STAMP.test(l))) return text;
  const pad = (n: number) => String(n).padStart(2, '0');
  const cut = `${since.getUTCFullYear()}-${pad(since.getUTCMonth() + 1)}-${pad(since.getUTCDate())} ${pad(since.getUTCHours())}:${pad(since.getUTCMinutes())}:${pad(since.getUTCSeconds())}`;
  let keep = false;
  const out: string[] = [];
  for (const l of lines) {
    const m = STAMP.exec(l);
    if (m) keep = `${m[1]} ${m[2]}` >= cut;
    if (keep) out.push(l);
  }
  return out.join('\n');
}

/** oslo.log's level after the timestamp and pid: "2026-11-27 13:40:01.123 4242 WARNING nova.x [-] ...". */
const LEVEL = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\S*\s+\d+\s+(WARNING|ERROR|CRITICAL)\b/;

/**
 * The lines of a log that explain a wait that timed out: the warnings and errors of the window
 * first (a libvirt capabilities dump logged last would otherwise push them out of a plain tail),
 * then the window's last lines. At most `n` of each; empty when the window holds nothing.
 */
export function explainingLines(text: string, since: Date, n = 12): string {
  const lines = linesSince(text, since).split('\n').filter((l) => l.trim() !== '');
  const flagged = lines.filter((l) => LEVEL.test(l)).slice(-n);
  const last = lines.slice(-n).filter((l) => !flagged.includes(l));
  if (!flagged.length) return last.join('\n');
  return [`--- warnings and errors since ${since.toISOString()} ---`, ...flagged, ...(last.length ? ['--- last lines ---', ...last] : [])].join('\n');
}
