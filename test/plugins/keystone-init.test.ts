import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

  it("the key setup makes keys 0 and 1 (32 random bytes, URL-safe base64, 0600) only where key 0 is missing, empty or not keystone's; keys in place are kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stackts-ks-'));
    try {
      const calls = join(dir, 'calls');
      const owners = join(dir, 'owners');
      // install, chown and stat stand-ins (the test need not run as root): owners are kept in a file.
      writeFileSync(join(dir, 'install'), `#!/bin/sh\necho "install $*" >> ${calls}\nfor a; do d="$a"; done\nmkdir -p "$d"\n`);
      writeFileSync(join(dir, 'chown'), `#!/bin/sh\necho "chown $*" >> ${calls}\nshift\nfor f; do grep -vF "$f " ${owners} > ${owners}.t; echo "$f keystone" >> ${owners}.t; mv ${owners}.t ${owners}; done\n`);
      writeFileSync(join(dir, 'stat'), `#!/bin/sh\ngrep -F "$3 " ${owners} | cut -d' ' -f2\n`);
      for (const f of ['install', 'chown', 'stat']) chmodSync(join(dir, f), 0o755);
      // `[ -s FILE ]` is the shell's own test, so the repositories are faked by rewriting the paths.
      const script = keyRepositoriesScript().replaceAll('/etc/keystone/', `${dir}/`);
      const run = async () => {
        writeFileSync(calls, '');
        await execa('sh', ['-c', script], { env: { PATH: `${dir}:/usr/bin:/bin` } });
        return readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' ')[0]);
      };
      const key = (repo: string, i: number) => readFileSync(join(dir, `${repo}-keys`, String(i)), 'utf8');
      writeFileSync(owners, '');
      expect(await run()).toEqual(['install', 'chown', 'install', 'chown']);
      const made = ['fernet', 'credential'].flatMap((r) => [key(r, 0), key(r, 1)]);
      for (const k of made) {
        // What Fernet takes: 44 characters of URL-safe base64, no newline, 32 bytes decoded.
        expect(k).toMatch(/^[A-Za-z0-9_-]{43}=$/);
        expect(Buffer.from(k, 'base64url')).toHaveLength(32);
      }
      expect(new Set(made).size).toBe(4);
      expect((statSync(join(dir, 'fernet-keys', '1')).mode & 0o777).toString(8)).toBe('600');

      // Everything in place: nothing is run, no key changes.
      expect(await run()).toEqual([]);
      expect(['fernet', 'credential'].flatMap((r) => [key(r, 0), key(r, 1)])).toEqual(made);

      // A credential key 0 that is root's: given back to keystone, not replaced.
      writeFileSync(owners, readFileSync(owners, 'utf8').replace(/(credential-keys\/0) keystone/, '$1 root'));
      expect(await run()).toEqual(['install', 'chown']);
      expect(key('credential', 0)).toBe(made[2]);

      // An empty fernet key 0: a new one; key 1 kept.
      writeFileSync(join(dir, 'fernet-keys', '0'), '');
      expect(await run()).toEqual(['install', 'chown']);
      expect(key('fernet', 0)).toMatch(/^[A-Za-z0-9_-]{43}=$/);
      expect(key('fernet', 0)).not.toBe(made[0]);
      expect(key('fernet', 1)).toBe(made[1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

});
