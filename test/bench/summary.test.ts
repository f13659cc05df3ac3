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
    expect(out).toMatch(/^ratio all-in-one \/ floor: +2\.00$/m);
  });

  it('shows "-" for a part that did not run, and no ratio with it', () => {
    const out = formatSummary({ threeHost: { wallMs: 240_000, taskSumMs: 300_000 } });
    expect(out).toMatch(/^all-in-one total: +-$/m);
    expect(out).toMatch(/^ratio three-host \/ all-in-one: +- /m);
    expect(out).toMatch(/^ratio all-in-one \/ floor: +-$/m);
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
