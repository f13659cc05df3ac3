// The package install shows apt's own progress: its status stream (APT::Status-Fd) read from the
// host every few seconds, a line each time even when apt is silent (a long postinst).
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeAptStatus, watchAptStatus, withStatusFd } from '../../lib/apt-progress.ts';
import { LocalHost } from '../../lib/host/local.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';

const dir = mkdtempSync(join(tmpdir(), 'stackts-aptprog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('apt progress', () => {
  it('reads apt status lines', () => {
    expect(describeAptStatus('dlstatus:12:41.0870:Retrieving file 12 of 130')).toBe('downloading 41% (Retrieving file 12 of 130)');
    expect(describeAptStatus('pmstatus:keystone:62.5:Unpacking keystone (2:22.0.0-2)')).toBe('installing 62% (Unpacking keystone (2:22.0.0-2))');
    expect(describeAptStatus('pmerror:/var/cache/apt/archives/x.deb:50:trying to overwrite')).toBe('dpkg error: trying to overwrite');
    expect(describeAptStatus('Reading package lists...')).toBeUndefined();
  });

  it('the install line sends fd 3 to the status file', () => {
    expect(withStatusFd('apt-get -y install a', '/run/x')).toBe('apt-get -y install a -o APT::Status-Fd=3 3>/run/x');
  });

  it('reports every interval from the file on the host, keeps the last state while apt is silent, removes the file', async () => {
    const host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 10_000 });
    const file = join(dir, 'status');
    const lines: { at: number; line: string }[] = [];
    const t0 = Date.now();
    let advances = 0;
    const w = watchAptStatus(host, (line) => lines.push({ at: Date.now() - t0, line }), { intervalMs: 200, file, onAdvance: () => advances++ });
    appendFileSync(file, 'dlstatus:1:10:Retrieving file 1 of 10\n');
    await sleep(700);
    appendFileSync(file, 'pmstatus:keystone:55.0:Setting up keystone\n');
    await sleep(900);
    await w.stop();
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines.some((l) => l.line.startsWith('downloading 10% (Retrieving file 1 of 10)'))).toBe(true);
    // Silent apt: the same state repeated with a growing clock.
    expect(lines.filter((l) => l.line.startsWith('installing 55% (Setting up keystone)')).length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.at - lines[i - 1]!.at).toBeLessThan(1000);
    expect(existsSync(file)).toBe(false);
    // Two states seen (download, then keystone): two advances, however often the clock ticked.
    expect(advances).toBe(2);
    const n = lines.length;
    await sleep(400);
    expect(lines.length).toBe(n);
  });
});
