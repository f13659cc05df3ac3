// One run at a time: a lock beside the config (two shells in the same directory) and one on each
// target host (two config directories aiming at the same machine). A lock file names its holder
// (pid, command, since when, on which machine and boot); a holder that no longer runs is stale
// and its lock is taken over. Taking is an exclusive create, so two runs never both win.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile, rm, mkdir } from 'node:fs/promises';
import { InputError } from './errors.ts';
import os from 'node:os';
import { dirname } from 'node:path';
import type { Host } from './host/types.ts';
import { quote } from './shell.ts';

export interface LockHolder {
  readonly pid: number;
  readonly command: string;
  /** ISO time the lock was taken. */
  readonly since: string;
  /** os.hostname() of the machine stack.ts ran on. */
  readonly machine: string;
  /** /proc/sys/kernel/random/boot_id there: after a reboot every old holder is gone. */
  readonly bootId: string;
  /** Field 22 of /proc/PID/stat: tells the holder from a later process that reused its pid. */
  readonly startTime: string;
  /** Random, so release() removes only the lock this process took. */
  readonly token: string;
}

/** Where a lock lives: this machine's file system, or a file on a target host. */
export interface LockStore {
  /** Shown in messages: "/path/.stack/run.lock" or "h1:/run/stack-ts.lock". */
  readonly where: string;
  /** Exclusive create: true when created, false when the file already exists. */
  create(text: string): Promise<boolean>;
  /** null when there is none. */
  read(): Promise<string | null>;
  remove(): Promise<void>;
}

/** The lock file on a host: on /run, so a reboot (which ends every run) clears it, and `clean` never removes it. */
export const HOST_LOCK_PATH = '/run/stack-ts.lock';

export class LockHeldError extends Error {
  constructor(
    readonly where: string,
    readonly holder: LockHolder | null,
  ) {
    super(
      holder
        ? `Another stack.ts run holds ${where}: pid ${holder.pid} on ${holder.machine}, "${holder.command}", since ${holder.since}.`
        : `Another stack.ts run holds ${where} (its holder could not be read).`,
    );
    this.name = 'LockHeldError';
  }

  get hint(): string {
    return `Wait for that run to finish (or stop it). If it is gone and the lock stayed (another machine ran it), remove ${this.where} by hand.`;
  }
}

const readProc = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

/** Start time of a local process (empty when it is gone or a zombie). */
export function processStartTime(pid: number): string {
  const stat = readProc(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] === 'Z' || fields[0] === undefined || stat === '' ? '' : (fields[19] ?? '');
}

export function currentHolder(command: string): LockHolder {
  return {
    pid: process.pid,
    command,
    since: new Date().toISOString(),
    machine: os.hostname(),
    bootId: readProc('/proc/sys/kernel/random/boot_id').trim(),
    startTime: processStartTime(process.pid),
    token: randomBytes(8).toString('hex'),
  };
}

/** A holder is alive unless we can see it is not: same machine and boot, and its process is gone or another. */
export function holderAlive(h: LockHolder): boolean {
  const me = currentHolder('');
  if (h.machine !== me.machine) return true;
  if (h.bootId && me.bootId && h.bootId !== me.bootId) return false;
  const start = processStartTime(h.pid);
  return start !== '' && start === h.startTime;
}

const parseHolder = (text: string | null): LockHolder | null => {
  if (!text) return null;
  try {
    const h = JSON.parse(text) as LockHolder;
    return typeof h.pid === 'number' && typeof h.machine === 'string' ? h : null;
  } catch {
    return null;
  }
};

export interface HeldLock {
  readonly where: string;
  /** A previous holder that was dead and whose lock was taken over. */
  readonly tookOverFrom?: LockHolder;
  release(): Promise<void>;
}

/**
 * Take the lock or throw LockHeldError naming its holder. A stale lock (dead holder, or a file
 * that is not a lock at all, e.g. half-written by a run killed at that moment) is removed and
 * taken, once: if another run takes it in between, that run holds it.
 */
export async function acquireLock(store: LockStore, me: LockHolder): Promise<HeldLock> {
  const text = JSON.stringify(me) + '\n';
  let tookOverFrom: LockHolder | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await store.create(text)) {
      return {
        where: store.where,
        ...(tookOverFrom ? { tookOverFrom } : {}),
        release: async () => {
          // Only our own: a lock taken over from us (we were thought dead) is not ours to remove.
          if (parseHolder(await store.read())?.token === me.token) await store.remove();
        },
      };
    }
    const raw = await store.read();
    if (raw === null) continue; // released between our create and read
    const holder = parseHolder(raw);
    if (holder && holderAlive(holder)) throw new LockHeldError(store.where, holder);
    if (attempt > 0) throw new LockHeldError(store.where, holder);
    if (holder) tookOverFrom = holder;
    await store.remove();
  }
  throw new LockHeldError(store.where, parseHolder(await store.read()));
}

/** A lock file on this machine. */
export function localLockStore(path: string): LockStore {
  return {
    where: path,
    async create(text) {
      // Not recursive: the directory above is the config's and exists. Node's recursive mkdir
      // never returns under /proc (`--config /proc/version` hung), and must not make /nonexistent.
      await mkdir(dirname(path), { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') return;
        throw new InputError(
          `cannot make ${dirname(path)} for the run lock: ${e.code ?? e.message}`,
          'stack.ts keeps its lock, logs and outputs in .stack beside the config: put the config in a directory of yours that you may write',
        );
      });
      try {
        const fd = await open(path, 'wx', 0o600);
        try {
          await fd.writeFile(text);
          await fd.sync();
        } finally {
          await fd.close();
        }
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      }
    },
    async read() {
      try {
        return await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
    async remove() {
      await rm(path, { force: true });
    },
  };
}

/** A lock file on a host; the exclusive create is the shell's noclobber (O_EXCL). */
export function hostLockStore(host: Host, path = HOST_LOCK_PATH): LockStore {
  return {
    where: `${host.name}:${path}`,
    async create(text) {
      const r = await host.run(`umask 077; if ( set -C; cat > ${quote(path)} ) 2>/dev/null; then echo created; else echo exists; fi`, {
        input: text,
        check: false,
        label: `take the run lock ${path}`,
      });
      if (r.exitCode !== 0) throw new Error(`could not take the run lock ${path} on ${host.name}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
      return r.stdout.trim() === 'created';
    },
    read: () => host.readFileIfExists(path),
    async remove() {
      await host.run(`rm -f ${quote(path)}`, { label: `remove the run lock ${path}` });
    },
  };
}
