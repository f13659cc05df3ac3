// The per-process known_hosts files of the test fixtures do not pile up in /tmp when vitest ends
// a worker with a signal (its exit handler never runs).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeStaleTrustFiles } from '../fixtures/known-hosts.ts';

const dir = mkdtempSync(join(tmpdir(), 'stackts-trust-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('removeStaleTrustFiles', () => {
  it("removes a gone process's file, keeps a live one's, a directory and other names", () => {
    const gone = Number(execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim());
    const files = { gone: `stackts-known-hosts-${gone}`, live: `stackts-known-hosts-${process.pid}`, other: 'stackts-known-hosts-abc', unrelated: `known-hosts-${gone}` };
    for (const f of Object.values(files)) writeFileSync(join(dir, f), 'h1 ssh-ed25519 AAAA\n');
    mkdirSync(join(dir, 'stackts-known-hosts-1'));
    removeStaleTrustFiles(dir);
    expect(existsSync(join(dir, files.gone))).toBe(false);
    expect([files.live, files.other, files.unrelated, 'stackts-known-hosts-1'].filter((f) => existsSync(join(dir, f)))).toHaveLength(4);
  });
});
