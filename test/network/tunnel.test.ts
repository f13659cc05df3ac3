import { describe, expect, it } from 'vitest';
import { firstIpv4 } from '../../lib/network/tunnel.ts';
import { planNetwork } from '../hosts/network.ts';

describe("the tunnels' NIC", () => {
  it('reads the first IPv4 address of ip -o addr, with its prefix', () => {
    expect(firstIpv4('3: eth1    inet 10.98.0.12/24 brd 10.98.0.255 scope global eth1\\       valid_lft forever\n')).toBe('10.98.0.12/24');
    expect(firstIpv4('')).toBeUndefined();
  });

  it('test hosts get an eth1 network of their own only when asked, with names Linux takes', () => {
    const plain = planNetwork('stk', '4242x1', 3, 3);
    expect(plain.tunnelBridge).toBeUndefined();
    expect(plain.hosts.every((h) => h.tunnel === undefined)).toBe(true);
    const t = planNetwork('stk', '4242x1', 3, 3, true);
    expect(t.tunnelBridge).toBe('stkbr4242x1t');
    expect(t.hosts.map((h) => h.tunnel)).toEqual([
      { veth: 'stk4242x1t1', address: '10.98.3.11' },
      { veth: 'stk4242x1t2', address: '10.98.3.12' },
      { veth: 'stk4242x1t3', address: '10.98.3.13' },
    ]);
  });
});
