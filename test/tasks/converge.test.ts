// Convergent steps: skipped only when the inputs are the same AND the state they left is still
// there; a changed input, a changed state (a dropped table) or a step that died halfway reruns.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { converge, stampPath } from '../../lib/converge.ts';
import { LocalHost } from '../../lib/host/local.ts';
import { DEBIAN_SYSV, makeContext, type RecordingHost } from '../fixtures/recording-host.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';

const dir = mkdtempSync(join(tmpdir(), 'stackts-converge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('converge', () => {
  const host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 10_000 });
  const ctx = makeContext(host as unknown as RecordingHost, DEBIAN_SYSV, { STACK_STATE_DIR: dir });
  let tables = ['a', 'b'];
  let runs = 0;
  const step = (inputs: unknown[], run = async () => void runs++) => ({ key: 'svc db sync', inputs, observe: async () => tables, run });

  it('runs the first time, is skipped while nothing changed', async () => {
    expect(await converge(ctx, step(['v1']))).toBe('done');
    expect(await converge(ctx, step(['v1']))).toBe('unchanged');
    expect(runs).toBe(1);
    expect(statSync(stampPath(ctx, 'svc db sync')).mode & 0o777).toBe(0o600);
  });

  it('a new input (package version) reruns it', async () => {
    expect(await converge(ctx, step(['v2']))).toBe('done');
    expect(runs).toBe(2);
  });

  it('its result changed behind its back (a table dropped) reruns it', async () => {
    tables = ['a'];
    expect(await converge(ctx, step(['v2']))).toBe('done');
    expect(await converge(ctx, step(['v2']))).toBe('unchanged');
    expect(runs).toBe(3);
  });

  it('a step that died halfway is not trusted: the next run redoes it even if the state looks the same', async () => {
    tables = ['a', 'c'];
    await expect(converge(ctx, step(['v2'], async () => { tables = ['a']; throw new Error('killed'); }))).rejects.toThrow('killed');
    // State is back to what the stamp described, but the stamp was forgotten before the step ran.
    expect(await converge(ctx, step(['v2']))).toBe('done');
  });
});
