// Host for the machine stack.ts runs on: commands through /bin/sh via execa, files through node:fs.

import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsConstants } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../log-types.ts';
import { sh } from '../shell.ts';
import { cachedFacts, detectFacts } from './detect.ts';
import { finishCommand, stripFinalNewline, TIMEOUT_EXIT_CODE, type HostRunResult } from './errors.ts';
import { isLoopback, listenForward } from './forward.ts';
import { secretLine, trailingPrompt, watchForPrompt } from './input-wait.ts';
import type { Forward, Host, HostFacts, RunOptions, WriteOptions } from './types.ts';

export interface LocalHostOptions {
  readonly log: Logger;
  /** Default per-command timeout; 0 means none. */
  readonly commandTimeoutMs: number;
  readonly name?: string;
}

/** After SIGTERM to a timed-out command's process group, how long it gets before SIGKILL. */
const KILL_GRACE_MS = 2000;

const signalExitCode = (signal: string | undefined): number => {
  const n = signal ? (os.constants.signals as Record<string, number | undefined>)[signal] : undefined;
  return n === undefined ? 255 : 128 + n;
};

const isNotFound = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** The environment every local command gets: a standard PATH, a UTF-8 locale, HOME, and the proxy settings. */
export function baseEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    HOME: from.HOME ?? '/root',
  };
  for (const name of ['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'TZ']) {
    const v = from[name];
    if (v !== undefined) env[name] = v;
  }
  return env;
}

export class LocalHost implements Host {
  readonly name: string;
  private readonly log: Logger;
  private readonly commandTimeoutMs: number;
  private readonly cachedFacts = cachedFacts(() => detectFacts(this));
  /** Process-group ids of running commands, killed by close(). */
  private readonly running = new Set<number>();

  constructor(opts: LocalHostOptions) {
    this.name = opts.name ?? 'local';
    this.log = opts.log;
    this.commandTimeoutMs = opts.commandTimeoutMs;
  }

  async run(command: string, opts: RunOptions = {}): Promise<HostRunResult> {
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    const started = performance.now();
    // detached: the shell leads its own process group, so a timeout can kill everything it started.
    const input = opts.secret !== undefined ? secretLine(opts.secret) : opts.input;
    // Loaded by the first command (Node keeps it): a run on an SSH host never needs it (~0.05 s of its start).
    const { execa } = await import('execa');
    const child = execa('/bin/sh', ['-c', command], {
      ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
      // Not the operator's environment: OS_PASSWORD of another cloud or oslo's OS_<GROUP>__<OPT>
      // overrides would reach db syncs and clients. Only what a command needs to run, and proxies.
      env: { ...baseEnv(), ...opts.env },
      extendEnv: false,
      reject: false,
      detached: true,
      stripFinalNewline: false,
      maxBuffer: 256 * 1024 * 1024,
    });
    const pgid = child.pid;
    if (pgid !== undefined) this.running.add(pgid);
    let timedOut = false;
    let waitingForInput: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (pgid === undefined || killTimer) return;
      killGroup(pgid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pgid, 'SIGKILL'), KILL_GRACE_MS);
    };
    const timer =
      timeoutMs > 0 && pgid !== undefined
        ? setTimeout(() => {
            // Still at a prompt when its time is up: it was waiting for input, not working.
            waitingForInput ??= trailingPrompt(tails, true);
            if (waitingForInput === undefined) timedOut = true;
            stop();
          }, timeoutMs)
        : undefined;
    // The last of what it printed, for the prompt watcher.
    const tails = ['', ''];
    const prompt = watchForPrompt(
      () => tails,
      (p) => {
        waitingForInput = p;
        stop();
      },
    );
    for (const [i, stream] of [child.stdout, child.stderr].entries()) {
      stream?.on('data', (b: Buffer) => {
        tails[i] = (tails[i] + b.toString('utf8')).slice(-400);
        prompt.touched();
      });
    }
    try {
      const r = await child;
      const stopped = timedOut || waitingForInput !== undefined;
      const exitCode = stopped ? TIMEOUT_EXIT_CODE : (r.exitCode ?? signalExitCode(r.signal));
      if (r.exitCode === undefined && r.signal === undefined && !stopped) {
        // execa could not start /bin/sh at all (or lost it): say so instead of a bare exit code.
        throw new Error(`could not run /bin/sh on ${this.name}: ${r.shortMessage ?? r.message}`);
      }
      return finishCommand(this.log, {
        host: this.name,
        shown: opts.label ?? command,
        exitCode,
        timedOut,
        ...(waitingForInput !== undefined ? { waitingForInput } : {}),
        stdout: stripFinalNewline(String(r.stdout ?? '')),
        stderr: stripFinalNewline(String(r.stderr ?? '')),
        durationMs: Math.round(performance.now() - started),
        check: opts.check ?? true,
      });
    } finally {
      clearTimeout(timer);
      clearTimeout(killTimer);
      prompt.stop();
      if (pgid !== undefined) {
        // A stopped group may have stragglers that ignored SIGTERM and let go of our pipes.
        if (timedOut || waitingForInput !== undefined) killGroup(pgid, 'SIGKILL');
        this.running.delete(pgid);
      }
    }
  }

  async readFile(file: string): Promise<string> {
    return fs.readFile(file, 'utf8');
  }

  async readFileIfExists(file: string): Promise<string | null> {
    try {
      return await fs.readFile(file, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async writeFile(file: string, data: string | Buffer, opts: WriteOptions = {}): Promise<void> {
    const mode = opts.mode ?? 0o644;
    const dir = path.dirname(file);
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    const tmp = path.join(dir, `.${path.basename(file)}.stackts-${randomBytes(4).toString('hex')}`);
    const fd = await fs.open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode & 0o700);
    let renamed = false;
    try {
      // Mode and owner are right before a byte of content lands (umask would have narrowed open()'s mode).
      await fd.chmod(mode);
      if (opts.owner) await this.run(sh('chown', '--', opts.owner, tmp), { label: `chown ${opts.owner} ${file}` });
      await fd.writeFile(data);
      await fd.sync();
      await fd.close();
      await fs.rename(tmp, file);
      renamed = true;
    } finally {
      if (!renamed) {
        await fd.close().catch(() => undefined);
        await fs.rm(tmp, { force: true });
      }
    }
    this.log.debug(`${this.name}: wrote ${file} (${Buffer.byteLength(data)} bytes, mode ${mode.toString(8)}${opts.owner ? `, owner ${opts.owner}` : ''})`);
  }

  async exists(file: string): Promise<boolean> {
    try {
      await fs.stat(file);
      return true;
    } catch (err) {
      if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
      throw err;
    }
  }

  async forward(remotePort: number, remoteHost = '127.0.0.1'): Promise<Forward> {
    // The host is this machine: a loopback port is already reachable as it is.
    if (isLoopback(remoteHost)) return { port: remotePort, close: async () => undefined };
    return listenForward(
      () =>
        new Promise((resolve, reject) => {
          const s = net.connect(remotePort, remoteHost, () => resolve(s));
          s.once('error', reject);
        }),
    );
  }

  facts(): Promise<HostFacts> {
    return this.cachedFacts();
  }

  async close(): Promise<void> {
    for (const pgid of this.running) killGroup(pgid, 'SIGKILL');
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}
