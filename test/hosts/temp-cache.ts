// A throwaway STACK_TEST_CACHE for one test file: the harness's cache functions read it at each call.
import { afterEach, beforeEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Gives each test its own empty cache dir; the returned function names the current one. */
export function useTempCache(prefix: string): () => string {
  let cache = '';
  const saved = process.env.STACK_TEST_CACHE;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), prefix));
    process.env.STACK_TEST_CACHE = cache;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.STACK_TEST_CACHE;
    else process.env.STACK_TEST_CACHE = saved;
    rmSync(cache, { recursive: true, force: true });
  });
  return () => cache;
}
