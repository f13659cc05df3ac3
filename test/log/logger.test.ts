import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.ts';

const dir = mkdtempSync(join(tmpdir(), 'stackts-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rec = {
  host: 'h1',
  command: 'mysql -u root -ps3cret-pw -e "select 1"',
  exitCode: 1,
  stdout: 'out line\n',
  stderr: 'ERROR 1045: denied (using password s3cret-pw)\nsecond line\n',
  durationMs: 1234,
};

describe('createLogger', () => {
  it('creates the log file 0600 (whatever the umask) with its parent directories', async () => {
    const old = process.umask(0);
    try {
      const file = join(dir, 'a', 'b', 'stack.log');
      const log = createLogger({ file, debug: false, out: () => {} });
      log.info('hello');
      await log.close();
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(log.file).toBe(file);
    } finally {
      process.umask(old);
    }
  });

  it('tightens an existing world-readable log file to 0600', async () => {
    const file = join(dir, 'existing.log');
    writeFileSync(file, 'old\n', { mode: 0o644 });
    const log = createLogger({ file, debug: false, out: () => {} });
    await log.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('time-stamps each line and writes command records with exit code, duration and indented output, masked', async () => {
    const file = join(dir, 'cmd.log');
    const out: string[] = [];
    const log = createLogger({ file, debug: false, out: (l) => out.push(l) });
    log.addSecret('s3cret-pw');
    log.command(rec);
    log.info('info s3cret-pw');
    log.debug('debug line');
    await log.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    const body = lines.map((l) => l.replace(/^\S+ /, ''));
    expect(body).toEqual([
      '[h1] $ mysql -u root -p*** -e "select 1"',
      '    exit 1 after 1.2 s',
      '    stdout:',
      '      out line',
      '    stderr:',
      '      ERROR 1045: denied (using password ***)',
      '      second line',
      'info ***',
      'debug line',
    ]);
    // Without --debug the terminal sees info, not commands nor debug().
    expect(out).toEqual(['info ***']);
  });

  it('with --debug prints every command and debug() to the terminal, masked', () => {
    const out: string[] = [];
    const log = createLogger({ debug: true, out: (l) => out.push(l) });
    log.addSecret('s3cret-pw');
    log.command(rec);
    log.debug('dbg s3cret-pw');
    log.warn('careful');
    expect(out[0]).toBe('[h1] $ mysql -u root -p*** -e "select 1"');
    expect(out).toContain('      ERROR 1045: denied (using password ***)');
    expect(out).toContain('dbg ***');
    expect(out.at(-1)).toBe('warning: careful');
    expect(out.join('\n')).not.toContain('s3cret');
    expect(log.file).toBeUndefined();
  });
});
