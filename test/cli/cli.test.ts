// The command line's contract: help, version, exit codes for bad input, errors naming file:line.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');
const stack = (args: string[], cwd = REPO) => execa(join(REPO, 'stack.ts'), args, { cwd, reject: false, env: { CI: 'true' } });

describe('stack.ts command line', () => {
  it('--help lists every command and the exit codes', async () => {
    const r = await stack(['--help']);
    expect(r.exitCode).toBe(0);
    for (const c of ['stack', 'unstack', 'clean', 'plan', 'verify', 'status', 'export kolla-ansible DIR', '--json', '--config', '--debug', '--yes', 'Exit codes: 0 ok, 1 a task failed, 2 bad input']) expect(r.stdout).toContain(c);
  });

  it('--version prints the package version', async () => {
    const r = await stack(['--version']);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
  });

  it('an unknown command exits 2 and says which commands exist', async () => {
    const r = await stack(['stak']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('Unknown command "stak". Commands: stack, unstack, clean, plan, verify, status, export.');
  });

  it('a bad config exits 2 naming file:line before touching any host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stackts-cli-'));
    try {
      writeFileSync(join(dir, 'localrc'), 'API_WORKERS=lots\nenable_service g-pai\n');
      const r = await stack(['plan', '--config', join(dir, 'localrc')], dir);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/localrc:1: .*API_WORKERS/);
      expect(r.stderr).toMatch(/localrc:2: .*g-pai.*g-api/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unreachable SSH host exits 2 and names the host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stackts-cli-'));
    try {
      // Port 1 on loopback: nothing listens, the refusal is immediate and stays on this machine.
      writeFileSync(join(dir, 'localrc'), 'TARGET_HOST=root@127.0.0.1:1\n');
      const r = await stack(['plan', '--config', join(dir, 'localrc')], dir);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('127.0.0.1:1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
