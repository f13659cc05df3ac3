import { describe, expect, it } from 'vitest';
import { runAsync } from './proc.ts';

describe('runAsync (long harness commands that must not block the test worker)', () => {
  it('gives the output and lets timers run while the command does', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    try {
      const r = await runAsync('sh', ['-c', 'sleep 0.3; echo out; echo err >&2']);
      expect(r).toEqual({ stdout: 'out\n', stderr: 'err\n', status: 0 });
      // A blocking spawnSync would have held every timer for the whole 0.3 s.
      expect(ticks).toBeGreaterThanOrEqual(5);
    } finally {
      clearInterval(timer);
    }
  });

  it('fails with the exit code and stderr, unless told to allow it', async () => {
    await expect(runAsync('sh', ['-c', 'echo broken >&2; exit 3'])).rejects.toThrow(/exit 3\): sh -c .*\nbroken/);
    expect((await runAsync('sh', ['-c', 'exit 3'], { allowFail: true })).status).toBe(3);
  });
});
