import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapHolds, keyRepositoriesScript } from '../../plugins/keystone/index.ts';
import type { CatalogEntry } from '../../lib/openstack/keystone.ts';

const URL = 'http://10.99.0.11:5000/v3/';
const identity = (eps: { interface: 'public' | 'internal' | 'admin'; url?: string; region_id?: string }[]): CatalogEntry[] => [
  { id: 'k', type: 'identity', name: 'keystone', endpoints: eps.map((e, i) => ({ id: String(i), interface: e.interface, url: e.url ?? 'http://10.99.0.11:5000/v3/', region_id: e.region_id ?? 'RegionOne' })) },
  { id: 'g', type: 'image', name: 'glance', endpoints: [{ id: 'x', interface: 'public', url: 'http://10.99.0.11:9292', region_id: 'RegionOne' }] },
];
const all = [{ interface: 'public' as const }, { interface: 'internal' as const }, { interface: 'admin' as const }];

describe('keystone init on a re-run', () => {
  it('bootstrap is skipped only when all three identity endpoints are at our URL in our region', () => {
    expect(bootstrapHolds(identity(all), URL, 'RegionOne')).toMatch(/admin logs in .* http:\/\/10\.99\.0\.11:5000\/v3 in RegionOne/);
    // Seed 001: one endpoint on another host; bootstrap must run and repair it.
    expect(bootstrapHolds(identity([all[0]!, all[1]!, { interface: 'admin', url: 'http://controller:5000/v3/' }]), URL, 'RegionOne')).toBeUndefined();
    expect(bootstrapHolds(identity(all.slice(0, 2)), URL, 'RegionOne')).toBeUndefined();
    expect(bootstrapHolds(identity(all), URL, 'regionOne')).toBeUndefined();
    expect(bootstrapHolds([], URL, 'RegionOne')).toBeUndefined();
  });

  it('the key setup runs keystone-manage only for a repository whose key 0 is missing, empty or not keystone\'s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stackts-ks-'));
    try {
      const calls = join(dir, 'calls');
      writeFileSync(calls, '');
      // keystone-manage and stat stand-ins: the script's decisions are what is under test.
      writeFileSync(join(dir, 'keystone-manage'), `#!/bin/sh\necho "$1" >> ${calls}\n`);
      const owners = join(dir, 'owners');
      writeFileSync(join(dir, 'stat'), `#!/bin/sh\ngrep -F "$3 " ${owners} | cut -d' ' -f2\n`);
      for (const f of ['keystone-manage', 'stat']) chmodSync(join(dir, f), 0o755);
      // `[ -s FILE ]` is the shell's own test, so the repositories are faked by rewriting the paths.
      const script = keyRepositoriesScript().replaceAll('/etc/keystone/', `${dir}/`);
      const run = async () => {
        writeFileSync(calls, '');
        await execa('sh', ['-c', script], { env: { PATH: `${dir}:/usr/bin:/bin` } });
        return readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean);
      };
      writeFileSync(owners, '');
      expect(await run()).toEqual(['fernet_setup', 'credential_setup']);

      await execa('sh', ['-c', `mkdir -p ${dir}/fernet-keys ${dir}/credential-keys && echo k > ${dir}/fernet-keys/0 && echo k > ${dir}/credential-keys/0`]);
      writeFileSync(owners, `${dir}/fernet-keys/0 keystone\n${dir}/credential-keys/0 keystone\n`);
      expect(await run()).toEqual([]);

      writeFileSync(owners, `${dir}/fernet-keys/0 keystone\n${dir}/credential-keys/0 root\n`);
      expect(await run()).toEqual(['credential_setup']);

      writeFileSync(join(dir, 'fernet-keys/0'), '');
      writeFileSync(owners, `${dir}/fernet-keys/0 keystone\n${dir}/credential-keys/0 keystone\n`);
      expect(await run()).toEqual(['fernet_setup']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
