import { describe, expect, it } from 'vitest';
import { formatFanout, perHostSums } from '../../bench/fanout.ts';

describe('the fan-out bench', () => {
  it('sums task time per host', () => {
    const sums = perHostSums([
      { id: 'controller/keystone/init', host: 'controller', ms: 1000, status: 'done' },
      { id: 'compute1/nova-compute/start', host: 'compute1', ms: 500, status: 'done' },
      { id: 'controller/nova/init', host: 'controller', ms: 2500, status: 'done' },
      { id: 'all/verify', ms: 9000, status: 'done' },
    ]);
    expect([...sums]).toEqual([
      ['controller', 3500],
      ['compute1', 500],
    ]);
  });

  it('prints a row per layout and the cost of one more compute', () => {
    const text = formatFanout([
      { computes: 1, wallMs: 100_000, perHostMs: new Map([['compute10', 1_000], ['compute2', 2_000], ['controller', 90_000], ['compute1', 20_000]]) },
      { computes: 5, wallMs: 140_000, perHostMs: new Map([['controller', 95_000]]) },
    ]);
    expect(text.split('\n')[1]).toBe('1         100.0 s     controller 90.0, compute1 20.0, compute2 2.0, compute10 1.0');
    expect(text).toMatch(/one more compute costs 10\.0 s of wall clock \(from 1 to 5 computes\)$/);
  });
});
