// Every service plugin, in no particular order: lib/plan.ts orders them by what they need.
import type { ServicePlugin } from '../lib/plugin.ts';
import mariadb from './mariadb/index.ts';
import rabbitmq from './rabbitmq/index.ts';
import memcached from './memcached/index.ts';
import keystone from './keystone/index.ts';
import glance from './glance/index.ts';
import image from './image/index.ts';
import placement from './placement/index.ts';
import neutron from './neutron/index.ts';
import nova from './nova/index.ts';
import novaCompute from './nova-compute/index.ts';
import ovnNorthd from './ovn-northd/index.ts';
import ovnController from './ovn-controller/index.ts';
import networks from './networks/index.ts';
import ovnMetadataAgent from './ovn-metadata-agent/index.ts';

export const PLUGINS: readonly ServicePlugin[] = [mariadb, rabbitmq, memcached, keystone, glance, image, placement, ovnNorthd, ovnController, neutron, networks, nova, novaCompute, ovnMetadataAgent];
