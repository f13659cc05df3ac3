// The OpenStack APIs stack.ts runs, each declared once: which plugin serves it, under which
// devstack service name, on which port, and what its listening process is called. The address
// table's URLs (endpoints.ts), preflight's port check (stack-tasks.ts), the owners a busy port may
// legitimately have (preflight.ts), the HTTP client's "is X running?" (openstack/http.ts) and each
// plugin's bind port all derive from this table, so a port cannot differ between two of them.

import type { ServiceName } from './config/schema.ts';

// uwsgi names its processes after the binary (uwsgi, or uwsgi_python3 on Debian).
const UWSGI = ['uwsgi', 'uwsgi_python3', 'uwsgi-core'];

export interface ApiService {
  /** The catalog's service type. */
  readonly api: 'identity' | 'image' | 'placement' | 'compute' | 'network' | 'metadata';
  /** The plugin that runs it (plugins/<name>). */
  readonly plugin: string;
  /** devstack's service name: the topology puts it on a host, and its URL names that host. */
  readonly service: ServiceName;
  readonly port: number;
  /** Appended to the URL in the catalog (Nova's API version). */
  readonly path: string;
  /** What to call it in "nothing answers at ... - is X running?". */
  readonly daemon: string;
  /** Process names `ss` may show on its port when it is ours (a re-run finds it busy). */
  readonly owners: readonly string[];
}

export const API_SERVICES: readonly ApiService[] = Object.freeze([
  { api: 'identity', plugin: 'keystone', service: 'key', port: 5000, path: '', daemon: 'keystone', owners: [...UWSGI, 'keystone-wsgi-public'] },
  { api: 'image', plugin: 'glance', service: 'g-api', port: 9292, path: '', daemon: 'glance-api', owners: ['glance-api'] },
  { api: 'placement', plugin: 'placement', service: 'placement-api', port: 8778, path: '', daemon: 'placement-api', owners: [...UWSGI, 'placement-api'] },
  { api: 'compute', plugin: 'nova', service: 'n-api', port: 8774, path: '/v2.1', daemon: 'nova-api', owners: [...UWSGI, 'nova-api', 'nova-api-wsgi'] },
  // Not in the catalog: the OVN metadata agents proxy guests' requests to it.
  { api: 'metadata', plugin: 'nova', service: 'n-api', port: 8775, path: '', daemon: 'nova-api-metadata', owners: [...UWSGI, 'nova-metadata-wsgi'] },
  // neutron-server renames its processes (setproctitle): the parent shows as /usr/bin/python.
  { api: 'network', plugin: 'neutron', service: 'q-svc', port: 9696, path: '', daemon: 'neutron-server', owners: ['neutron-server', 'neutron-server:', '/usr/bin/python', 'python3'] },
] as const satisfies readonly ApiService[]);

export type ApiName = ApiService['api'];

/** The declaration of one API. */
export function apiService(api: ApiName): ApiService {
  return API_SERVICES.find((a) => a.api === api)!;
}

/** The port a plugin's API listens on (the plugin's bind port), from the table. */
export function apiPort(api: ApiName): number {
  return apiService(api).port;
}
