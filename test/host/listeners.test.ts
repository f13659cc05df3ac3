import { describe, expect, it } from 'vitest';
import { isWildcard, tcpListeners } from '../fixtures/listeners.ts';

// Lines as the kernel prints them (header, a listener on 127.0.0.1:3306, one on 0.0.0.0:25672,
// an established connection, and IPv6 [::]:4369 and [::1]:11211).
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 1 1 0 100 0 0 10 0
   1: 00000000:6448 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 2 1 0 100 0 0 10 0
   2: 0B00630A:0016 0100630A:D2F0 01 00000000:00000000 02:0008F5C2 00000000     0        0 3 4 0 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1111 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 5 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:2BCB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   108        0 6 1 0 100 0 0 10 0
`;

describe('tcpListeners (/proc/net/tcp)', () => {
  it('decodes listening sockets only, IPv4 and IPv6, in the kernel byte order', () => {
    expect(tcpListeners(TCP + TCP6)).toEqual([
      { address: '127.0.0.1', port: 3306 },
      { address: '0.0.0.0', port: 25672 },
      { address: '0:0:0:0:0:0:0:0', port: 4369 },
      { address: '0:0:0:0:0:0:0:1', port: 11211 },
    ]);
  });

  it('wildcard means every interface, in either family', () => {
    expect(tcpListeners(TCP + TCP6).filter((l) => isWildcard(l.address)).map((l) => l.port)).toEqual([25672, 4369]);
    expect(isWildcard('10.99.0.11')).toBe(false);
    expect(isWildcard('0:0:0:0:0:0:0:1')).toBe(false);
  });
});
