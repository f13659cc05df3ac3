// Checks one setting's value against its SCHEMA entry and converts it to its typed form.
// Messages name the setting and show the value, except for secrets, whose value is never shown.

import { parseCidr } from '../cidr.ts';
import { isIP } from 'node:net';
import { SCHEMA, type SettingName, type SettingSpec } from './schema.ts';

export interface ValueProblem {
  readonly message: string;
  readonly hint?: string;
}

/** Settings that are paths on the target host, where "relative to what" has no good answer. */
const ABSOLUTE_ON_TARGET: ReadonlySet<string> = new Set(['STACK_STATE_DIR', 'LOGDIR']);

/** Addresses a service binds to that must never be every interface: the database and the token cache. */
const NO_WILDCARD: Readonly<Record<string, string>> = {
  DATABASE_HOST: 'MariaDB',
  RABBIT_HOST: 'RabbitMQ and memcached',
  SERVICE_HOST: 'every endpoint URL',
  HOST_IP: 'the services',
};

const HOSTNAME_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** An address setting: an IP literal or a host name, nothing else (no scheme, port, blank or comment). */
export function checkAddress(name: string, value: string): ValueProblem | undefined {
  const example = `e.g. ${name}=192.0.2.10 or ${name}=controller.example.org`;
  // Empty means "not set": detection or the default fills it in.
  if (value === '') return undefined;
  if (/\s/.test(value)) return { message: `${name}=${JSON.stringify(value)} contains a blank; an address is one word`, hint: example };
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)) {
    return { message: `${name}=${value} is a URL; stack.ts wants only the address`, hint: `write the host part alone, ${example}; ports and paths are stack.ts's to choose` };
  }
  if (value.includes('#')) return { message: `${name}=${value} contains '#'`, hint: `a comment needs a blank before it; ${example}` };
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  const family = isIP(bare);
  if (family === 0 && /^[0-9.]+$/.test(value)) {
    return { message: `${name}=${value} is not an IPv4 address (four numbers from 0 to 255)`, hint: example };
  }
  if (family === 0 && /:/.test(value)) {
    return /^[^:]+:[0-9]*$/.test(value)
      ? { message: `${name}=${value} has a port; stack.ts wants only the address`, hint: `leave the port out: ${name}=${value.split(':')[0]}` }
      : { message: `${name}=${value} is not an IPv6 address`, hint: 'write an IPv6 address without brackets, e.g. 2001:db8::5' };
  }
  if (family === 0 && (value.length > 253 || !value.replace(/\.$/, '').split('.').every((l) => HOSTNAME_LABEL.test(l)))) {
    return { message: `${name}=${value} is neither an IP address nor a host name`, hint: `a host name has letters, digits, '-' and '.' only; ${example}` };
  }
  if (family !== 0 && /^(0\.0\.0\.0|::|\[::\])$/.test(value) && NO_WILDCARD[name]) {
    return {
      message: `${name}=${value} is the wildcard address: ${NO_WILDCARD[name]} would be open on every interface of the host`,
      hint: `use one address of the host (127.0.0.1 for an all-in-one cloud, else its address on the management network)`,
    };
  }
  return undefined;
}

/** Characters a path on a host may hold: no glob, quote, blank or shell character. */
const PLAIN_PATH = /^[A-Za-z0-9._+\/-]+$/;

/** A directory stack.ts creates and `clean` removes: absolute, plain, and never / or a top-level directory. */
export function checkTargetDir(name: string, value: string, example: string): ValueProblem | undefined {
  if (!value.startsWith('/')) {
    return { message: `${name}=${value} is not an absolute path`, hint: `it is a directory on the target host; write it from /, e.g. ${name}=${example}` };
  }
  if (!PLAIN_PATH.test(value)) {
    return {
      message: `${name}=${JSON.stringify(value)} contains characters a path of stack.ts's may not hold (globs, blanks, quotes or shell characters)`,
      hint: `use letters, digits and . _ + - / only, e.g. ${name}=${example}`,
    };
  }
  const parts = value.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..')) return { message: `${name}=${value} contains . or .. components`, hint: `write the plain path, e.g. ${name}=${example}` };
  if (parts.length < 2) {
    return {
      message: `${name}=${value} is ${parts.length === 0 ? 'the root directory' : 'a top-level directory'}; \`clean\` removes this directory with everything in it`,
      hint: `give stack.ts a directory of its own, e.g. ${name}=${example}`,
    };
  }
  const owner = systemDirOwner(parts);
  if (owner) {
    return {
      message: `${name}=${value} is ${owner}; \`clean\` removes this directory with everything in it`,
      hint: `give stack.ts a directory of its own, e.g. ${name}=${example}`,
    };
  }
  return undefined;
}

/** Top-level directories whose every child is the system's (/usr/bin, /etc/ssl, /run/user). */
const SYSTEM_TOPS = new Set(['bin', 'boot', 'dev', 'etc', 'lib', 'lib32', 'lib64', 'libx32', 'proc', 'run', 'sbin', 'sys', 'usr']);
/** The children of /var the system or a package keeps its data in. */
const SYSTEM_VAR = new Set(['backups', 'cache', 'lib', 'local', 'lock', 'log', 'mail', 'opt', 'run', 'spool', 'tmp', 'www']);
/** Services whose /var/lib/NAME and /var/log/NAME their packages made (clean would remove a database). */
const PACKAGE_DIRS = new Set(['apache2', 'cinder', 'glance', 'httpd', 'keystone', 'libvirt', 'memcached', 'mysql', 'mariadb', 'neutron', 'nova', 'placement', 'rabbitmq', 'apt', 'dpkg', 'dnf', 'rpm', 'journal', 'systemd']);

/**
 * Which system's directory `parts` names, if any: a directory `clean` would remove that the system
 * or a package made (the ones a typo or a copied devstack line most likely names).
 */
function systemDirOwner(parts: readonly string[]): string | undefined {
  const [top, second, third] = parts;
  if (parts.length === 2 && SYSTEM_TOPS.has(top!)) return `a directory of the system (/${top}/${second})`;
  if (top === 'var' && SYSTEM_VAR.has(second!) && parts.length === 2) return `a directory of the system (/var/${second})`;
  if (top === 'var' && (second === 'lib' || second === 'log') && parts.length === 3 && PACKAGE_DIRS.has(third!)) return `the directory the ${third} packages made`;
  if (top === 'usr' && second === 'local' && parts.length === 3) return `a directory of the system (/usr/local/${third})`;
  if (top === 'home' && parts.length === 2) return `a user's home directory`;
  return undefined;
}

const TRUE_WORDS = new Set(['true', 'yes', '1']);
const FALSE_WORDS = new Set(['false', 'no', '0']);

export function parseBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (TRUE_WORDS.has(v)) return true;
  if (FALSE_WORDS.has(v)) return false;
  return undefined;
}

/** Comma- or space-separated, empty entries dropped. */
export const splitList = (value: string): string[] => value.split(/[\s,]+/).filter((x) => x !== '');

const TARGET_RE =
  /^(?:([A-Za-z0-9._-]+)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::([0-9]+))?$/;

export interface TargetHost {
  readonly user?: string;
  readonly host: string;
  readonly port?: number;
}

/** Digits and dots only, yet no IPv4 address (300.1.1.1): a typo, never a host name to look up. */
export const notIpv4 = (host: string): boolean => /^[0-9.]+$/.test(host) && isIP(host) !== 4;

/** Splits `[user@]host[:port]`; undefined for `local` or a malformed value. */
export function parseTargetHost(value: string): TargetHost | undefined {
  if (value === 'local') return undefined;
  const m = TARGET_RE.exec(value);
  if (!m) return undefined;
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
  return { ...(m[1] ? { user: m[1] } : {}), host, ...(m[3] ? { port: Number(m[3]) } : {}) };
}

function checkTargetHost(value: string): ValueProblem | undefined {
  if (value === 'local') return undefined;
  const m = TARGET_RE.exec(value);
  if (!m) {
    return {
      message: `TARGET_HOST=${value} is neither "local" nor [user@]host[:port]`,
      hint: 'e.g. TARGET_HOST=local or TARGET_HOST=root@192.0.2.10:22 (IPv6 in brackets: [2001:db8::5])',
    };
  }
  if (notIpv4(m[2]!)) return { message: `TARGET_HOST=${value} is not an IPv4 address (four numbers from 0 to 255)`, hint: 'e.g. TARGET_HOST=root@192.0.2.10' };
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) {
    return { message: `TARGET_HOST=${value} has port ${m[3]}, not between 1 and 65535`, hint: 'leave the port out to use 22' };
  }
  return undefined;
}

/**
 * Keystone users and projects stack.ts makes for itself: the demo user and project are get-or-create
 * by name, so DEMO_PROJECT=nova would reset the nova service user's password (and break Nova).
 */
export const RESERVED_KEYSTONE_NAMES: readonly string[] = ['admin', 'service', 'keystone', 'glance', 'nova', 'placement', 'neutron'];

function checkDemoProject(value: string): ValueProblem | undefined {
  if (!RESERVED_KEYSTONE_NAMES.includes(value.toLowerCase())) return undefined;
  return {
    message: `DEMO_PROJECT=${value} is the name of a Keystone user or project stack.ts makes for the cloud itself; the demo user would take it over (and reset its password)`,
    hint: `pick another name, e.g. DEMO_PROJECT=demo; taken: ${RESERVED_KEYSTONE_NAMES.join(', ')}`,
  };
}

/** A regular expression verify matches late (after a whole stack): refused when the config is read. */
function checkPattern(name: string, value: string): ValueProblem | undefined {
  try {
    new RegExp(value, 'm');
    return undefined;
  } catch (err) {
    return { message: `${name}=${value} is not a valid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`, hint: 'the default, login:, matches CirrOS; escape ( [ { * + ? with a backslash to match them as text' };
  }
}

/** Shorter passwords are words and pieces of words: hiding each in the output would garble it. */
export const MIN_PASSWORD_LENGTH = 8;

/**
 * stack.ts hides every occurrence of a password in what it prints and logs. A password of one
 * letter or a common word would be hidden inside ordinary text (d-masked-bian, /etc/masked/masked.conf),
 * and blanks at its ends are dropped by the tools that read it back (rabbitmqctl, ini readers).
 */
function maskProblem(name: string, value: string): ValueProblem | undefined {
  const rule = `a password needs at least ${MIN_PASSWORD_LENGTH} characters and no blank at either end, so that hiding it in the output hides only it`;
  // Empty means "not set" (generated, or refused where it is too late for that).
  if (value === '') return undefined;
  if (value.trim() === '') return { message: `${name} is only blanks`, hint: `${rule}; or remove the line to have one generated` };
  if (value.trim() !== value) return { message: `${name} starts or ends with a blank`, hint: rule };
  if ([...value].length < MIN_PASSWORD_LENGTH) return { message: `${name} is shorter than ${MIN_PASSWORD_LENGTH} characters`, hint: `${rule}; or remove the line to have one generated` };
  return undefined;
}

/** A Linux interface name: up to 15 characters, no blank, '/' or ':' (empty = not set). */
function checkInterfaceName(name: string, value: string): ValueProblem | undefined {
  if (value === '' && name !== 'PUBLIC_BRIDGE') return undefined;
  if (/^[A-Za-z0-9_.-]{1,15}$/.test(value) && value !== '.' && value !== '..') return undefined;
  return { message: `${name}=${JSON.stringify(value)} is not an interface name`, hint: 'an interface name has 1 to 15 letters, digits, ".", "-" or "_" (see ip -br link)' };
}

/** Why `value` is not acceptable for `name`, or undefined when it is. */
export function checkValue(name: SettingName, value: string): ValueProblem | undefined {
  const spec: SettingSpec = SCHEMA[name];
  switch (spec.type) {
    case 'int': {
      const range = `use a whole number from ${spec.min ?? '-infinity'} to ${spec.max ?? 'infinity'}`;
      if (!/^-?[0-9]+$/.test(value.trim())) return { message: `${name}=${value} is not a whole number`, hint: range };
      const n = Number(value.trim());
      if (spec.min !== undefined && n < spec.min) return { message: `${name}=${value} is less than the minimum ${spec.min}`, hint: range };
      if (spec.max !== undefined && n > spec.max) return { message: `${name}=${value} is more than the maximum ${spec.max}`, hint: range };
      return undefined;
    }
    case 'bool':
      return parseBool(value) === undefined
        ? { message: `${name}=${value} is not a yes/no value`, hint: 'use True or False (also accepted: true, false, yes, no, 1, 0)' }
        : undefined;
    case 'enum': {
      const choices = spec.choices ?? [];
      if (choices.includes(value)) return undefined;
      // An empty choice means "detect"; a list starting with a bare comma would not say so.
      const shown = choices.map((c) => (c === '' ? '(empty)' : c));
      const near = closest(value, choices);
      return {
        message: `${name}=${value} is not one of ${shown.join(', ')}` + (near ? `; did you mean ${near}?` : ''),
        hint: `use one of: ${shown.join(', ')}`,
      };
    }
    case 'path':
      if (ABSOLUTE_ON_TARGET.has(name)) return checkTargetDir(name, value, spec.default);
      if (/[\0-\x1f]/.test(value)) return { message: `${name} contains a control character or line break`, hint: 'write the path on one line' };
      return undefined;
    case 'address':
      return checkAddress(name, value);
    case 'cidr': {
      const net = parseCidr(value);
      return typeof net === 'string' ? { message: `${name}: ${net}`, hint: `e.g. ${name}=${spec.default.startsWith('$') ? '10.0.0.0/22' : spec.default}` } : undefined;
    }
    case 'string':
      if (name === 'PUBLIC_BRIDGE' || name === 'PUBLIC_INTERFACE' || name === 'TUNNEL_INTERFACE') return checkInterfaceName(name, value);
      if (name === 'DEMO_PROJECT') return checkDemoProject(value);
      if (name === 'VERIFY_CONSOLE_PATTERN') return checkPattern(name, value);
      if (name === 'KOLLA_EXTERNAL_INTERFACE' && value !== '' && !/^[A-Za-z0-9_.:@-]{1,15}$/.test(value)) {
        return { message: `${name}=${value} is not a network interface name (at most 15 letters, digits and . _ - : @)`, hint: 'e.g. KOLLA_EXTERNAL_INTERFACE=eth1; `ip -o link` on the host lists its interfaces' };
      }
      return name === 'TARGET_HOST' ? checkTargetHost(value) : undefined;
    case 'secret':
      // Never the value: only what is wrong with it.
      if (/[\r\n]/.test(value)) return { message: `${name} contains a line break`, hint: 'a password is one line; the files it is written to cannot carry a line break' };
      if (/[\0-\x1f\x7f]/.test(value)) return { message: `${name} contains a control character`, hint: 'use printable characters only' };
      return maskProblem(name, value);
    case 'list':
      return undefined;
  }
}

export type TypedValue = string | number | boolean | readonly string[];

/** The typed form of an already-checked value. */
export function toTyped(name: SettingName, value: string): TypedValue {
  switch (SCHEMA[name].type) {
    case 'int':
      return Number(value.trim());
    case 'bool':
      return parseBool(value) ?? false;
    case 'list':
      return Object.freeze(splitList(value));
    default:
      return value;
  }
}

/** Optimal string alignment distance: edits, with a swap of two neighbours counting as one. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate nearest to `name` (ignoring case), if it is near enough to be a likely typo:
 * at most one edit per four characters (at least one, at most three). Ties go to the earlier candidate.
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const wanted = name.toUpperCase();
  const limit = Math.min(3, Math.max(1, Math.floor(wanted.length / 4)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    // Lengths further apart than the limit cannot be near: skip the quadratic distance.
    if (Math.abs(c.length - wanted.length) > limit) continue;
    const dist = editDistance(wanted, c.toUpperCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
