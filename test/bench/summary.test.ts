// npm run bench's comparison lines and the floor's package set.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatSummary, taskSumMs } from '../../bench/summary.ts';
import { allInOnePackages } from '../../bench/floor.ts';
import { loadConfig } from '../../lib/config/index.ts';
import type { HostFacts } from '../../lib/host/types.ts';
import type { TimingRecord } from '../../lib/timing.ts';

describe('the bench summary', () => {
  const rec = (ms: number, status: TimingRecord['status'] = 'done'): TimingRecord => ({ id: `t${ms}`, ms, status });

  it('sums the time of tasks that ran, not the skipped ones', () => {
    expect(taskSumMs([rec(1000), rec(2500, 'failed'), rec(9000, 'skipped')])).toBe(3500);
  });

  it('prints both totals, the floor, the ratios and each run against its wall clock', () => {
    const out = formatSummary({
      allInOne: { wallMs: 200_000, taskSumMs: 260_000 },
      threeHost: { wallMs: 240_000, taskSumMs: 480_000 },
      floor: { wallMs: 100_000, packages: 412 },
    });
    expect(out).toMatch(/^all-in-one total: +200\.0 s {3}tasks sum 260\.0 s, 1\.30x the wall clock/m);
    expect(out).toMatch(/^three-host total: +240\.0 s {3}tasks sum 480\.0 s, 2\.00x the wall clock/m);
    expect(out).toMatch(/^package floor: +100\.0 s {3}\(apt-get update \+ install of the same 412 packages\)/m);
    expect(out).toMatch(/^ratio three-host \/ all-in-one: +1\.20 /m);
    expect(out).toMatch(/^ratio all-in-one \/ floor: +2\.00 {3}\(goal <= 1\.2\)$/m);
  });

  it("issue 18's figures: the first all-in-one's whole command against the floor, both no-change re-runs, the slowest steps and the chain", () => {
    const rec = (id: string, start: number, end: number, after?: string[]): TimingRecord => {
      const [host, service, phase] = id.split('/');
      return { id, host, service, phase, ms: (end - start) * 1000, status: 'done', startMs: start * 1000, endMs: end * 1000, ...(after ? { after } : {}) };
    };
    const timings = [
      rec('h1/packages/install', 0, 220),
      rec('h1/mariadb/start', 220, 225, ['h1/packages/install']),
      rec('h1/keystone/init', 225, 260, ['h1/packages/install', 'h1/mariadb/start']),
      rec('h1/rabbitmq/start', 220, 244, ['h1/packages/install']),
      rec('h1/nova/init', 244, 300, ['h1/packages/install', 'h1/rabbitmq/start']),
      rec('h1/glance/init', 260, 280, ['h1/keystone/init']),
      rec('h1/nova-compute/verify', 300, 320, ['h1/nova/init', 'h1/glance/init']),
    ];
    const out = formatSummary({
      allInOne: { wallMs: 320_000, commandMs: 330_000, timings },
      floor: { wallMs: 220_000, packages: 400 },
      rerun: { firstMs: 330_000, sameMs: 16_500 },
      threeHostRerun: { firstMs: 800_000, sameMs: 80_000 },
    });
    expect(out).toMatch(/^ratio all-in-one \/ floor: +1\.50 {3}\(goal <= 1\.2; the first all-in-one's whole command, 330\.0 s\)$/m);
    // Against its own package step (220 s), which does not move with the floor's host and moment.
    expect(out).toMatch(/^ratio all-in-one \/ own install: +1\.50 {3}\(330\.0 s over its own package step's 220\.0 s/m);
    expect(out).toMatch(/^no-change re-run \/ first: +0\.050 {3}\(16\.5 s of the first run's 330\.0 s, the whole command; goal <= 0\.05\)$/m);
    expect(out).toMatch(/^three-host re-run \/ first: +0\.100 {3}\(80\.0 s of the first run's 800\.0 s, the whole command\)$/m);
    const slow = out.slice(out.indexOf('the 5 slowest steps left'));
    expect(slow.split('\n').slice(1, 6).map((l) => l.trim().split(/\s+/)[2])).toEqual(['packages/install', 'nova/init', 'keystone/init', 'rabbitmq/start', 'glance/init']);
    expect(out).toMatch(/longest chain after the package install \(first all-in-one\), 100\.0 s from the end of h1 packages\/install/);
    const chain = out.slice(out.indexOf('longest chain')).split('\n').slice(1, 4).map((l) => l.trim().split(/\s+/).slice(0, 4).join(' '));
    expect(chain).toEqual(['h1 rabbitmq/start 24.0 s', 'h1 nova/init 56.0 s', 'h1 nova-compute/verify 20.0 s']);
  });

  it('shows "-" for a part that did not run, and no ratio with it', () => {
    const out = formatSummary({ threeHost: { wallMs: 240_000, taskSumMs: 300_000 } });
    expect(out).toMatch(/^all-in-one total: +-$/m);
    expect(out).toMatch(/^ratio three-host \/ all-in-one: +- /m);
    expect(out).toMatch(/^ratio all-in-one \/ floor: +-$/m);
    expect(out).toMatch(/^no-change re-run \/ first: +-$/m);
    expect(out).not.toMatch(/slowest|longest chain/);
  });
});

describe("the floor's package set", () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const facts = { family: 'debian' } as HostFacts;

  it("is every enabled plugin's packages: the fake driver's python3-nova, not the hypervisor", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-floor-'));
    dirs.push(dir);
    await writeFile(join(dir, 'localrc'), 'VIRT_DRIVER=fake\n');
    const { config } = await loadConfig(join(dir, 'localrc'), { interactive: false, readOnly: true, env: {} });
    const pkgs = await allInOnePackages(config, facts);
    for (const p of ['mariadb-server', 'rabbitmq-server', 'memcached', 'keystone', 'glance-api', 'placement-api', 'neutron-server', 'nova-api', 'python3-nova']) expect(pkgs).toContain(p);
    expect(pkgs).not.toContain('nova-compute-kvm');
    expect(new Set(pkgs).size).toBe(pkgs.length);

    await writeFile(join(dir, 'localrc'), 'VIRT_DRIVER=fake\ndisable_service n-cpu\n');
    const noCompute = await allInOnePackages((await loadConfig(join(dir, 'localrc'), { interactive: false, readOnly: true, env: {} })).config, facts);
    expect(noCompute).not.toContain('python3-nova');
  });
});
