// Which interface carries a host's address, and which are free for Neutron's external bridge, from
// what `ip -o addr`, `ip -o -d link` and the default route print.
import { describe, expect, it } from 'vitest';
import { parseInterfaces } from '../../lib/kolla/interfaces.ts';

const OUTPUT = [
  '@@stackts:addr',
  '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
  '2: ens3    inet 10.1.0.5/24 brd 10.1.0.255 scope global ens3\\       valid_lft forever preferred_lft forever',
  '5: br0    inet 10.9.0.1/24 scope global br0\\       valid_lft forever',
  '7: veth-ext    inet6 fe80::1/64 scope link \\       valid_lft forever',
  '@@stackts:link',
  '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\\    link/loopback 00:00:00:00:00:00',
  '2: ens3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\\    link/ether 52:54:00:00:00:01 promiscuity 0 parentbus virtio',
  '3: ifb0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN\\     promiscuity 0 \\    ifb addrgenmode eui64',
  '4: ens4: <BROADCAST,MULTICAST> mtu 1500 state DOWN\\    link/ether 52:54:00:00:00:02 promiscuity 0',
  '5: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\\     promiscuity 0 \\    bridge forward_delay 1500',
  '6: tap1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state UP\\     veth \\    bridge_slave state forwarding',
  '7: veth-ext@veth-peer: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\\     promiscuity 0 \\    veth addrgenmode eui64',
  '8: veth-peer@veth-ext: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state UP\\     veth \\    bridge_slave',
  '@@stackts:route',
  'default via 10.1.0.1 dev ens3 proto dhcp',
].join('\n');

describe('parseInterfaces', () => {
  it('names the interface carrying the address, the default route, and the idle ports, up ones first', () => {
    expect(parseInterfaces(OUTPUT, '10.1.0.5')).toEqual({ carrying: 'ens3', defaultRoute: 'ens3', spare: ['veth-ext', 'ens4'] });
  });
  it('an address on no interface: none carries it', () => {
    expect(parseInterfaces(OUTPUT, '203.0.113.9').carrying).toBeUndefined();
  });
  it('nothing read (ip missing): no facts', () => {
    expect(parseInterfaces('', '10.1.0.5')).toEqual({ spare: [] });
  });
});
