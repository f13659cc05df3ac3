// The package layers end-to-end files start their hosts from (test/hosts/package-layers.ts): the
// lists stack.ts's plugins install on a host of each kind. The Debian 12 and 13 all-in-one files
// start from no layer: they prove the real package path on a fresh host.
import type { LayerSpec } from '../hosts/index.ts';

const CONTROL = ['mariadb', 'rabbitmq', 'memcached', 'keystone', 'glance', 'placement', 'nova', 'neutron'];
/** A chassis: Open vSwitch, ovn-controller, the metadata agent. */
const CHASSIS = ['ovn-controller', 'ovn-metadata-agent'];

/** A compute host on Nova's fake driver. */
export const COMPUTE_FAKE: LayerSpec = { label: 'compute-fake', lists: ['nova-compute-fake', ...CHASSIS] };
/** Everything on one host, fake driver; also a host that is a compute in one layout and the controller in the next. */
export const ALLINONE_FAKE: LayerSpec = { label: 'allinone-fake', lists: [...CONTROL, 'ovn-northd', 'nova-compute-fake', ...CHASSIS] };
/** Everything on one host with libvirt and QEMU. */
export const ALLINONE_LIBVIRT: LayerSpec = { label: 'allinone-libvirt', lists: [...CONTROL, 'nova-compute'] };
