import { describe, expect, it } from 'vitest';
import { formatTimingTable, phaseTotals, type TimingRecord } from '../../lib/timing.ts';

const r = (id: string, host: string, service: string, phase: string, ms: number, status: TimingRecord['status'] = 'done'): TimingRecord => ({ id, host, service, phase, ms, status });

describe('timing', () => {
  const records = [
    r('h1/glance/start', 'h1', 'glance', 'start', 1500),
    r('h1/glance/install', 'h1', 'glance', 'install', 12_000),
    r('h1/keystone/install', 'h1', 'keystone', 'install', 8000),
    r('h1/keystone/init', 'h1', 'keystone', 'init', 0, 'skipped'),
    r('h1/glance/init', 'h1', 'glance', 'init', 2500, 'failed'),
  ];

  it('phaseTotals sums per phase in lifecycle order', () => {
    expect(phaseTotals(records)).toEqual({ install: 20_000, init: 2500, start: 1500 });
    expect(Object.keys(phaseTotals(records))).toEqual(['install', 'init', 'start']);
  });

  it('formats aligned per-service rows with phase totals', () => {
    const text = formatTimingTable(records, 30_000);
    const table = text.split('\n\n')[0]!.split('\n');
    expect(table).toEqual([
      'service    install  init  start  total',
      '---------  -------  ----  -----  -----',
      'glance        12.0  2.5!    1.5  16.0!',
      'keystone       8.0  skip      -    8.0',
      '---------  -------  ----  -----  -----',
      'all (sum)     20.0   2.5    1.5   24.0',
    ]);
    expect(text).toContain('Wall clock: 30.0 s');
  });

  it('names host/service rows when several hosts ran', () => {
    const text = formatTimingTable([r('a', 'h1', 'nova', 'start', 1000), r('b', 'h2', 'nova', 'start', 2000)], 2100);
    expect(text).toContain('h1/nova');
    expect(text).toContain('h2/nova');
  });
});
