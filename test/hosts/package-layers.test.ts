import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { claimLayer, LAYER_MARKER, newestLayerLike, type LayerKey } from './layer-cache.ts';
import { aptUpdate, provideLayers, specPackages } from './package-layers.ts';
import type { TestHost, TestHosts } from './index.ts';
import { useTempCache } from './temp-cache.ts';

const cacheNow = useTempCache('stackts-pkglayers-');

const base = 'base-bookworm-0123456789abcdef';
const host = { name: 'h0' } as TestHost;

type Reply = { exitCode: number; stdout?: string; stderr?: string };
/** An exec that answers each command from `answer` and records what it was asked. */
function fakeExec(answer: (cmd: string) => Reply) {
  const calls: { cmd: string; timeoutMs?: number }[] = [];
  const exec = async (_h: TestHost, cmd: string, timeoutMs?: number) => {
    calls.push({ cmd, timeoutMs });
    const r = answer(cmd);
    return { exitCode: r.exitCode, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  return { exec, calls };
}

async function makeLayer(k: LayerKey): Promise<string> {
  const got = await claimLayer(k);
  if (!('claim' in got)) throw new Error('expected to make it');
  return await got.claim.commit();
}

describe('apt-get update for a layer key', () => {
  it('bounds each try on the host and tries once more when the first gets no answer', async () => {
    let n = 0;
    const { exec, calls } = fakeExec(() => (++n === 1 ? { exitCode: 124, stdout: 'Get:1 http://deb.debian.org bookworm InRelease' } : { exitCode: 0 }));
    expect(await aptUpdate(exec, host, 2, 140)).toBeUndefined();
    expect(calls).toHaveLength(2);
    // The host's own timeout ends apt-get (and frees the lists' lock) before the SSH client gives up.
    expect(calls[0]!.cmd).toMatch(/timeout -k 5 140 apt-get .*-o Acquire::http::Timeout=30 .*update$/);
    expect(calls[0]!.timeoutMs).toBeGreaterThan(140_000);
  });

  it('says what each try printed and how it ended when every try fails', async () => {
    let n = 0;
    const { exec } = fakeExec(() =>
      ++n === 1 ? { exitCode: 124, stdout: 'Ign:1 http://deb.debian.org bookworm InRelease' } : { exitCode: 100, stderr: 'E: Could not get lock' },
    );
    const why = await aptUpdate(exec, host, 2, 140);
    expect(why).toMatch(/^apt-get update on h0 failed 2 times/);
    expect(why).toContain('try 1: no end in 140 s (stopped)\nIgn:1 http://deb.debian.org bookworm InRelease');
    expect(why).toMatch(/try 2: exit 100 after [\d.]+ s\nE: Could not get lock/);
  });
});

describe('the layer that stands in when the mirror does not answer', () => {
  const key: LayerKey = { suite: 'bookworm', label: 'controller', base, packages: ['keystone', 'mariadb-server'], versions: ['keystone 1'] };

  it('is the newest finished layer of the same suite, label, base and package list', async () => {
    const older = await makeLayer(key);
    expect(newestLayerLike({ suite: key.suite, label: key.label, base, packages: [...key.packages].reverse() })?.dir).toBe(older);
    // Two finished ones at once (a run still had the older mounted when the newer was made): the newer.
    const newer = join(cacheNow(), 'layer-bookworm-controller-00000000000000bb');
    mkdirSync(newer);
    const later = new Date(Date.now() + 60_000).toISOString();
    writeFileSync(join(newer, LAYER_MARKER), JSON.stringify({ ...key, versions: ['keystone 2'], made: later }));
    mkdirSync(join(cacheNow(), 'layer-bookworm-controller-00000000000000cc')); // half-made: no marker
    const got = newestLayerLike({ suite: key.suite, label: key.label, base, packages: key.packages });
    expect(got).toEqual({ dir: newer, made: later });

    expect(newestLayerLike({ ...key, label: 'compute' })).toBeUndefined();
    expect(newestLayerLike({ ...key, base: 'base-bookworm-fedcba9876543210' })).toBeUndefined();
    expect(newestLayerLike({ ...key, packages: ['keystone'] })).toBeUndefined();
  });
});

describe('provideLayers when apt-get update fails', () => {
  const spec = { label: 'db', lists: ['mariadb'] };
  const maker = {
    suite: 'bookworm',
    hosts: [host],
    lowerDirs: [[`/var/cache/stack-ts-test/${base}`]],
    run: { runDir: '/nonexistent-run' },
  } as unknown as TestHosts;
  const updateFails = (cmd: string): Reply => (cmd.includes(' update') ? { exitCode: 100, stderr: 'E: Failed to fetch InRelease' } : { exitCode: 0 });

  it('uses the last layer made for the same package list, and installs nothing', async () => {
    const packages = await specPackages(spec);
    const last = await makeLayer({ suite: 'bookworm', label: 'db', base, packages, versions: ['mariadb-server 1'] });
    const { exec, calls } = fakeExec(updateFails);
    const lines: string[] = [];
    expect(await provideLayers(maker, [spec], exec, (l) => lines.push(l))).toEqual([last]);
    expect(calls.every((c) => c.cmd.endsWith(' update'))).toBe(true);
    expect(lines.join('\n')).toContain(`using the layer of the same package list made `);
  });

  it('fails naming the host and what apt said when no such layer is cached', async () => {
    const { exec } = fakeExec(updateFails);
    await expect(provideLayers(maker, [spec], exec, () => {})).rejects.toThrow(
      /apt-get update on h0 failed 2 times[\s\S]*E: Failed to fetch InRelease[\s\S]*No layer of db \(bookworm\) is cached/,
    );
  });
});
