// Small process helpers for the test-host harness. Synchronous on purpose where the
// command is short: teardown must also run from a process 'exit' handler, where only
// synchronous work happens.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';

export interface CmdResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number | null;
}

/** Run a short command and wait for it; throws with its stderr when it exits non-zero. */
export function run(cmd: string, args: readonly string[], opts: { allowFail?: boolean; input?: string; env?: NodeJS.ProcessEnv } = {}): CmdResult {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input ?? '',
    env: opts.env ?? process.env,
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new Error(`could not run ${cmd} ${args.join(' ')}: ${r.error.message}`);
  const res = { stdout: r.stdout, stderr: r.stderr, status: r.status };
  if (!opts.allowFail && r.status !== 0) {
    throw new Error(`command failed (exit ${r.status ?? r.signal}): ${cmd} ${args.join(' ')}\n${r.stderr.trim()}`);
  }
  return res;
}

/**
 * `run` without blocking: for anything that may take long (apt-get, a download). A test file's
 * worker blocked for over a minute misses vitest's own RPC deadline, and the whole run then fails
 * with "Timeout calling onTaskUpdate" although every test passed (seen in CI on an apt-get install).
 */
export function runAsync(cmd: string, args: readonly string[], opts: { allowFail?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 1_200_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => reject(new Error(`could not run ${cmd} ${args.join(' ')}: ${e.message}`)));
    child.on('close', (status, signal) => {
      if (!opts.allowFail && status !== 0) {
        return reject(new Error(`command failed (exit ${status ?? signal}): ${cmd} ${args.join(' ')}\n${stderr.trim()}`));
      }
      resolve({ stdout, stderr, status });
    });
  });
}

/** Run a long command with its output going to logFile; rejects with the log's tail on failure. */
export function runLogged(cmd: string, args: readonly string[], logFile: string, env?: NodeJS.ProcessEnv): Promise<void> {
  const fd = openSync(logFile, 'a');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
    closeSync(fd);
    child.on('error', (e) => reject(new Error(`could not run ${cmd}: ${e.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) return resolve();
      reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code ?? signal}); full log: ${logFile}\n${tail(logFile, 25)}`));
    });
  });
}

export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Fields of /proc/PID/stat after the command name; [0] is the state letter. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const f = statFields(pid);
  return f !== null && f[0] !== 'Z' && f[0] !== 'X';
}

/** Kernel start time of a process (clock ticks since boot): with the PID, identifies it across PID reuse. */
export function startTime(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

export interface ProcId {
  readonly pid: number;
  readonly start: string;
}

export function procId(pid: number): ProcId | null {
  const start = startTime(pid);
  return start === null ? null : { pid, start };
}

/** The same process we recorded (not a later one that got its PID), and still running. */
export function isSameAlive(p: ProcId): boolean {
  return isAlive(p.pid) && startTime(p.pid) === p.start;
}

export function childPids(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    if (text) return text.split(/\s+/).map(Number);
  } catch {
    // no CONFIG_PROC_CHILDREN: scan /proc below
  }
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (statFields(Number(name))?.[1] === String(pid)) out.push(Number(name));
  }
  return out;
}

export function comm(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until fn returns a value other than undefined, or throw what onTimeout returns. */
export async function waitFor<T>(fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number, onTimeout: () => Error, intervalMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw onTimeout();
    await sleep(intervalMs);
  }
}

/** One TCP connection attempt; true when something accepted it. */
export function tcpAccepts(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
