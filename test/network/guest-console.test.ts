import { describe, expect, it } from 'vitest';
import { consoleSettled, dhcpOnConsole, metadataOnConsole } from '../../lib/network/guest-console.ts';

describe("a guest's console on its network", () => {
  it("reads the test image's lines", () => {
    const text = 'STACKTS-GUEST-UP kernel 6.1 up 4.2 s\nSTACKTS-DHCP eth0 10.0.1.7/22 router 10.0.0.1\nSTACKTS-METADATA instance-id i-00000003\n';
    expect(dhcpOnConsole(text)).toEqual({ kind: 'ok', value: '10.0.1.7' });
    expect(metadataOnConsole(text)).toEqual({ kind: 'ok', value: 'i-00000003' });
  });

  it("reads CirrOS 0.5's and 0.6's lines", () => {
    expect(dhcpOnConsole('udhcpc: lease of 10.0.0.12 obtained, lease time 86400')).toEqual({ kind: 'ok', value: '10.0.0.12' });
    expect(dhcpOnConsole('Lease of 10.0.0.12 obtained, lease time 86400')).toEqual({ kind: 'ok', value: '10.0.0.12' });
    expect(dhcpOnConsole('eth0: leased 10.0.2.9 for 86400 seconds')).toEqual({ kind: 'ok', value: '10.0.2.9' });
    expect(metadataOnConsole('checking http://169.254.169.254/2009-04-04/instance-id\nsuccessful after 1/20 tries: up 8.12. iid=i-00000001')).toEqual({ kind: 'ok', value: 'i-00000001' });
  });

  it('says why, when the guest says it failed', () => {
    expect(dhcpOnConsole('STACKTS-DHCP-FAILED eth0 no lease after 10 discovers (udhcpc keeps trying)')).toEqual({ kind: 'failed', reason: 'eth0 no lease after 10 discovers (udhcpc keeps trying)' });
    expect(metadataOnConsole('STACKTS-METADATA-FAILED after 122 s: wget: can\'t connect')).toEqual({ kind: 'failed', reason: "after 122 s: wget: can't connect" });
  });

  it('an image that prints none of these says nothing', () => {
    expect(dhcpOnConsole('login: ')).toBeUndefined();
    expect(metadataOnConsole('login: ')).toBeUndefined();
  });

  it('the wait ends once DHCP and, where wanted, the metadata read have spoken, or either failed', () => {
    const dhcp = 'STACKTS-DHCP eth0 10.0.1.7/22 router 10.0.0.1\n';
    expect(consoleSettled('STACKTS-GUEST-UP kernel 6.1 up 4.2 s\n', false)).toBe(false);
    // On the userspace datapath a QEMU guest's metadata read is not waited for: DHCP is enough.
    expect(consoleSettled(dhcp, false)).toBe(true);
    expect(consoleSettled(dhcp, true)).toBe(false);
    expect(consoleSettled(`${dhcp}STACKTS-METADATA instance-id i-1\n`, true)).toBe(true);
    expect(consoleSettled(`${dhcp}STACKTS-METADATA-FAILED after 122 s\n`, true)).toBe(true);
    expect(consoleSettled('STACKTS-DHCP-FAILED eth0 no lease\n', true)).toBe(true);
  });
});
