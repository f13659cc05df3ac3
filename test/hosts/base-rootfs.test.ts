import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { baseDir, baseRecipe, staleBases } from './base-rootfs.ts';

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
