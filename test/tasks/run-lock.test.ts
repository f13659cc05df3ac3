// One run at a time: the lock refuses a second run while its holder lives, names the holder,
// takes over from a dead one, and on a host works through the same shell a target host runs.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  acquireLock,
  currentHolder,
  hostLockStore,
  LockHeldError,
  localLockStore,
  processStartTime,
  type LockHolder,
} from '../../lib/run-lock.ts';
import { LocalHost } from '../../lib/host/local.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';

const REPO = resolve(import.meta.dirname, '..', '..');

let dir: string;
const children: ChildProcess[] = [];

/** A holder record for another live process of ours (a sleep), as another stack.ts would write it. */
function liveHolder(): LockHolder {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  return { ...currentHolder('./stack.ts --config x'), pid: child.pid!, startTime: processStartTime(child.pid!), token: 'other' };
}

async function deadHolder(): Promise<LockHolder> {
  const r = await execa('sh', ['-c', 'echo $$']);
  return { ...currentHolder('./stack.ts killed'), pid: Number(r.stdout), startTime: '12345', token: 'dead' };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stackts-lock-'));
});
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('run lock', () => {
  it('a second run is refused with the holder pid, command and since; released, it can be taken', async () => {
    const store = localLockStore(join(dir, '.stack', 'run.lock'));
    const first = await acquireLock(store, currentHolder('./stack.ts stack'));
    const err = await acquireLock(store, currentHolder('./stack.ts verify')).catch((e) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect(err.message).toContain(`pid ${process.pid}`);
    expect(err.message).toContain('"./stack.ts stack"');
    expect(err.message).toMatch(/since \d{4}-\d\d-\d\dT/);
    await first.release();
    expect(existsSync(store.where)).toBe(false);
    const again = await acquireLock(store, currentHolder('./stack.ts verify'));
    await again.release();
  });

  it('a lock of a live process is respected; of a dead one (or a pid reused by another process) taken over', async () => {
    const path = join(dir, 'run.lock');
    writeFileSync(path, JSON.stringify(liveHolder()));
    await expect(acquireLock(localLockStore(path), currentHolder('me'))).rejects.toBeInstanceOf(LockHeldError);

    const dead = await deadHolder();
    writeFileSync(path, JSON.stringify(dead));
    const took = await acquireLock(localLockStore(path), currentHolder('me'));
    expect(took.tookOverFrom?.pid).toBe(dead.pid);
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    await took.release();

    // Our own pid with another start time: the pid was reused, the holder is gone.
    writeFileSync(path, JSON.stringify({ ...currentHolder('old'), startTime: '1' }));
    await (await acquireLock(localLockStore(path), currentHolder('me'))).release();
    // Half-written by a run killed while writing it: not a holder, taken over.
    writeFileSync(path, '{"pid": 12');
    await (await acquireLock(localLockStore(path), currentHolder('me'))).release();
  });

  it('a holder on another machine is never assumed dead', async () => {
    const path = join(dir, 'run.lock');
    writeFileSync(path, JSON.stringify({ ...(await deadHolder()), machine: `not-${os.hostname()}` }));
    const err = await acquireLock(localLockStore(path), currentHolder('me')).catch((e) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect(err.hint).toContain(path);
  });

  it('release removes only its own lock, not one taken over from it', async () => {
    const path = join(dir, 'run.lock');
    const mine = await acquireLock(localLockStore(path), currentHolder('me'));
    const other = liveHolder();
    writeFileSync(path, JSON.stringify(other));
    await mine.release();
    expect(JSON.parse(readFileSync(path, 'utf8')).token).toBe('other');
  });

  it('on a host through its shell: exclusive, 0600, named host:path', async () => {
    const host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 10_000, name: 'h1' });
    const path = join(dir, 'host.lock');
    const store = hostLockStore(host, path);
    expect(store.where).toBe(`h1:${path}`);
    const held = await acquireLock(store, currentHolder('./stack.ts stack'));
    expect((await execa('stat', ['-c', '%a', path])).stdout).toBe('600');
    const err = await acquireLock(store, currentHolder('./stack.ts clean')).catch((e) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect(err.message).toContain(`h1:${path}`);
    await held.release();
    expect(existsSync(path)).toBe(false);
  });

  it('./stack.ts exits 2 naming the holder before it reads the config or reaches the host', async () => {
    mkdirSync(join(dir, '.stack'));
    const holder = liveHolder();
    writeFileSync(join(dir, '.stack', 'run.lock'), JSON.stringify(holder));
    // An unreachable host: had the lock not stopped it, the error would be about 127.0.0.1:1.
    writeFileSync(join(dir, 'localrc'), 'TARGET_HOST=root@127.0.0.1:1\n');
    const r = await execa(join(REPO, 'stack.ts'), ['unstack', '--config', join(dir, 'localrc')], { cwd: dir, reject: false, env: { CI: 'true' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`pid ${holder.pid}`);
    expect(r.stderr).toContain('./stack.ts --config x');
    expect(r.stderr).not.toContain('127.0.0.1:1');
    expect(existsSync(join(dir, '.stack-secrets'))).toBe(false);
    expect(existsSync(join(dir, '.stack', 'logs'))).toBe(false);
  });
});
