// What the bench reads out of a run's step records: the slowest steps and the critical path
// after the package install, on made-up records.
import { describe, expect, it } from 'vitest';
import { criticalPath, formatChain, formatSlowest, slowestSteps, stepLabel } from '../../bench/analysis.ts';
import type { TimingRecord } from '../../lib/timing.ts';

/** A step of host h1 that ran from `start` to `end` seconds after the run began. */
const step = (svcPhase: string, start: number, end: number, after?: string[], status: TimingRecord['status'] = 'done'): TimingRecord => {
  const [service, phase] = svcPhase.split('/');
  return { id: `h1/${svcPhase}`, host: 'h1', service, phase, ms: (end - start) * 1000, status, startMs: start * 1000, endMs: end * 1000, ...(after ? { after: after.map((a) => `h1/${a}`) } : {}) };
};

// The packages end at 100 s. mariadb starts at once; keystone's init waits for it, glance's for
// keystone's start; nova's init only for mariadb but is long; verify waits for everything.
const RUN: TimingRecord[] = [
  step('preflight/preflight', 0, 2),
  step('packages/install', 2, 100, ['preflight/preflight']),
  step('mariadb/start', 100, 104, ['packages/install']),
  step('keystone/init', 104.2, 134, ['packages/install', 'mariadb/start']),
  step('keystone/start', 134, 140, ['keystone/init']),
  step('glance/init', 140.5, 150, ['packages/install', 'keystone/start']),
  step('nova/init', 104, 160, ['packages/install', 'mariadb/start']),
  step('memcached/start', 100, 101, ['packages/install']),
  step('placement/register', 160, 160, ['nova/init'], 'skipped'),
  step('nova-compute/verify', 161, 181, ['mariadb/start', 'keystone/start', 'glance/init', 'nova/init', 'memcached/start', 'placement/register']),
];

describe('the five slowest steps', () => {
  it('longest first, skipped steps left out, with host/plugin/phase', () => {
    expect(slowestSteps(RUN, 5).map((r) => r.id)).toEqual(['h1/packages/install', 'h1/nova/init', 'h1/keystone/init', 'h1/nova-compute/verify', 'h1/glance/init']);
    const out = formatSlowest(RUN, 5);
    expect(out.split('\n')).toHaveLength(6);
    expect(out).toMatch(/^ {2}1\. h1 packages\/install +98\.0 s$/m);
    expect(out).toMatch(/^ {2}2\. h1 nova\/init +56\.0 s$/m);
    expect(out).toMatch(/^ {2}5\. h1 glance\/init +9\.5 s$/m);
    expect(out).not.toMatch(/placement/);
  });

  it('names the task where host/plugin/phase does not say which step it was', () => {
    expect(stepLabel({ id: 'h1/links/passed', host: 'h1', service: 'links', phase: 'verify', ms: 1, status: 'done' })).toBe('h1 links/verify [h1/links/passed]');
  });
});

describe('the longest chain after the package install', () => {
  it("walks back through each step's latest edge to the package install", () => {
    const c = criticalPath(RUN);
    expect(c.fromEdges).toBe(true);
    expect(c.anchor?.id).toBe('h1/packages/install');
    // nova/init and the skipped placement step both ended at 160 s: the one that took time is the link.
    expect(c.links.map((l) => l.record.id)).toEqual(['h1/mariadb/start', 'h1/nova/init', 'h1/nova-compute/verify']);
    expect(c.totalMs).toBe(81_000);
    // verify started 1 s after nova/init ended: the gap is shown.
    expect(c.links[2]!.gapMs).toBe(1000);
    const out = formatChain(c);
    expect(out).toMatch(/81\.0 s from the end of h1 packages\/install/);
    expect(out).toMatch(/^ {2}h1 nova\/init +56\.0 s$/m);
    expect(out).toMatch(/^ {2}h1 nova-compute\/verify +20\.0 s {3}\(started 1\.0 s after the link before ended\)$/m);
    expect(out).toMatch(/^ {2}steps +80\.0 s {3}\(the rest, 1\.0 s, between steps\)$/m);
  });

  it("names the run it is of (a re-run's chain is printed too)", () => {
    const c = criticalPath(RUN);
    expect(formatChain(c)).toMatch(/^longest chain after the package install \(first all-in-one\), /);
    expect(formatChain(c, 'three-host no-change re-run')).toMatch(/^longest chain after the package install \(three-host no-change re-run\), /);
    expect(formatSlowest(RUN, 5, 'no-change re-run').split('\n')[0]).toBe('the 5 slowest steps left (no-change re-run):');
  });

  it('without recorded edges: through the step that ended latest before each one started', () => {
    const bare = RUN.map(({ after: _a, ...r }) => r);
    const c = criticalPath(bare);
    expect(c.fromEdges).toBe(false);
    // verify started at 161 s: nova/init ended last before (160 s; memcached, keystone, glance earlier).
    expect(c.links.map((l) => l.record.id)).toEqual(['h1/mariadb/start', 'h1/nova/init', 'h1/nova-compute/verify']);
    expect(formatChain(c)).toMatch(/each link: the step that ended latest before the next started/);
  });

  it('a slower branch moves the chain: glance waiting on keystone when keystone takes longer than nova', () => {
    const slowKeystone = RUN.map((r) => (r.id === 'h1/keystone/init' ? { ...r, ms: 55_800, endMs: 160_000 } : r.id === 'h1/keystone/start' ? { ...r, startMs: 160_000, endMs: 161_000, ms: 1000 } : r.id === 'h1/glance/init' ? { ...r, startMs: 161_000, endMs: 170_000, ms: 9000 } : r.id === 'h1/nova-compute/verify' ? { ...r, startMs: 171_000, endMs: 191_000 } : r));
    const c = criticalPath(slowKeystone);
    expect(c.links.map((l) => l.record.id)).toEqual(['h1/mariadb/start', 'h1/keystone/init', 'h1/keystone/start', 'h1/glance/init', 'h1/nova-compute/verify']);
    expect(c.totalMs).toBe(91_000);
  });

  it('records without start and end times give no chain, and say so', () => {
    const c = criticalPath([{ id: 'a', ms: 5, status: 'done' }]);
    expect(c.links).toEqual([]);
    expect(formatChain(c)).toMatch(/no start and end times/);
  });
});
