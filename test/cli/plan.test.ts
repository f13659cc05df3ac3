// `./stack.ts plan` on this machine: the ordered tasks and the config diffs, and not one byte
// changed anywhere (checksums of the config dir and of every file a stack would write, before/after).

import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');
const WATCHED = ['/etc/mysql', '/etc/rabbitmq', '/etc/memcached.conf', '/etc/keystone', '/etc/glance', '/etc/placement', '/etc/nova', '/etc/openstack', '/var/lib/stack-ts', '/var/log/stack-ts'];
const SECRETS = { ADMIN_PASSWORD: `Pl@n$adm:/'x`, DATABASE_PASSWORD: `Pl@n$db%#`, RABBIT_PASSWORD: `Pl@n$rb"q`, SERVICE_PASSWORD: `Pl@n$svc z` };

/** path -> sha256 (or 'dir'/'missing') for everything under the given roots. */
function snapshot(roots: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    if (!existsSync(p)) return void (out[p] = 'missing');
    const st = statSync(p);
    if (st.isDirectory()) {
      out[p] = `dir ${st.mode}`;
      for (const e of readdirSync(p)) walk(join(p, e));
    } else out[p] = `${st.mode} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
  };
  roots.forEach(walk);
  return out;
}

describe('./stack.ts plan', () => {
  it('prints the ordered tasks and diffs and changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stackts-plan-'));
    try {
      const localrc = join(dir, 'localrc');
      copyFileSync(join(REPO, 'localrc.example'), localrc);
      appendFileSync(localrc, Object.entries(SECRETS).map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'\n`).join(''));
      // plan runs stack's preflight: the default image's server is not reachable from a test machine.
      writeFileSync(join(dir, 'image.img'), 'not a real image, only read by the preflight');
      appendFileSync(localrc, `IMAGE_URLS=${join(dir, 'image.img')}\n`);
      const before = snapshot([dir, ...WATCHED]);
      const r = await execa(join(REPO, 'stack.ts'), ['plan', '--config', localrc], { cwd: dir, reject: false, env: { CI: 'true' } });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(snapshot([dir, ...WATCHED])).toEqual(before);
      const out = r.stdout;
      // Tasks in dependency order: the database before keystone, keystone before glance, nova after placement.
      const order = ['preflight', 'install (one transaction)', 'mariadb', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova', 'nova-compute', 'mariadb: verify'];
      const at = order.map((t) => out.indexOf(t));
      expect(at.every((i) => i >= 0), out).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);
      // Diffs of the files stack would write, with passwords masked.
      expect(out).toMatch(/\+\+\+ \/etc\/glance\/glance-api\.conf/);
      expect(out).toMatch(/\+connection = mysql\+pymysql:\/\/glance@127\.0\.0\.1\/glance\?charset=utf8&read_default_file=\/etc\/glance\/stack-db\.cnf/);
      expect(out).toMatch(/\+\+\+ \/etc\/nova\/nova\.conf/);
      expect(out).toMatch(/\+password = \*\*\*/);
      for (const v of Object.values(SECRETS)) expect(out + r.stderr).not.toContain(v);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('says which passwords it made up (no .stack-secrets), and writes none down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stackts-plan-'));
    try {
      writeFileSync(join(dir, 'image.img'), 'only read by the preflight');
      writeFileSync(join(dir, 'localrc'), `TARGET_HOST=local\nIMAGE_URLS=${join(dir, 'image.img')}\nADMIN_PASSWORD='Pl@n-admin-1'\n`);
      const r = await execa(join(REPO, 'stack.ts'), ['plan', '--config', join(dir, 'localrc')], { cwd: dir, reject: false, env: { CI: 'true' } });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/no password is kept yet for DATABASE_PASSWORD, RABBIT_PASSWORD, SERVICE_PASSWORD, [^(]* in \.stack-secrets: a stack would generate them once/);
      expect(r.stdout).not.toMatch(/kept yet for [^(]*ADMIN_PASSWORD/);
      expect(existsSync(join(dir, '.stack-secrets'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
