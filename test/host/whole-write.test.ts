// Remote writes are whole: the script SshHost.writeFile runs on the host installs the file only
// when every byte sent arrived. Run here with the host's own /bin/sh and a stdin cut short, the
// way a dropped SSH channel ends it.
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INCOMPLETE_EXIT, wholeWriteScript } from '../../lib/host/whole-write.ts';

const dir = mkdtempSync(join(tmpdir(), 'stackts-write-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = Buffer.from('[DEFAULT]\ndebug = true\n' + 'x = y\n'.repeat(2000));

describe('whole remote writes', () => {
  it('a transfer cut short leaves the old file as it was and no temp file behind', async () => {
    const file = join(dir, 'glance-api.conf');
    writeFileSync(file, 'old content\n');
    const r = await execa('/bin/sh', ['-c', wholeWriteScript(file, CONFIG, { mode: 0o640 })], { input: CONFIG.subarray(0, 1000), reject: false });
    expect(r.exitCode).toBe(INCOMPLETE_EXIT);
    expect(r.stderr).toContain(`received 1000 bytes`);
    expect(r.stderr).toContain(`sent ${CONFIG.length}`);
    expect(readFileSync(file, 'utf8')).toBe('old content\n');
    expect(readdirSync(dir)).toEqual(['glance-api.conf']);
  });

  it('same size, other bytes: refused too', async () => {
    const file = join(dir, 'same-size.conf');
    const bad = Buffer.from(CONFIG);
    bad[10] = 0x21;
    const r = await execa('/bin/sh', ['-c', wholeWriteScript(file, CONFIG, { mode: 0o640 })], { input: bad, reject: false });
    expect(r.exitCode).toBe(INCOMPLETE_EXIT);
    expect(() => statSync(file)).toThrow();
  });

  it('everything arrived: installed with its mode', async () => {
    const file = join(dir, 'sub', 'nova.conf');
    const r = await execa('/bin/sh', ['-c', wholeWriteScript(file, CONFIG, { mode: 0o640 })], { input: CONFIG, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(file)).toEqual(CONFIG);
    expect(statSync(file).mode & 0o777).toBe(0o640);
  });
});
