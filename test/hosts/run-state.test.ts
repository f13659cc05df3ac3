import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { procId } from './proc.ts';
import { teardownAsync, type RunState } from './run-state.ts';

describe('teardownAsync (stop() inside a test worker)', () => {
  it('removes a big run dir while timers keep running', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'stackts-runstate-'));
    // Stands in for the hosts' upper dirs: thousands of installed files.
    for (let d = 0; d < 40; d++) {
      mkdirSync(join(runDir, `d${d}`));
      for (let f = 0; f < 250; f++) writeFileSync(join(runDir, `d${d}`, `f${f}`), 'x');
    }
    const state: RunState = { owner: procId(process.pid)!, prefix: 'strs', runDir, netns: [], mounts: [], hostPids: [] };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const started = Date.now();
      expect(await teardownAsync(state)).toEqual([]);
      const ms = Date.now() - started;
      expect(existsSync(runDir)).toBe(false);
      // A blocking rmSync would let no tick through until it returned.
      expect(ticks).toBeGreaterThan(Math.min(5, ms / 4));
    } finally {
      clearInterval(timer);
    }
  });
});
