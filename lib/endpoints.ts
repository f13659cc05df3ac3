// The one address table of a cloud, computed once after every host's address is known: where the
// database, RabbitMQ and memcached are, every API URL, and each host's own bind address and
// my_ip. Every config file on every host takes its addresses from here and nowhere else, so two
// hosts can never be told different names for one service (seed 001's controller/controller01).

import { API_SERVICES, type ApiName } from './api-services.ts';
import type { Config } from './config/types.ts';
import type { ServiceName } from './config/schema.ts';
import { transportUrl } from './escape.ts';
import type { Topology } from './topology.ts';

export const PORTS = {
  ...(Object.fromEntries(API_SERVICES.map((a) => [a.api, a.port])) as Record<ApiName, number>),
  database: 3306,
  amqp: 5672,
  memcache: 11211,
  ovnNb: 6641,
  ovnSb: 6642,
} as const;

export type { ApiName } from './api-services.ts';

export interface HostAddresses {
  /** What the other hosts reach this one at (the table's address for its name). */
  readonly address: string;
  /** Where its APIs listen. */
  readonly bind: string;
  /** Nova's my_ip: the address its compute and console traffic uses. */
  readonly myIp: string;
}

export interface Endpoints {
  readonly database: { readonly host: string; readonly port: number };
  /** MariaDB's, RabbitMQ's and memcached's listen addresses: the one the other hosts use, never 0.0.0.0. */
  readonly listen: { readonly database: string; readonly rabbit: string; readonly memcache: string };
  /** oslo.messaging transport_url (holds RABBIT_PASSWORD: print it masked). */
  readonly transportUrl: string;
  readonly memcacheServers: string;
  /** OVN's northbound and southbound databases (OVSDB over TCP, no password), and the address they listen on. */
  readonly ovn: { readonly listen: string; readonly nb: string; readonly sb: string };
  readonly url: Readonly<Record<ApiName, string>>;
  /** Per host name. */
  readonly hosts: ReadonlyMap<string, HostAddresses>;
  /** The host of a singleton service, e.g. where db syncs and Keystone calls run. */
  readonly hostOf: Readonly<Partial<Record<ServiceName, string>>>;
}

export const urlHost = (h: string): string => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);
const loopbackName = (h: string): string => (h === 'localhost' ? '127.0.0.1' : h);

/**
 * One host: today's all-in-one, addresses from DATABASE_HOST, RABBIT_HOST and SERVICE_HOST exactly
 * as before. Several hosts: every address from the table of probed host addresses.
 */
export function computeEndpoints(config: Config, topology: Topology, addresses: ReadonlyMap<string, string>): Endpoints {
  const s = config.settings;
  const single = topology.hosts.length === 1;
  const addressOf = (name: string): string => {
    const a = addresses.get(name);
    if (!a) throw new Error(`no address known for host ${name}`);
    return a;
  };
  const hostOf: Partial<Record<ServiceName, string>> = {};
  for (const svc of topology.services) {
    const h = topology.hostFor(svc);
    if (h) hostOf[svc] = h.name;
  }
  const at = (svc: ServiceName, fallback: string): string => {
    if (single) return fallback;
    const h = hostOf[svc];
    return h ? addressOf(h) : fallback;
  };

  const database = at('mysql', s.DATABASE_HOST);
  const rabbit = at('rabbit', s.RABBIT_HOST);
  const memcache = at('memcache', s.RABBIT_HOST);
  const ovn = at('ovn-northd', s.SERVICE_HOST);
  const url = {} as Record<ApiName, string>;
  // Each API's URL names the host of the service that serves it.
  for (const a of API_SERVICES) url[a.api] = `http://${urlHost(at(a.service, s.SERVICE_HOST))}:${a.port}${a.path}`;
  const hosts = new Map<string, HostAddresses>();
  for (const h of topology.hosts) {
    hosts.set(
      h.name,
      single
        ? { address: addresses.get(h.name) ?? s.HOST_IP ?? s.SERVICE_HOST, bind: s.SERVICE_HOST, myIp: s.HOST_IP || s.SERVICE_HOST }
        : { address: addressOf(h.name), bind: addressOf(h.name), myIp: addressOf(h.name) },
    );
  }
  return Object.freeze({
    database: Object.freeze({ host: database, port: PORTS.database }),
    listen: Object.freeze({ database: loopbackName(database), rabbit: loopbackName(rabbit), memcache: loopbackName(memcache) }),
    transportUrl: transportUrl({ user: s.RABBIT_USERID, password: s.RABBIT_PASSWORD, hosts: [rabbit] }),
    memcacheServers: `${urlHost(memcache)}:${PORTS.memcache}`,
    ovn: Object.freeze({ listen: loopbackName(ovn), nb: `tcp:${urlHost(loopbackName(ovn))}:${PORTS.ovnNb}`, sb: `tcp:${urlHost(loopbackName(ovn))}:${PORTS.ovnSb}` }),
    url: Object.freeze(url),
    hosts,
    hostOf: Object.freeze(hostOf),
  });
}

/** The table as `plan` prints it; mask() hides the RabbitMQ password in the transport URL. */
export function formatEndpoints(e: Endpoints, topology: Topology, mask: (t: string) => string): string {
  const rows: Array<[string, string]> = [
    ['database', `${urlHost(e.database.host)}:${e.database.port}`],
    ['transport_url', mask(e.transportUrl)],
    ['memcached', e.memcacheServers],
    ...(topology.services.has('ovn-northd') ? ([['OVN northbound', e.ovn.nb], ['OVN southbound', e.ovn.sb]] as Array<[string, string]>) : []),
    ...(Object.entries(e.url) as Array<[string, string]>).map(([k, v]): [string, string] => [`${k} API`, v]),
  ];
  const w = Math.max(...rows.map(([k]) => k.length), ...topology.hosts.map((h) => h.name.length)) + 2;
  const out = ['Addresses:', ...rows.map(([k, v]) => `  ${k.padEnd(w)}${v}`), '', 'Hosts:'];
  for (const h of topology.hosts) {
    const a = e.hosts.get(h.name)!;
    out.push(`  ${h.name.padEnd(w)}${a.address}  bind ${a.bind}  my_ip ${a.myIp}  runs ${[...h.services].join(' ')}`);
  }
  return out.join('\n');
}
