// Cross-process locks held by a `flock` child process: the kernel drops the lock when
// that child ends, and the child ends when our end of its stdin closes - so a test run
// that dies, however it dies, never leaves a stale lock behind.
import { spawn, type ChildProcess } from 'node:child_process';

export interface HeldLock {
  readonly path: string;
  release(): void;
}

/** Take an exclusive lock on `path`, waiting up to waitMs; throws if it is still held then. */
export function lockFile(path: string, waitMs: number): Promise<HeldLock> {
  return flockChild(path, waitMs) as Promise<HeldLock>;
}

/** The lock on `path` if nobody holds it now, else null. */
export function tryLockFile(path: string): Promise<HeldLock | null> {
  return flockChild(path, 0);
}

function flockChild(path: string, waitMs: number): Promise<HeldLock | null> {
  const mode = waitMs > 0 ? ['-w', String(Math.ceil(waitMs / 1000))] : ['-n'];
  const child: ChildProcess = spawn('flock', [...mode, '-x', path, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let got = false;
    child.on('error', (e) => reject(new Error(`could not run flock (package util-linux) for ${path}: ${e.message}`)));
    child.stdout!.once('data', () => {
      got = true;
      // Do not keep the test process alive just because it holds a lock.
      child.unref();
      (child.stdin as unknown as { unref?: () => void }).unref?.();
      (child.stdout as unknown as { unref?: () => void }).unref?.();
      resolve({
        path,
        release: () => {
          child.stdin?.destroy();
          child.stdout?.destroy();
        },
      });
    });
    child.on('exit', (code) => {
      if (got) return;
      if (waitMs > 0) reject(new Error(`lock ${path} still held by another test run after ${waitMs / 1000} s (see: fuser -v ${path})`));
      else if (code === 1) resolve(null);
      else reject(new Error(`flock on ${path} failed (exit ${code})`));
    });
  });
}
