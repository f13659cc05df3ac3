// globals.yml and passwords.yml for kolla-ansible. Every value is written double-quoted: kolla-ansible
// reads YAML 1.1, where a bare yes, no, on or 0755 is not the string it looks like.

import { stringify } from 'yaml';
import type { SettingName, Settings } from '../config/schema.ts';
import type { KollaLayout } from './layout.ts';

const yaml = (doc: Record<string, string>): string => stringify(doc, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0 });

export function renderGlobals(layout: KollaLayout, source: string): string {
  const doc: Record<string, string> = {
    kolla_base_distro: layout.distro,
    openstack_release: layout.release,
    network_interface: layout.networkInterface,
    neutron_external_interface: layout.externalInterface,
    kolla_internal_vip_address: layout.vip,
    enable_haproxy: layout.haproxy ? 'yes' : 'no',
    // This cloud runs neither; kolla-ansible's core set would add them.
    enable_heat: 'no',
    enable_horizon: 'no',
    ...(layout.fakeCompute ? { enable_nova_fake: 'yes' } : {}),
  };
  const header = [
    `# kolla-ansible globals.yml, written by ./stack.ts export from ${source}.`,
    layout.haproxy
      ? '# Several hosts run control services: HAProxy and keepalived serve them at kolla_internal_vip_address.'
      : '# One controller: no HAProxy; kolla_internal_vip_address is the controller\'s own address.',
    '# enable_heat and enable_horizon are off because this cloud runs neither.',
    ...(layout.fakeCompute ? ['# VIRT_DRIVER=fake: nova-compute with the fake driver (enable_nova_fake), no hypervisor.'] : []),
  ];
  return `${header.join('\n')}\n${yaml(doc)}`;
}

/** kolla-ansible's passwords.yml key -> the setting that holds that password in this cloud. */
export const KOLLA_PASSWORDS: ReadonlyArray<readonly [string, SettingName]> = [
  ['database_password', 'DATABASE_PASSWORD'],
  ['rabbitmq_password', 'RABBIT_PASSWORD'],
  ['keystone_admin_password', 'ADMIN_PASSWORD'],
  ['keystone_database_password', 'KEYSTONE_DB_PASSWORD'],
  ['glance_database_password', 'GLANCE_DB_PASSWORD'],
  ['glance_keystone_password', 'GLANCE_PASSWORD'],
  ['placement_database_password', 'PLACEMENT_DB_PASSWORD'],
  ['placement_keystone_password', 'PLACEMENT_PASSWORD'],
  ['nova_database_password', 'NOVA_DB_PASSWORD'],
  // This cloud's nova user owns nova_api too; kolla-ansible gives nova_api a user of its own.
  ['nova_api_database_password', 'NOVA_DB_PASSWORD'],
  ['nova_keystone_password', 'NOVA_PASSWORD'],
  ['neutron_database_password', 'NEUTRON_DB_PASSWORD'],
  ['neutron_keystone_password', 'NEUTRON_PASSWORD'],
  ['memcache_secret_key', 'MEMCACHE_SECRET_KEY'],
  ['metadata_secret', 'METADATA_PROXY_SHARED_SECRET'],
];

export function renderPasswords(settings: Settings): string {
  const doc = Object.fromEntries(KOLLA_PASSWORDS.map(([key, setting]) => [key, String(settings[setting])]));
  return `# This cloud's passwords under kolla-ansible's names (written by ./stack.ts export). kolla-mergepwd\n# merges them into kolla-ansible's full passwords.yml; kolla-genpwd then fills in the rest.\n${yaml(doc)}`;
}
