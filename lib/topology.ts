// Which host runs which service: the hosts file (HOSTS_FILE, YAML) read into one validated,
// frozen Topology. Pure: no host is touched here. Without a hosts file the topology is today's
// all-in-one: one host, TARGET_HOST, every enabled service.
//
// Every mistake is reported with the hosts file's name and line, all of them at once, before
// anything on any host is changed (ConfigError, exit 2).

import { readPlainFile, UnreadableFile } from './plain-file.ts';
import { isAbsolute, resolve, dirname } from 'node:path';
import { LineCounter, parseDocument, isAlias, isMap, isSeq, isScalar, type Node, type YAMLMap } from 'yaml';
import { KNOWN_SERVICES, type ServiceName } from './config/schema.ts';
import { ConfigError, type ConfigIssue } from './config/errors.ts';
import { closest, notIpv4, parseTargetHost } from './config/validate.ts';

export interface HostSpec {
  /** The host's name: its node name for Nova and the name every other host resolves. */
  readonly name: string;
  /** How stack.ts reaches it: "local" or [user@]address[:port]. */
  readonly target: string;
  /** Private key for SSH; '' = ssh-agent or ~/.ssh/id_*. */
  readonly sshKey: string;
  /** The address the other hosts and the services use; '' = detect (the all-in-one's HOST_IP). */
  readonly ip: string;
  readonly services: ReadonlySet<ServiceName>;
  /** "hosts.yaml:7" for messages; the localrc's TARGET_HOST without a hosts file. */
  readonly origin: string;
}

export interface Topology {
  /** The hosts file, or undefined for the all-in-one from TARGET_HOST. */
  readonly file?: string;
  readonly hosts: readonly HostSpec[];
  /** Every service on some host. */
  readonly services: ReadonlySet<ServiceName>;
  hostsFor(s: ServiceName): readonly HostSpec[];
  /** The one host of a singleton service (undefined when no host runs it). */
  hostFor(s: ServiceName): HostSpec | undefined;
}

/** Roles are shorthands for devstack service names. */
export const ROLES: Readonly<Record<string, readonly ServiceName[]>> = {
  // The controller is also the network host: OVN's databases, and the gateway chassis with br-ex.
  controller: ['key', 'g-api', 'placement-api', 'ovn-northd', 'ovn-controller', 'q-svc', 'n-api', 'n-cond', 'n-sch'],
  database: ['mysql'],
  messaging: ['rabbit', 'memcache'],
  compute: ['n-cpu', 'ovn-controller', 'q-ovn-metadata-agent'],
  // A host of its own for OVN's databases and the gateway (br-ex, the router's SNAT, floating IPs).
  network: ['ovn-northd', 'ovn-controller'],
};

/** Services that may run on more than one host; every other one runs on exactly one. */
export const SCALABLE: ReadonlySet<ServiceName> = new Set<ServiceName>(['n-cpu', 'ovn-controller', 'q-ovn-metadata-agent']);

/** What a service needs somewhere in the cloud (not necessarily on its own host). */
const REQUIRES: Partial<Record<ServiceName, readonly ServiceName[]>> = {
  key: ['mysql', 'memcache'],
  'g-api': ['key', 'mysql'],
  'g-reg': ['key', 'mysql'],
  'placement-api': ['key', 'mysql'],
  'q-svc': ['key', 'mysql', 'rabbit'],
  'n-api': ['key', 'mysql', 'rabbit', 'placement-api', 'g-api'],
  'n-cond': ['mysql', 'rabbit'],
  'n-sch': ['mysql', 'rabbit', 'placement-api'],
  'n-cpu': ['rabbit', 'n-cond', 'placement-api', 'key'],
  'ovn-northd': ['q-svc'],
  'ovn-controller': ['ovn-northd'],
  'q-ovn-metadata-agent': ['ovn-controller', 'q-svc', 'n-api'],
};

const HOST_KEYS = ['name', 'address', 'ip', 'ssh_key', 'roles', 'services'] as const;
const TOP_KEYS = ['ssh_key', 'hosts'] as const;
/** A host name as Nova and /etc/hosts take it: a DNS label or dotted name. */
const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4_RE = /^(?:\d{1,3}\.){3}\d{1,3}$/;

export const isIpLiteral = (s: string): boolean => IPV4_RE.test(s) || (s.includes(':') && /^[0-9A-Fa-f:.]+$/.test(s));

function makeTopology(hosts: readonly HostSpec[], file?: string): Topology {
  const frozen = Object.freeze(hosts.map((h) => Object.freeze({ ...h })));
  const services = new Set<ServiceName>(KNOWN_SERVICES.filter((s) => frozen.some((h) => h.services.has(s))));
  return Object.freeze({
    file,
    hosts: frozen,
    services,
    hostsFor: (s: ServiceName) => frozen.filter((h) => h.services.has(s)),
    hostFor: (s: ServiceName) => frozen.find((h) => h.services.has(s)),
  });
}

/** No hosts file: the one host of TARGET_HOST runs every enabled service (today's all-in-one). */
export function allInOne(args: { target: string; sshKey: string; ip: string; services: ReadonlySet<ServiceName>; name?: string }): Topology {
  const parsed = parseTargetHost(args.target);
  const name = args.name ?? (parsed ? (parsed.port && parsed.port !== 22 ? `${parsed.host}:${parsed.port}` : parsed.host) : 'local');
  return makeTopology([{ name, target: args.target, sshKey: args.sshKey, ip: args.ip, services: new Set(args.services), origin: 'TARGET_HOST' }]);
}

/**
 * Reads a hosts file's text. `shown` is how the file is named in messages; `baseDir` resolves
 * relative ssh_key paths (the file's own directory).
 */
export function parseTopology(text: string, shown: string, baseDir: string): Topology {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined): string => {
    const offset = node?.range?.[0];
    return offset === undefined ? shown : `${shown}:${lines.linePos(offset).line}`;
  };
  const issues: ConfigIssue[] = [];
  const multi = doc.errors.find((e) => e.code === 'MULTIPLE_DOCS');
  if (multi) {
    // The library's own advice (parseAllDocuments) is for programmers, not for the file's author.
    throw new ConfigError({
      origin: `${shown}:${lines.linePos(multi.pos[0]).line}`,
      message: 'the hosts file holds more than one YAML document (a "---" line starts another)',
      hint: 'keep one document: remove that "---" line and list every host under the one hosts: key',
    });
  }
  if (doc.errors.length) {
    for (const e of doc.errors) {
      issues.push({
        origin: `${shown}:${e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line}`,
        message: `not valid YAML: ${e.message.split('\n')[0]}`,
        hint: 'indent with spaces, "key: value" with a space after the colon; see hosts.yaml.example',
      });
    }
    throw new ConfigError(issues);
  }
  const root = doc.contents;
  if (!isMap(root)) {
    throw new ConfigError({ origin: at(root), message: 'the hosts file must be a mapping with a "hosts:" list', hint: 'start from hosts.yaml.example' });
  }
  const unknownKeys = (map: YAMLMap, known: readonly string[], where: string): void => {
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (!known.includes(key)) {
        const near = closest(key, known);
        issues.push({
          origin: at(pair.key as Node),
          message: `unknown key "${key}" ${where}`,
          hint: near ? `did you mean "${near}"? Keys: ${known.join(', ')}` : `keys: ${known.join(', ')}`,
        });
      }
    }
  };
  unknownKeys(root, TOP_KEYS, 'at the top level');
  const str = (node: unknown, what: string, origin: string): string | undefined => {
    if (node === undefined || node === null) return undefined;
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number')) return String(node.value);
    issues.push({ origin, message: `${what} must be a single value` });
    return undefined;
  };
  const keyPath = (p: string | undefined): string => (p === undefined || p === '' ? '' : isAbsolute(p) ? p : resolve(baseDir, p.replace(/^~(?=\/)/, process.env.HOME ?? '~')));
  const defaultKey = keyPath(str(root.get('ssh_key', true), 'ssh_key', at(root.get('ssh_key', true) as Node)));

  const hostsNode = root.get('hosts', true) as Node | undefined;
  if (!isSeq(hostsNode) || hostsNode.items.length === 0) {
    issues.push({ origin: at(hostsNode ?? root), message: 'no hosts: the file needs a "hosts:" list with at least one host', hint: 'see hosts.yaml.example' });
    throw new ConfigError(issues);
  }

  const hosts: HostSpec[] = [];
  for (const item of hostsNode.items) {
    const origin = at(item as Node);
    if (!isMap(item)) {
      issues.push({ origin, message: 'each entry under hosts: must be a mapping (name:, address:, roles: or services:)' });
      continue;
    }
    unknownKeys(item, HOST_KEYS, 'in a host entry');
    const field = (k: string) => item.get(k, true) as Node | undefined;
    const name = str(field('name'), 'name', at(field('name') ?? item));
    if (name === undefined) issues.push({ origin, message: 'this host has no name:', hint: 'name: the host\'s node name, e.g. compute1' });
    else if (!NAME_RE.test(name)) issues.push({ origin: at(field('name')), message: `"${name}" is not a host name`, hint: 'letters, digits, "-" and "." only' });
    const target = str(field('address'), 'address', at(field('address') ?? item));
    if (target === undefined) issues.push({ origin, message: `host ${name ?? '?'} has no address:`, hint: 'address: [user@]address[:port], e.g. root@192.0.2.11' });
    else if (target !== 'local' && !parseTargetHost(target)) {
      issues.push({ origin: at(field('address')), message: `address "${target}" is neither "local" nor [user@]address[:port]`, hint: 'e.g. root@192.0.2.11 or 192.0.2.11:2222 (IPv6 in brackets)' });
    } else if (target !== 'local' && notIpv4(parseTargetHost(target)!.host)) {
      issues.push({ origin: at(field('address')), message: `address "${target}" is not an IPv4 address (four numbers from 0 to 255), and not a host name either`, hint: 'e.g. root@192.0.2.11' });
    }
    const ip = str(field('ip'), 'ip', at(field('ip') ?? item)) ?? '';
    if (ip && !isIpLiteral(ip)) issues.push({ origin: at(field('ip')), message: `ip "${ip}" is not an IP address`, hint: 'the address the other hosts reach this one at, e.g. 192.0.2.11' });
    const services = new Set<ServiceName>();
    const listOf = (k: 'roles' | 'services'): Array<{ value: string; origin: string }> => {
      const node = field(k);
      if (node === undefined) return [];
      const alias = (n: unknown) => isAlias(n) && issues.push({ origin: at(n as Node), message: `${k} uses the YAML alias *${n.source}; stack.ts does not follow aliases in a hosts file`, hint: `write the ${k} out, e.g. ${k}: [controller, database, messaging]` });
      if (alias(node)) return [];
      if (isSeq(node)) return node.items.filter((n) => !alias(n)).map((n) => ({ value: isScalar(n) ? String(n.value) : String(n), origin: at(n as Node) }));
      if (isScalar(node)) return String(node.value).split(/[\s,]+/).filter(Boolean).map((value) => ({ value, origin: at(node) }));
      issues.push({ origin: at(node), message: `${k} must be a list` });
      return [];
    };
    for (const r of listOf('roles')) {
      const expanded = ROLES[r.value];
      if (expanded) for (const s of expanded) services.add(s);
      else {
        const near = closest(r.value, Object.keys(ROLES));
        issues.push({ origin: r.origin, message: `unknown role "${r.value}"`, hint: `${near ? `did you mean "${near}"? ` : ''}roles: ${Object.keys(ROLES).join(', ')}` });
      }
    }
    for (const s of listOf('services')) {
      if ((KNOWN_SERVICES as readonly string[]).includes(s.value)) services.add(s.value as ServiceName);
      else {
        const near = closest(s.value, KNOWN_SERVICES);
        issues.push({ origin: s.origin, message: `unknown service "${s.value}"`, hint: `${near ? `did you mean "${near}"? ` : ''}services: ${KNOWN_SERVICES.join(', ')}` });
      }
    }
    if (services.size === 0 && name !== undefined) {
      issues.push({ origin, message: `host ${name} runs nothing`, hint: `give it roles: (${Object.keys(ROLES).join(', ')}) or services:` });
    }
    const hostKey = field('ssh_key') ? keyPath(str(field('ssh_key'), 'ssh_key', at(field('ssh_key')))) : defaultKey;
    if (name !== undefined && target !== undefined) hosts.push({ name, target, sshKey: hostKey, ip, services, origin });
  }

  checkLayout(hosts, issues);
  if (issues.length) throw new ConfigError(issues);
  return makeTopology(hosts, shown);
}

/** Names, addresses and services across hosts: what no single entry can check alone. */
function checkLayout(hosts: readonly HostSpec[], issues: ConfigIssue[]): void {
  const seen = (key: (h: HostSpec) => string, what: string, hint: string) => {
    const first = new Map<string, HostSpec>();
    for (const h of hosts) {
      const k = key(h);
      if (k === '') continue;
      const other = first.get(k);
      if (other) issues.push({ origin: h.origin, message: `hosts ${other.name} (${other.origin}) and ${h.name} have the same ${what} ${k}`, hint });
      else first.set(k, h);
    }
  };
  seen((h) => h.name.toLowerCase(), 'name', 'every host needs its own name');
  seen((h) => addressOf(h), 'address', 'two entries for one machine: list it once, with the roles of both');
  if (hosts.filter((h) => h.target === 'local').length > 1) issues.push({ origin: hosts[1]!.origin, message: 'more than one host is "local"', hint: 'at most one host is this machine' });

  for (const s of KNOWN_SERVICES) {
    const on = hosts.filter((h) => h.services.has(s));
    if (on.length > 1 && !SCALABLE.has(s)) {
      issues.push({
        origin: on[1]!.origin,
        message: `${s} is on ${on.length} hosts (${on.map((h) => `${h.name} at ${h.origin}`).join(', ')}); it runs on exactly one`,
        hint: `keep ${s} (or its role) on one host; only ${[...SCALABLE].join(', ')} may run on several`,
      });
    }
  }
  const present = new Set(hosts.flatMap((h) => [...h.services]));
  const missing = new Map<ServiceName, ServiceName[]>();
  for (const s of present) for (const need of REQUIRES[s] ?? []) if (!present.has(need)) missing.set(need, [...(missing.get(need) ?? []), s]);
  for (const [need, by] of missing) {
    const role = Object.entries(ROLES).find(([, list]) => list.includes(need))?.[0];
    issues.push({
      origin: hosts[0]?.origin.replace(/:\d+$/, '') ?? 'hosts file',
      message: `no host runs ${need}, which ${by.join(', ')} need${by.length === 1 ? 's' : ''}`,
      hint: `add ${need} to one host's services:${role ? ` (or the role ${role})` : ''}`,
    });
  }
}

/** The host part of a target, lower-cased: two entries with the same one are one machine. */
function addressOf(h: HostSpec): string {
  if (h.target === 'local') return '';
  return (h.ip || parseTargetHost(h.target)?.host || h.target).toLowerCase();
}

/** Reads HOSTS_FILE (absolute); `shown` names it in messages. */
/** A hosts file of a thousand hosts is about 100 kB; anything far bigger is the wrong file. */
const MAX_HOSTS_FILE_BYTES = 256 * 1024;

export async function loadTopology(abs: string, shown: string = abs): Promise<Topology> {
  let text: string;
  try {
    text = (await readPlainFile(abs, MAX_HOSTS_FILE_BYTES)).toString('utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ConfigError({
      origin: shown,
      message:
        e instanceof UnreadableFile
          ? `the hosts file (HOSTS_FILE=${abs}) is ${e.detail}${e.code === 'ENOTFILE' ? ', not a YAML file' : ''}`
          : `cannot read the hosts file (HOSTS_FILE=${abs}): ${code}`,
      hint:
        e instanceof UnreadableFile
          ? e.code === 'ETOOBIG' ? 'is HOSTS_FILE naming the right file? A hosts file lists a few hosts' : 'name the YAML file itself; start from hosts.yaml.example'
          : code === 'EACCES' ? `you (uid ${process.getuid?.()}) may not read it: check its permissions and those of the directories above it`
          : 'HOSTS_FILE is relative to the config file; start from hosts.yaml.example',
    });
  }
  return parseTopology(text, shown, dirname(abs));
}
