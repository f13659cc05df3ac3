import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { claimLayer, findLayer, LAYER_MARKER, layerDir, layerName, olderLayers, type LayerKey } from './layer-cache.ts';
import { parseSimulatedInstall } from './package-layers.ts';
import { useTempCache } from './temp-cache.ts';

const key: LayerKey = {
  suite: 'bookworm',
  label: 'controller',
  base: 'base-bookworm-0123456789abcdef',
  packages: ['keystone', 'mariadb-server'],
  versions: ['keystone 2:22.0.2-0+deb12u1', 'mariadb-server 1:10.11.11-0+deb12u1'],
};

const cacheNow = useTempCache('stackts-layers-');

/** Makes the layer of `k` the way package-layers.ts does: claim, fill, commit. */
async function make(k: LayerKey, content: string): Promise<string> {
  const got = await claimLayer(k);
  if ('dir' in got) return got.dir;
  writeFileSync(join(got.claim.tmpDir, 'content'), content);
  return await got.claim.commit();
}

describe('package layer cache', () => {
  it('a changed package version, list, base or suite names another layer; the order of lists does not', () => {
    const name = layerName(key);
    expect(layerName({ ...key, versions: ['keystone 2:22.0.2-0+deb12u2', key.versions[1]!] })).not.toBe(name);
    expect(layerName({ ...key, packages: [...key.packages, 'glance-api'] })).not.toBe(name);
    expect(layerName({ ...key, base: 'base-bookworm-fedcba9876543210' })).not.toBe(name);
    expect(layerName({ ...key, suite: 'trixie' })).not.toBe(name);
    expect(layerName({ ...key, packages: [...key.packages].reverse(), versions: [...key.versions].reverse() })).toBe(name);
    expect(name).toMatch(/^layer-bookworm-controller-[0-9a-f]{16}$/);
  });

  it('a new version makes a new layer and prunes the older one of the same label, not another label', async () => {
    const first = await make(key, 'v1');
    const other = await make({ ...key, label: 'compute' }, 'compute');
    expect(await make(key, 'again')).toBe(first); // cached: not made twice
    expect(readFileSync(join(first, 'content'), 'utf8')).toBe('v1');

    const bumped = { ...key, versions: ['keystone 2:22.0.2-0+deb12u2', key.versions[1]!] };
    expect(findLayer(bumped)).toBeUndefined();
    const second = await make(bumped, 'v2');
    expect(second).not.toBe(first);
    expect(readFileSync(join(second, 'content'), 'utf8')).toBe('v2');
    expect(existsSync(first)).toBe(false);
    expect(existsSync(join(other, LAYER_MARKER))).toBe(true);
  });

  it('a layer left half-written by a killed maker is never used, and is made again', async () => {
    const dir = layerDir(key);
    // A maker killed before its rename leaves a .tmp; one killed in an older format's rename a dir without marker.
    mkdirSync(`${dir}.tmp`, { recursive: true });
    writeFileSync(join(`${dir}.tmp`, 'content'), 'half');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'content'), 'half');
    expect(findLayer(key)).toBeUndefined();

    const got = await claimLayer(key);
    expect('claim' in got).toBe(true);
    if (!('claim' in got)) return;
    expect(readdirSync(got.claim.tmpDir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    writeFileSync(join(got.claim.tmpDir, 'content'), 'whole');
    expect(await got.claim.commit()).toBe(dir);
    expect(readFileSync(join(dir, 'content'), 'utf8')).toBe('whole');
    expect(existsSync(`${dir}.tmp`)).toBe(false);
    expect(findLayer(key)).toBe(dir);
  });

  it('an abandoned make leaves no layer and frees the lock for the next maker', async () => {
    const got = await claimLayer(key);
    if (!('claim' in got)) throw new Error('expected to make it');
    writeFileSync(join(got.claim.tmpDir, 'content'), 'broken');
    await got.claim.abandon();
    expect(findLayer(key)).toBeUndefined();
    expect(existsSync(got.claim.tmpDir)).toBe(false);
    const again = await claimLayer(key, 5_000); // would time out if the lock were still held
    expect('claim' in again).toBe(true);
    if ('claim' in again) await again.claim.abandon();
  });

  it('two processes asking for the same layer at once make it once and both get it', async () => {
    const mod = resolve(import.meta.dirname, 'layer-cache.ts');
    const count = join(cacheNow(), 'made-count');
    const script = `
      import { appendFileSync, writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      const { claimLayer } = await import(${JSON.stringify(mod)});
      const got = await claimLayer(${JSON.stringify(key)});
      if ('dir' in got) { console.log(got.dir); } else {
        appendFileSync(${JSON.stringify(count)}, process.pid + '\\n');
        await new Promise((r) => setTimeout(r, 1500)); // a make takes a while: the other process must wait
        writeFileSync(join(got.claim.tmpDir, 'content'), String(process.pid));
        console.log(await got.claim.commit());
      }`;
    const env = { ...process.env, STACK_TEST_CACHE: cacheNow() };
    const file = join(cacheNow(), 'claim.mts');
    writeFileSync(file, script);
    const runs = await Promise.all([1, 2].map(() => execa('npx', ['tsx', file], { env, cwd: resolve(import.meta.dirname, '../..') })));
    const dirs = runs.map((r) => r.stdout.trim());
    expect(dirs[0]).toBe(layerDir(key));
    expect(dirs[1]).toBe(dirs[0]);
    expect(readFileSync(count, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(readFileSync(join(dirs[0]!, 'content'), 'utf8')).toBe(readFileSync(count, 'utf8').trim());
  }, 60_000);

  it('pruning candidates: same suite and label only, finished or half-made', () => {
    const own = layerName(key);
    const names = [
      own,
      'layer-bookworm-controller-00000000000000aa',
      'layer-bookworm-controller-00000000000000bb.tmp',
      'layer-bookworm-controller-extra-00000000000000cc',
      'layer-trixie-controller-00000000000000dd',
      'base-bookworm-00000000000000ee',
    ];
    expect(olderLayers(names, key)).toEqual(['layer-bookworm-controller-00000000000000aa', 'layer-bookworm-controller-00000000000000bb.tmp']);
  });

  it("a new layer prunes an older label's half-made tree whose maker is gone, not one still being made", async () => {
    const older = { ...key, versions: ['keystone 1'] };
    const beingMade = await claimLayer(older);
    if (!('claim' in beingMade)) throw new Error('expected to make it');
    await make(key, 'new');
    expect(existsSync(beingMade.claim.tmpDir)).toBe(true); // its maker holds the lock
    await beingMade.claim.abandon();
    mkdirSync(`${layerDir(older)}.tmp`); // as a killed maker leaves it
    await make({ ...key, versions: ['keystone 3'] }, 'newer');
    expect(existsSync(`${layerDir(older)}.tmp`)).toBe(false);
  });

  it("reads apt-get -s's plan as name and version", () => {
    const out = [
      'NOTE: This is only a simulation!',
      'Inst libfoo1 (1.2-3 Debian:12.10/stable [amd64])',
      'Inst mariadb-common [1:10.11.6-0+deb12u1] (1:10.11.11-0+deb12u1 Debian-Security:12/stable-security [all])',
      'Conf libfoo1 (1.2-3 Debian:12.10/stable [amd64])',
      '',
    ].join('\n');
    expect(parseSimulatedInstall(out)).toEqual(['libfoo1 1.2-3', 'mariadb-common 1:10.11.11-0+deb12u1']);
  });
});
