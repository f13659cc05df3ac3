// clean removes STACK_STATE_DIR and LOGDIR with everything in them: only when stack.ts made them.
// The real shell commands, run through LocalHost on temp directories.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalHost } from '../../lib/host/local.ts';
import { makeOwnDirsCommand, OWN_MARK, removeOwnDirsCommand } from '../../lib/own-dirs.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';

const base = mkdtempSync(join(tmpdir(), 'stackts-owndirs-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 10_000 });

describe('the directories clean may remove', () => {
  it('a directory stack.ts made is marked, and clean removes it', async () => {
    const d = join(base, 'made', 'state');
    await host.run(makeOwnDirsCommand([d]));
    expect(existsSync(join(d, OWN_MARK))).toBe(true);
    writeFileSync(join(d, 'x.pid'), '1');
    const r = await host.run(removeOwnDirsCommand([d]));
    expect(existsSync(d)).toBe(false);
    expect(r.stdout).toBe('');
  });

  it('a directory that existed before (STACK_STATE_DIR=/var/lib by mistake) is neither marked nor removed, and is named', async () => {
    const d = join(base, 'system-lib');
    mkdirSync(d);
    writeFileSync(join(d, 'dpkg-status'), 'precious');
    await host.run(makeOwnDirsCommand([d]));
    expect(existsSync(join(d, OWN_MARK))).toBe(false);
    const r = await host.run(removeOwnDirsCommand([d]));
    expect(readFileSync(join(d, 'dpkg-status'), 'utf8')).toBe('precious');
    expect(r.stdout.trim()).toBe(d);
  });

  it('a link to a marked directory is not followed', async () => {
    const real = join(base, 'real');
    await host.run(makeOwnDirsCommand([real]));
    writeFileSync(join(real, 'keep'), 'k');
    const link = join(base, 'link');
    symlinkSync(real, link);
    const r = await host.run(removeOwnDirsCommand([link]));
    expect(readFileSync(join(real, 'keep'), 'utf8')).toBe('k');
    expect(r.stdout.trim()).toBe(link);
  });
});
