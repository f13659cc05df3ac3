import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseDir, baseRecipe, forgetHostKeysAndDownloads, staleBases } from './base-rootfs.ts';

describe('base root filesystem per Debian suite', () => {
  const saved = process.env.STACK_TEST_CACHE;
  beforeEach(() => {
    process.env.STACK_TEST_CACHE = '/nonexistent/cache';
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.STACK_TEST_CACHE;
    else process.env.STACK_TEST_CACHE = saved;
  });

  it('keys the cached base by suite and recipe, so bases of both suites have their own directory', () => {
    const bookworm = baseRecipe();
    const trixie = baseRecipe('trixie');
    expect(bookworm.suite).toBe('bookworm');
    expect(trixie.suite).toBe('trixie');
    expect(baseDir(bookworm)).toMatch(/^\/nonexistent\/cache\/base-bookworm-[0-9a-f]{16}$/);
    expect(baseDir(trixie)).toMatch(/^\/nonexistent\/cache\/base-trixie-[0-9a-f]{16}$/);
    expect(trixie.sources).toMatch(/^Suites: trixie trixie-updates$/m);
    expect(trixie.sources).not.toContain('bookworm');
    expect(trixie.files['etc/apt/sources.list.d/debian.sources']).toBe(trixie.sources);
    expect(bookworm.mirror).toBe(trixie.mirror); // one mirror, one apt proxy, both suites
  });

  it('rejects a suite it cannot build', () => {
    expect(() => baseRecipe('sid' as 'trixie')).toThrow(/suite "sid" is not one of bookworm, trixie/);
  });

  it('prunes only older recipes of the same suite, never the other suite\'s base', () => {
    const names = ['base-bookworm-00aa', 'base-bookworm-11bb', 'base-trixie-22cc', 'base-trixie-33dd.tmp', 'acng-0', 'base-44ee'];
    expect(staleBases(names, 'base-bookworm-11bb', 'bookworm')).toEqual(['base-bookworm-00aa']);
    expect(staleBases(names, 'base-trixie-22cc', 'trixie')).toEqual([]);
  });
});

describe('forgetHostKeysAndDownloads (the base, and a package layer)', () => {
  it('removes ssh host keys, package lists and downloaded packages, keeps the rest, and skips what a tree lacks', () => {
    const root = mkdtempSync(join(tmpdir(), 'stackts-forget-'));
    try {
      const put = (p: string) => {
        mkdirSync(join(root, p, '..'), { recursive: true });
        writeFileSync(join(root, p), 'x');
      };
      for (const p of ['etc/ssh/ssh_host_ed25519_key', 'etc/ssh/ssh_host_ed25519_key.pub', 'etc/ssh/sshd_config', 'var/lib/apt/lists/lock', 'var/lib/apt/lists/deb.debian.org_Packages', 'var/cache/apt/archives/lock', 'var/cache/apt/archives/keystone.deb']) put(p);
      mkdirSync(join(root, 'var/lib/apt/lists/partial'));
      forgetHostKeysAndDownloads(root);
      expect(readdirSync(join(root, 'etc/ssh'))).toEqual(['sshd_config']);
      expect(readdirSync(join(root, 'var/lib/apt/lists')).sort()).toEqual(['lock', 'partial']);
      expect(readdirSync(join(root, 'var/cache/apt/archives'))).toEqual(['lock']);
      const bare = mkdtempSync(join(tmpdir(), 'stackts-forget-'));
      expect(() => forgetHostKeysAndDownloads(bare)).not.toThrow();
      rmSync(bare, { recursive: true });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
