import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint, fingerprintOf } from '../../lib/checkpoint.ts';
import { createLogger } from '../../lib/log.ts';
import { runTasks, type TaskNode } from '../../lib/tasks.ts';

const dir = mkdtempSync(join(tmpdir(), 'stackts-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = 'Adm1n-Pa$$w0rd';

describe('fingerprintOf', () => {
  it('is stable across key order and changes with any value', () => {
    expect(fingerprintOf({ a: 1, b: [1, 2] }, 'x')).toBe(fingerprintOf({ b: [1, 2], a: 1 }, 'x'));
    expect(fingerprintOf({ a: 1 })).not.toBe(fingerprintOf({ a: 2 }));
    expect(fingerprintOf('a', 'b')).not.toBe(fingerprintOf('ab'));
    expect(fingerprintOf(SECRET)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('checkpoints in runTasks', () => {
  const file = join(dir, 'state', 'checkpoint.json');
  const ran: string[] = [];
  const tree = (conf: string): TaskNode[] => [
    { id: 'h1', title: 'h1', host: 'h1', children: [
      { id: 'h1/keystone/configure', title: 'configure', service: 'keystone', phase: 'configure',
        fingerprint: fingerprintOf(conf, SECRET), run: async () => { ran.push('configure'); } },
      { id: 'h1/keystone/verify', title: 'verify', service: 'keystone', phase: 'verify',
        run: async () => { ran.push('verify'); } },
      // A raw secret as fingerprint (a caller's mistake) still never reaches the file.
      { id: 'h1/keystone/bootstrap', title: 'bootstrap', service: 'keystone', phase: 'init',
        fingerprint: SECRET, run: async () => { ran.push('bootstrap'); } },
    ] },
  ];
  const run = async (conf: string) => {
    const out: string[] = [];
    const log = createLogger({ debug: false, out: (l) => out.push(l) });
    const checkpoint = await Checkpoint.load(file);
    const s = await runTasks(tree(conf), { renderer: 'plain', log, checkpoint, defaultTimeoutMs: 5000 });
    return { s, out };
  };

  it('first run does everything and persists a 0600 file holding no secret', async () => {
    const { s } = await run('conf-v1');
    expect(s.ok).toBe(true);
    expect(ran).toEqual(['configure', 'verify', 'bootstrap']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('h1/keystone/configure');
    for (const leak of [SECRET, 'Pa$', 'Adm1n', encodeURIComponent(SECRET), 'conf-v1']) expect(text).not.toContain(leak);
    // Only hashes as values.
    const parsed = JSON.parse(text) as { done: Record<string, string> };
    for (const v of Object.values(parsed.done)) expect(v).toMatch(/^[0-9a-f]{64}$/);
    // No temp files left behind by the atomic writes.
    expect(readdirSync(join(dir, 'state'))).toEqual(['checkpoint.json']);
  });

  it('a second run with the same inputs skips the fingerprinted tasks as unchanged', async () => {
    ran.length = 0;
    const { s, out } = await run('conf-v1');
    expect(s.ok).toBe(true);
    expect(ran).toEqual(['verify']);
    expect(out).toContain('[h1] keystone: configure ... skipped (unchanged)');
    expect(s.timings.find((t) => t.id === 'h1/keystone/configure')?.status).toBe('skipped');
  });

  it('a changed fingerprint re-runs the task', async () => {
    ran.length = 0;
    await run('conf-v2');
    expect(ran).toEqual(['configure', 'verify']);
  });

  it('a failed task is not marked done; clear() forgets everything', async () => {
    const ck = await Checkpoint.load(file);
    const log = createLogger({ debug: false, out: () => {} });
    const s = await runTasks([{ id: 'h1/x', title: 'x', fingerprint: 'f', run: async () => { throw new Error('no'); } }], { renderer: 'plain', log, checkpoint: ck, defaultTimeoutMs: 1000 });
    expect(s.ok).toBe(false);
    expect((await Checkpoint.load(file)).isDone('h1/x', 'f')).toBe(false);
    expect((await Checkpoint.load(file)).isDone('h1/keystone/configure', fingerprintOf('conf-v2', SECRET))).toBe(true);
    await ck.clear();
    expect((await Checkpoint.load(file)).size).toBe(0);
  });

  it('parallel markDone calls all persist', async () => {
    const f = join(dir, 'par.json');
    const ck = await Checkpoint.load(f);
    await Promise.all(Array.from({ length: 20 }, (_, i) => ck.markDone(`t${i}`, `fp${i}`)));
    const again = await Checkpoint.load(f);
    for (let i = 0; i < 20; i++) expect(again.isDone(`t${i}`, `fp${i}`)).toBe(true);
  });

  it('an unreadable checkpoint names the file and what to do', async () => {
    const f = join(dir, 'bad.json');
    writeFileSync(f, '{not json');
    await expect(Checkpoint.load(f)).rejects.toThrow(/bad\.json.*Delete it/);
  });
});
