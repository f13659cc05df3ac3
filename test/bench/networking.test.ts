import { describe, expect, it } from 'vitest';
import { formatNetworkingFigures, guestPingSeconds } from '../../bench/allinone.ts';

describe('the bench: networking figures', () => {
  const timings = [
    { id: 'h1/ovn-northd/start', host: 'h1', service: 'ovn-northd', phase: 'start', ms: 2300, status: 'done' as const },
    { id: 'h1/ovn-controller/start', host: 'h1', service: 'ovn-controller', phase: 'start', ms: 4100, status: 'done' as const },
    { id: 'h1/networks/register', host: 'h1', service: 'networks', phase: 'register', ms: 3600, status: 'done' as const },
    { id: 'h1/keystone/init', host: 'h1', service: 'keystone', phase: 'init', ms: 20000, status: 'done' as const },
  ];

  it('sums only the networking steps and reads the guest ping time from the log tag', () => {
    const text = formatNetworkingFigures(timings, 'x\n[i] h1: ... 3.2 s after server create [guest-ping-s=3.2]\n');
    expect(text).toContain('  ovn-controller/start          4.1 s');
    expect(text).toContain('  sum                           10.0 s');
    expect(text).not.toContain('keystone');
    expect(text).toMatch(/answering ping at its floating IP: 3\.2 s$/);
  });

  it('says when no data path check ran', () => {
    expect(guestPingSeconds('no tag here')).toBeUndefined();
    expect(formatNetworkingFigures([], '')).toMatch(/- \(not measured: no data path check ran\)$/);
  });
});
