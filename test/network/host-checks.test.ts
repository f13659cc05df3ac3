import { describe, expect, it } from 'vitest';
import { parseCidr, type Ipv4Net } from '../../lib/cidr.ts';
import { parseRoutes, rangeClashes } from '../../lib/network/host-checks.ts';

const net = (s: string): Ipv4Net => parseCidr(s) as Ipv4Net;
const ROUTES = `default via 192.168.1.1 dev eth0 proto dhcp
10.0.0.0/16 dev wg0 scope link
192.168.1.0/24 dev eth0 proto kernel scope link src 192.168.1.20
172.24.4.0/24 dev br-ex proto kernel scope link src 172.24.4.1
198.51.100.7 via 192.168.1.1 dev eth0
`;

describe('the network ranges against a host', () => {
  it('reads routes, leaving out the default', () => {
    expect(parseRoutes(ROUTES)).toEqual([
      { dest: '10.0.0.0/16', dev: 'wg0' },
      { dest: '192.168.1.0/24', dev: 'eth0' },
      { dest: '172.24.4.0/24', dev: 'br-ex' },
      { dest: '198.51.100.7', dev: 'eth0' },
    ]);
  });

  it('names each range that overlaps a network the host routes, with its device', () => {
    const ranges = [
      { setting: 'FIXED_RANGE', net: net('10.0.0.0/22') },
      { setting: 'FLOATING_RANGE', net: net('172.24.4.0/24') },
    ];
    expect(rangeClashes('h1', parseRoutes(ROUTES), ranges, 'br-ex')).toEqual(['FIXED_RANGE=10.0.0.0/22 overlaps 10.0.0.0/16 on wg0 of h1']);
  });

  it('the public bridge is the cloud\'s own (a re-run finds its address there); under another name it clashes', () => {
    const ranges = [{ setting: 'FLOATING_RANGE', net: net('172.24.4.0/24') }];
    expect(rangeClashes('h1', parseRoutes(ROUTES), ranges, 'br-ex')).toEqual([]);
    expect(rangeClashes('h1', parseRoutes(ROUTES), ranges, 'br-public')).toEqual(['FLOATING_RANGE=172.24.4.0/24 overlaps 172.24.4.0/24 on br-ex of h1']);
  });

  it('a single-address route inside a range clashes too', () => {
    expect(rangeClashes('h1', parseRoutes(ROUTES), [{ setting: 'FLOATING_RANGE', net: net('198.51.100.0/24') }], 'br-ex')).toEqual([
      'FLOATING_RANGE=198.51.100.0/24 overlaps 198.51.100.7 on eth0 of h1',
    ]);
  });
});
