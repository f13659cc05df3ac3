// --json on plan and status through the command line, on this machine (both only read): one JSON
// document on stdout that parses and holds no password; without --json the text is as before.
// And the export command end to end: the files written, nothing secret printed.
import { execa } from 'execa';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapedForms } from '../../lib/log.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const SECRETS = {
  ADMIN_PASSWORD: `Js@n$adm:/'x`,
  DATABASE_PASSWORD: 'Js@n$db%#"q',
  RABBIT_PASSWORD: 'Js@n\\rb{q}',
  SERVICE_PASSWORD: 'Js@n$svc z',
  KEYSTONE_DB_PASSWORD: 'Js-kdb-0001',
  GLANCE_DB_PASSWORD: 'Js-gdb-0002',
  PLACEMENT_DB_PASSWORD: 'Js-pdb-0003',
  NOVA_DB_PASSWORD: 'Js-ndb-0004',
  NEUTRON_DB_PASSWORD: 'Js-qdb-0005',
  MEMCACHE_SECRET_KEY: 'Js-mck-0006',
  METADATA_PROXY_SHARED_SECRET: 'Js-mps-0007',
};

let dir: string;
const stack = (args: string[]) => execa(join(REPO, 'stack.ts'), [...args, '--config', join(dir, 'localrc')], { cwd: dir, reject: false, env: { CI: 'true' } });
const noSecret = (text: string) => {
  for (const [name, v] of Object.entries(SECRETS)) for (const form of escapedForms(v)) expect(text.includes(form), `${name} shown`).toBe(false);
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stackts-json-'));
  writeFileSync(join(dir, 'image.img'), 'only read by the preflight');
  writeFileSync(join(dir, 'localrc'), `TARGET_HOST=local\nIMAGE_URLS=${join(dir, 'image.img')}\n`);
  appendFileSync(join(dir, 'localrc'), Object.entries(SECRETS).map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'\n`).join(''));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--json', () => {
  it('plan --json: tasks, the address table and the changed files, no password', async () => {
    const r = await stack(['plan', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.hosts[0]).toMatchObject({ host: 'local' });
    expect(doc.tasks.map((t: { id: string }) => t.id)).toContain('local/keystone/init');
    expect(doc.tasks.find((t: { id: string }) => t.id === 'local/glance/init').after.length).toBeGreaterThan(0);
    expect(Object.keys(doc.addresses.apis)).toContain('identity');
    expect(doc.addresses.transportUrl).toMatch(/^rabbit:\/\/stackrabbit:\*\*\*@/);
    expect(doc.changedFiles.map((f: { path: string }) => f.path)).toContain('/etc/nova/nova.conf');
    expect(doc.passwordsNotKeptYet).toEqual([]);
    noSecret(r.stdout + r.stderr);
    // Without --json: the text, as before.
    const text = await stack(['plan']);
    expect(text.stdout).toMatch(/^Plan for local \(/);
    expect(text.stdout).toContain('Config file changes:');
  }, 120_000);

  it('status --json: each service per host with its state and pid, no password', async () => {
    const r = await stack(['status', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.hosts).toHaveLength(1);
    const services = doc.hosts[0].services as Array<{ service: string; daemon: string; state: string; pid: number | null }>;
    expect(services.map((s) => s.service)).toContain('keystone');
    for (const s of services) {
      expect(['running', 'stopped']).toContain(s.state);
      expect(s.pid === null || Number.isInteger(s.pid)).toBe(true);
    }
    noSecret(r.stdout + r.stderr);
    const text = await stack(['status']);
    expect(text.stdout.split('\n')[0]).toMatch(/^local\s+mariadb\s+mariadb\s+(stopped|running \(pid \d+\))$/);
  }, 120_000);

  it('--json with a command that has no JSON output is refused (exit 2)', async () => {
    const r = await stack(['unstack', '--json']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--json goes with plan, verify, status, not with unstack.');
  });
});

describe('./stack.ts export kolla-ansible DIR', () => {
  it('writes the three files, passwords.yml 0600, and prints no password', async () => {
    // This machine has no idle interface to give Neutron: name one, as the refusal says to.
    appendFileSync(join(dir, 'localrc'), 'KOLLA_EXTERNAL_INTERFACE=veth-ext\n');
    const r = await stack(['export', 'kolla-ansible', 'kolla']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("Wrote kolla-ansible's inventory kolla/multinode, kolla/globals.yml and kolla/passwords.yml");
    expect(statSync(join(dir, 'kolla', 'passwords.yml')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'kolla', 'multinode'), 'utf8')).toMatch(/^\[deployment\]\nlocalhost ansible_connection=local$/m);
    expect(readFileSync(join(dir, 'kolla', 'globals.yml'), 'utf8')).toContain('neutron_external_interface: "veth-ext"');
    noSecret(r.stdout + r.stderr);
  }, 120_000);

  it('a wrong format or a missing directory is a usage error (exit 2)', async () => {
    const r = await stack(['export', 'kolla']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('export takes a format and a directory: ./stack.ts export kolla-ansible DIR');
    const f = await stack(['export', 'openstack-ansible', 'x']);
    expect(f.stderr).toContain('export writes kolla-ansible, not "openstack-ansible"');
  });
});
