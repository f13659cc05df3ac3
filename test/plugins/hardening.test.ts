// Small hardening pieces: keystone bootstrap refuses an empty password; a config file whose
// content is right but whose mode or owner is not is corrected; each service has its own DB password.
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { writeIfChanged } from '../../lib/config-files.ts';
import { authtoken, dbPasswordFile } from '../../lib/service/config.ts';
import { withPasswordFromStdin } from '../../plugins/keystone/index.ts';
import { DEBIAN_SYSV, RecordingHost, makeContext } from '../fixtures/recording-host.ts';

describe('keystone bootstrap password from stdin', () => {
  const script = withPasswordFromStdin('OS_BOOTSTRAP_PASSWORD', 'echo "ran with $OS_BOOTSTRAP_PASSWORD"');
  it('runs the command with the password it read', () => {
    expect(execFileSync('sh', ['-c', script], { input: 'pw x\n', encoding: 'utf8' })).toBe('ran with pw x\n');
  });
  for (const [what, input] of [['nothing', ''], ['an empty line', '\n']] as const) {
    it(`stops when ${what} arrives`, () => {
      const r = spawnSync('sh', ['-c', script], { input, encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('OS_BOOTSTRAP_PASSWORD: no password arrived on stdin\n');
    });
  }
});

describe('config files', () => {
  it('mode and owner are corrected when the content is unchanged', async () => {
    const host = new RecordingHost({ files: { '/etc/glance/stack-db.cnf': 'x' } });
    host.reply(/^stat /, { stdout: '644 root:root' });
    const ctx = makeContext(host, DEBIAN_SYSV);
    const changed = await writeIfChanged(ctx, { path: '/etc/glance/stack-db.cnf', content: 'x', mode: 0o640, owner: 'root:glance' });
    expect(changed).toBe(false);
    expect(host.commandLines.filter((c) => !c.startsWith('stat '))).toEqual(['chmod 640 /etc/glance/stack-db.cnf', 'chown -- root:glance /etc/glance/stack-db.cnf']);
    expect(host.writes).toEqual([]);
  });
  it('nothing is run when mode and owner are right', async () => {
    const host = new RecordingHost({ files: { '/etc/x.conf': 'x' } });
    host.reply(/^stat /, { stdout: '640 root:glance' });
    const ctx = makeContext(host, DEBIAN_SYSV);
    await writeIfChanged(ctx, { path: '/etc/x.conf', content: 'x', mode: 0o640, owner: 'root:glance' });
    expect(host.commandLines.filter((c) => !c.startsWith('stat '))).toEqual([]);
  });
});

describe('service secrets', () => {
  const ctx = makeContext(new RecordingHost(), DEBIAN_SYSV, {
    DATABASE_PASSWORD: 'root-db-pw',
    GLANCE_DB_PASSWORD: 'glance-db-pw',
    NOVA_DB_PASSWORD: 'nova-db-pw',
    MEMCACHE_SECRET_KEY: 'cache-key',
  });
  it("each service's option file holds its own password, never the database root's", () => {
    expect(dbPasswordFile(ctx, 'glance').content).toContain('glance-db-pw');
    expect(dbPasswordFile(ctx, 'nova').content).toContain('nova-db-pw');
    for (const s of ['glance', 'nova', 'keystone', 'placement', 'neutron']) expect(dbPasswordFile(ctx, s).content).not.toContain('root-db-pw');
  });
  it('[keystone_authtoken] encrypts the token cache with the generated key', () => {
    expect(authtoken(ctx, 'glance', 'pw')).toMatchObject({ memcache_security_strategy: 'ENCRYPT', memcache_secret_key: 'cache-key' });
  });
});
