// openrc, clouds.yaml and the secrets file hold passwords: a link or file someone planted at (or
// beside) their path is never written through, and the result is 0600 whatever the umask.
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeOutputs } from '../../lib/outputs.ts';
import { writePrivateFile } from '../../lib/private-file.ts';
import { writeSecretsFile } from '../../lib/config/secrets.ts';
import { DEBIAN_SYSV, RecordingHost, makeContext } from '../fixtures/recording-host.ts';

let dir: string;
let victim: string;
let oldUmask: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stackts-private-'));
  victim = join(dir, 'victim');
  writeFileSync(victim, 'not yours\n', { mode: 0o644 });
  oldUmask = process.umask(0);
});
afterEach(() => {
  process.umask(oldUmask);
  rmSync(dir, { recursive: true, force: true });
});

const isPrivateRegularFile = (p: string) => {
  const st = lstatSync(p);
  return st.isFile() && (st.mode & 0o777) === 0o600;
};

describe('files that hold secrets on this machine', () => {
  it('writePrivateFile replaces a symlink at the path instead of writing through it, 0600 with umask 0, no temp file left', async () => {
    const file = join(dir, 'out');
    symlinkSync(victim, file);
    await writePrivateFile(file, 'secret\n');
    expect(readFileSync(victim, 'utf8')).toBe('not yours\n');
    expect(isPrivateRegularFile(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('secret\n');
    expect(readdirSync(dir).sort()).toEqual(['out', 'victim']);
  });

  it('openrc-admin, openrc-demo and clouds.yaml: planted links are replaced, their targets untouched', async () => {
    const ctx = makeContext(new RecordingHost({ facts: DEBIAN_SYSV }), DEBIAN_SYSV, { ADMIN_PASSWORD: 'adm1n-pw' });
    await writeOutputs(ctx.config, dir, ctx.host, 'http://10.0.0.5:5000/v3');
    const names = ['openrc-admin', 'openrc-demo', 'clouds.yaml'];
    for (const n of names) {
      rmSync(join(dir, n));
      symlinkSync(victim, join(dir, n));
    }
    const written = await writeOutputs(ctx.config, dir, ctx.host, 'http://10.0.0.5:5000/v3');
    expect(written.files.map((f) => f.slice(dir.length + 1)).sort()).toEqual([...names].sort());
    expect(readFileSync(victim, 'utf8')).toBe('not yours\n');
    for (const n of names) {
      expect(isPrivateRegularFile(join(dir, n)), n).toBe(true);
      expect(readFileSync(join(dir, n), 'utf8')).toContain('adm1n-pw');
    }
  });

  it('the secrets file: a link at its path is replaced, never followed', async () => {
    const file = join(dir, '.stack-secrets');
    symlinkSync(victim, file);
    await writeSecretsFile(file, new Map([['ADMIN_PASSWORD', 'pw']]));
    expect(readFileSync(victim, 'utf8')).toBe('not yours\n');
    expect(isPrivateRegularFile(file)).toBe(true);
  });
});
