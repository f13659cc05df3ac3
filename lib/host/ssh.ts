// Host reached over SSH (ssh2): one connection per host, opened on first use and reused; every
// run() is an exec channel multiplexed on it. Files move through the same exec channels (stdin
// and stdout), so a write is one round trip and needs no SFTP subsystem on the host.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import type { Logger } from '../log-types.ts';
import { StackError } from '../errors.ts';
import { quote, sh } from '../shell.ts';
import { cachedFacts, detectFacts } from './detect.ts';
import { finishCommand, stripFinalNewline, TIMEOUT_EXIT_CODE, type HostRunResult } from './errors.ts';
import { listenForward } from './forward.ts';
import { secretLine, trailingPrompt, watchForPrompt } from './input-wait.ts';
import {
  checkHostKey,
  defaultKnownHostsFile,
  fingerprint,
  keyType,
  knownHostsLine,
  knownHostsName,
  readKnownHosts,
  recordHostKey,
  type KnownHostsPolicy,
} from './known-hosts.ts';
import { wholeWriteScript } from './whole-write.ts';
import { CommandError, type Forward, type Host, type HostFacts, type RunOptions, type WriteOptions } from './types.ts';

export interface SshHostOptions {
  readonly host: string;
  readonly port?: number;
  readonly username?: string;
  /** Path of a private key file. Without it: the agent at $SSH_AUTH_SOCK, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa. */
  readonly privateKey?: string;
  /** Agent socket path; default $SSH_AUTH_SOCK when no privateKey is given. */
  readonly agent?: string;
  readonly connectTimeoutMs?: number;
  readonly keepaliveIntervalMs?: number;
  readonly log: Logger;
  /** Default per-command timeout; 0 means none. */
  readonly commandTimeoutMs: number;
  /** Shown to the user; default: the host address. */
  readonly name?: string;
  /** Exec channels open at once; the rest wait. OpenSSH's default MaxSessions is 10. */
  readonly maxChannels?: number;
  /** How the host's key is checked: known_hosts file (default $SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts), accept-new. */
  readonly knownHosts?: KnownHostsPolicy;
}

/** The wrapped command prints its process-group id on stderr first, so a timeout can kill the group. */
const PGID_MARK = '@@stackts-pgid=';
const PGID_LINE = new RegExp(`${PGID_MARK}(\\d+)\\n`);
/** readFileIfExists: exit code of the wrapper when the file is missing (cat itself only exits 0 or 1). */
const MISSING_EXIT = 3;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Raw {
  readonly exitCode: number;
  readonly timedOut: boolean;
  readonly waitingForInput?: string;
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly durationMs: number;
}

interface ExecOptions {
  readonly input?: string | Buffer;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** What errors name: the label or the command. */
  readonly shown: string;
  /** Off for the kill command itself. */
  readonly killOnTimeout?: boolean;
}

/** A counting semaphore for exec channels; shrinks when the server turns out to allow fewer. */
class Slots {
  private capacity: number;
  private inUse = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.capacity = n;
  }
  get busy(): number {
    return this.inUse;
  }
  async acquire(): Promise<void> {
    if (this.inUse < this.capacity) {
      this.inUse++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inUse--;
  }
  /** Gives up the caller's slot for good: the server refused one more channel. */
  shrink(): void {
    this.capacity = Math.max(1, this.capacity - 1);
    this.inUse--;
  }
}

/** What a channel said, recorded from the moment it exists. */
export interface ChannelRecord {
  readonly out: Buffer[];
  readonly err: Buffer[];
  exitCode?: number;
  signal?: string;
  closed: boolean;
  onClose?: () => void;
}

/**
 * Listen to a channel synchronously inside ssh2's exec callback: ssh2 can emit a short command's
 * data and exit status in the same tick it hands the channel over, so a listener attached after an
 * await misses them and the command looks killed ("closed without an exit status").
 */
export function recordChannel(ch: ClientChannel): ChannelRecord {
  const rec: ChannelRecord = { out: [], err: [], closed: false };
  ch.on('data', (b: Buffer) => rec.out.push(b));
  ch.stderr.on('data', (b: Buffer) => rec.err.push(b));
  ch.on('exit', (code: number | null, sig?: string) => {
    if (typeof code === 'number') rec.exitCode = code;
    else rec.signal = sig;
  });
  ch.on('close', () => {
    rec.closed = true;
    rec.onClose?.();
  });
  ch.on('error', () => undefined);
  return rec;
}

export class SshHost implements Host {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly username: string;
  private readonly opts: SshHostOptions;
  private readonly log: Logger;
  private readonly slots: Slots;
  private client: Promise<Client> | undefined;
  private live: Client | undefined;
  private closing = false;
  /** Commands in flight, failed at once when the connection drops. */
  /** Process groups of the commands running now, ended by close() (an interrupted run leaves nothing running). */
  private readonly running = new Set<() => string | undefined>();
  private readonly inFlight = new Set<(err: Error) => void>();
  private readonly cachedFacts = cachedFacts(() => detectFacts(this));

  constructor(opts: SshHostOptions) {
    this.opts = opts;
    this.address = opts.host;
    this.port = opts.port ?? 22;
    this.username = opts.username ?? 'root';
    this.name = opts.name ?? opts.host;
    this.log = opts.log;
    this.slots = new Slots(opts.maxChannels ?? 8);
  }

  private get target(): string {
    const host = this.address.includes(':') ? `[${this.address}]` : this.address;
    return `${host}:${this.port}`;
  }

  // ---- connection -------------------------------------------------------------------------

  private connection(): Promise<Client> {
    if (this.closing) return Promise.reject(new Error(`the SSH connection to ${this.target} is closed`));
    this.client ??= this.connect().catch((err: unknown) => {
      this.client = undefined;
      throw err;
    });
    return this.client;
  }

  private async credentials(): Promise<{ config: Partial<ConnectConfig>; describe: string }> {
    const keyPath = this.opts.privateKey;
    if (keyPath !== undefined) {
      try {
        return { config: { privateKey: await fs.readFile(keyPath) }, describe: `key ${keyPath}` };
      } catch (err) {
        throw new StackError(
          `cannot read the SSH key ${keyPath} for ${this.target}: ${(err as Error).message}`,
          'set SSH_KEY to the path of a private key that the host accepts',
        );
      }
    }
    const agent = this.opts.agent ?? process.env.SSH_AUTH_SOCK;
    if (agent) return { config: { agent }, describe: `the keys of ssh-agent (${agent})` };
    for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
      const file = path.join(os.homedir(), '.ssh', name);
      const key = await fs.readFile(file).catch(() => undefined);
      if (key) return { config: { privateKey: key }, describe: `key ${file}` };
    }
    throw new StackError(
      `no SSH key to log in to ${this.target} with: SSH_KEY is not set, no ssh-agent runs, and ~/.ssh has no id_ed25519, id_ecdsa or id_rsa`,
      'set SSH_KEY to the path of a private key that the host accepts',
    );
  }

  /**
   * Checks the key the host presented against known_hosts before any credential or secret is
   * sent; the reason for a refusal is kept for the connect error (ssh2 only says "verification failed").
   */
  private async verifyHostKey(blob: Buffer): Promise<StackError | undefined> {
    const file = this.opts.knownHosts?.file || defaultKnownHostsFile();
    const name = knownHostsName(this.address, this.port);
    const type = keyType(blob);
    const fp = fingerprint(blob);
    const verdict = checkHostKey(await readKnownHosts(file), this.address, this.port, blob);
    switch (verdict.kind) {
      case 'known':
        return undefined;
      case 'revoked':
        return new StackError(`the SSH host key of ${name} (${type} ${fp}) is marked @revoked in ${file}:${verdict.line}`, 'the host must get a new host key; nothing was sent to it');
      case 'changed':
        return new StackError(
          `the SSH host key of ${name} has CHANGED: it now shows ${type} ${fp}, and ${file}:${verdict.line} lists another key for it. Someone may be intercepting the connection, or the host was reinstalled; nothing was sent to it`,
          `only if you know the host was reinstalled: check the new fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-|-.*$/g, '')}_key.pub), then remove the old key with: ssh-keygen -R ${quote(name)} -f ${quote(file)}`,
        );
      case 'unknown':
        if (this.opts.knownHosts?.acceptNew && this.opts.knownHosts.recordNothing) {
          this.log.warn(`${this.name}: first connection, trusted its SSH host key ${type} ${fp} for this run only (SSH_ACCEPT_NEW_HOST_KEYS; a read-only command records nothing in ${file})`);
          return undefined;
        }
        if (this.opts.knownHosts?.acceptNew) {
          await recordHostKey(file, knownHostsLine(this.address, this.port, blob));
          this.log.warn(`${this.name}: first connection, recorded its SSH host key ${type} ${fp} in ${file} (SSH_ACCEPT_NEW_HOST_KEYS)`);
          return undefined;
        }
        return new StackError(
          `the SSH host key of ${name} is not known (${type} ${fp}; not in ${file}); nothing was sent to it`,
          `check that fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-|-.*$/g, '')}_key.pub), then accept it with: ` +
            `echo ${quote(knownHostsLine(this.address, this.port, blob))} >> ${quote(file)}` +
            ' (or set SSH_ACCEPT_NEW_HOST_KEYS=True to record keys of hosts seen for the first time)',
        );
    }
  }

  private async connect(): Promise<Client> {
    const { config, describe } = await this.credentials();
    const timeoutMs = this.opts.connectTimeoutMs ?? 20_000;
    const client = new Client();
    let hostKeyProblem: StackError | undefined;
    return new Promise<Client>((resolve, reject) => {
      let ready = false;
      client.on('ready', () => {
        ready = true;
        // Every command is a few small packets each way (channel open, exec, data, exit status):
        // with Nagle's algorithm each waited for the server's delayed ACK, ~40 ms a command.
        client.setNoDelay(true);
        this.live = client;
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (!ready) {
          reject(hostKeyProblem ?? this.connectError(err, describe, timeoutMs));
          // ssh2 leaves the socket open after a handshake timeout; nothing must linger.
          client.destroy();
        }
        else this.log.debug(`${this.name}: SSH connection error: ${err.message}`);
      });
      client.on('close', () => {
        if (!ready) {
          if (hostKeyProblem) reject(hostKeyProblem);
          reject(new StackError(`${this.target} closed the connection during the SSH handshake`, `is ${this.target} an SSH server?`));
          return;
        }
        // The next command reconnects.
        if (this.live === client) {
          this.live = undefined;
          this.client = undefined;
        }
        const lost = this.closing ? 'closed' : 'lost';
        for (const fail of [...this.inFlight]) fail(new Error(lost));
      });
      try {
        client.connect({
          host: this.address,
          port: this.port,
          username: this.username,
          readyTimeout: timeoutMs,
          keepaliveInterval: this.opts.keepaliveIntervalMs ?? 15_000,
          keepaliveCountMax: 4,
          hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
            this.verifyHostKey(key).then(
              (problem) => {
                hostKeyProblem = problem;
                verify(problem === undefined);
              },
              (err: Error) => {
                hostKeyProblem = new StackError(`cannot check the SSH host key of ${this.target}: ${err.message}`, 'check that the known_hosts file (SSH_KNOWN_HOSTS) is readable and, with SSH_ACCEPT_NEW_HOST_KEYS, writable');
                verify(false);
              },
            );
          },
          ...config,
        });
      } catch (err) {
        // ssh2 parses the key synchronously: an encrypted or unknown key fails here.
        reject(
          new StackError(
            `cannot use ${describe} to log in to ${this.target}: ${(err as Error).message}`,
            'use a key without a passphrase, or load it into ssh-agent and leave SSH_KEY unset',
          ),
        );
      }
    });
  }

  private connectError(err: Error & { level?: string; code?: string }, describe: string, timeoutMs: number): StackError {
    const host = this.address;
    const port = this.port;
    if (err.level === 'client-authentication') {
      const key = describe.startsWith('key ') ? describe.slice(4) : undefined;
      return new StackError(
        `${host} refused ${describe} for user ${this.username} (SSH to ${this.target})`,
        key
          ? `add ${key}.pub to ~${this.username}/.ssh/authorized_keys on ${host}, or set SSH_KEY to a key it accepts`
          : `add your public key to ~${this.username}/.ssh/authorized_keys on ${host}, or set SSH_KEY to a key it accepts`,
      );
    }
    if (err.level === 'client-timeout' || /timed out/i.test(err.message)) {
      return new StackError(
        `no answer from ${host}:${port} within ${timeoutMs / 1000} s (SSH handshake)`,
        `check the address and that nothing blocks port ${port}`,
      );
    }
    switch (err.code) {
      case 'ECONNREFUSED':
        return new StackError(
          `${host}:${port} refused the SSH connection`,
          `is sshd running on ${host}? is the port right?`,
        );
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new StackError(
          `cannot resolve the host name ${host} (${err.code})`,
          `check the spelling, add ${host} to /etc/hosts, or use its IP address`,
        );
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new StackError(`no route to ${host}:${port} (${err.code})`, `check the address and this machine's network`);
      case 'ECONNRESET':
        return new StackError(
          `${host}:${port} reset the connection during the SSH handshake`,
          `is ${host}:${port} an SSH server? sshd may also be refusing connections (MaxStartups, tcp wrappers)`,
        );
    }
    if (/before handshake/i.test(err.message)) {
      return new StackError(
        `${host}:${port} accepted the connection but closed it before the SSH handshake`,
        `is ${host}:${port} an SSH server (is the port right)? sshd also drops clients it refuses outright: check MaxStartups, tcp wrappers or fail2ban there`,
      );
    }
    return new StackError(`cannot open an SSH connection to ${this.username}@${this.target}: ${err.message}`);
  }

  // ---- commands ---------------------------------------------------------------------------

  /**
   * Opens an exec channel, holding one of the slots. A server with a MaxSessions below our
   * limit refuses a channel while others are open: then give that slot up and wait for another.
   */
  private async openChannel(client: Client, wrapped: string, shown: string): Promise<{ ch: ClientChannel; rec: ChannelRecord }> {
    for (;;) {
      await this.slots.acquire();
      try {
        return await new Promise<{ ch: ClientChannel; rec: ChannelRecord }>((resolve, reject) =>
          client.exec(wrapped, (err, ch) => (err ? reject(err) : resolve({ ch, rec: recordChannel(ch) }))),
        );
      } catch (err) {
        const message = (err as Error).message;
        if (/open failed/i.test(message) && this.slots.busy > 1) {
          this.slots.shrink();
          this.log.debug(`${this.name}: sshd refused another session channel; now at most ${this.slots.busy} at once`);
          continue;
        }
        this.slots.release();
        throw new StackError(
          `cannot open an SSH session channel to ${this.target} for: ${shown}: ${message}`,
          /open failed/i.test(message)
            ? `sshd on ${this.address} allows no session: check MaxSessions in its sshd_config`
            : 'check that the host is up and sshd is running',
        );
      }
    }
  }

  /** Runs one command on its own exec channel and collects everything it printed. */
  private async exec(command: string, o: ExecOptions): Promise<Raw> {
    const exports = Object.entries(o.env ?? {})
      .map(([k, v]) => {
        if (!ENV_NAME.test(k)) throw new Error(`invalid environment variable name ${JSON.stringify(k)} for ${o.shown}`);
        return `export ${k}=${quote(v)}\n`;
      })
      .join('');
    // The login shell may not be sh; exec sh so the command runs as the interface promises, with
    // $$ = the session leader sshd made, i.e. the process group a timeout kills.
    const inner = `printf '${PGID_MARK}%s\\n' "$$" >&2\n${exports}${command}`;
    const wrapped = `exec /bin/sh -c ${quote(inner)}`;
    const client = await this.connection();
    const started = performance.now();
    const { ch, rec } = await this.openChannel(client, wrapped, o.shown);

    try {
      return await new Promise<Raw>((resolve, reject) => {
        let settled = false;
        const { out, err } = rec;
        let timedOut = false;
        let waitingForInput: string | undefined;
        let timer: NodeJS.Timeout | undefined;
        const collected = (code: number): Raw => ({
          exitCode: code,
          timedOut,
          ...(waitingForInput !== undefined ? { waitingForInput } : {}),
          stdout: Buffer.concat(out),
          stderr: Buffer.concat(err).toString('utf8').replace(PGID_LINE, ''),
          durationMs: Math.round(performance.now() - started),
        });
        const pgidOf = (): string | undefined => PGID_LINE.exec(Buffer.concat(err).toString('utf8'))?.[1];
        if (o.killOnTimeout !== false) this.running.add(pgidOf);
        const done = (f: () => void): void => {
          if (settled) return;
          settled = true;
          this.running.delete(pgidOf);
          clearTimeout(timer);
          prompt.stop();
          this.inFlight.delete(onLost);
          f();
        };
        const onLost = (why: Error): void =>
          done(() =>
            reject(
              new StackError(
                `${why.message === 'closed' ? 'closed' : 'lost'} the SSH connection to ${this.target} while running on ${this.name}: ${o.shown}`,
                'the command may or may not have finished there; check the host (is it up? did sshd restart?) and run again',
              ),
            ),
          );
        this.inFlight.add(onLost);

        rec.onClose = () => {
          const { exitCode, signal } = rec;
          if (timedOut || waitingForInput !== undefined) done(() => resolve(collected(TIMEOUT_EXIT_CODE)));
          else if (exitCode === undefined && signal === undefined) {
            // Closed without an exit status: sshd or the connection went away under the command.
            onLost(new Error(this.closing ? 'closed' : 'lost'));
          } else {
            const signo = (os.constants.signals as Record<string, number | undefined>)[`SIG${signal}`];
            done(() => resolve(collected(exitCode ?? 128 + (signo ?? 127))));
          }
        };
        if (!rec.closed) {
          if (o.input !== undefined) ch.end(o.input);
          else ch.end();
        }

        const stop = (): void => {
          const pgid = PGID_LINE.exec(Buffer.concat(err).toString('utf8'))?.[1];
          void this.killGroup(pgid, o).finally(() => {
            // sshd reports the channel closed only once the command is gone; do not wait long
            // for that if the command escaped the kill.
            ch.close();
            setTimeout(() => done(() => resolve(collected(TIMEOUT_EXIT_CODE))), 2000).unref();
          });
        };
        const tails = () => [Buffer.concat(out.slice(-8)).toString('utf8'), Buffer.concat(err.slice(-8)).toString('utf8').replace(PGID_LINE, '')];
        const prompt = watchForPrompt(
          tails,
          (p) => {
            if (settled || timedOut) return;
            waitingForInput = p;
            stop();
          },
        );
        ch.on('data', () => prompt.touched());
        ch.stderr.on('data', () => prompt.touched());
        if (o.timeoutMs > 0) {
          timer = setTimeout(() => {
            if (settled || waitingForInput !== undefined) return;
            // Still at a prompt when its time is up: it was waiting for input, not working.
            waitingForInput = trailingPrompt(tails(), true);
            if (waitingForInput === undefined) timedOut = true;
            stop();
          }, o.timeoutMs);
        }
        // Last, so a channel that closed before we got here settles with its timer already set
        // (and cleared by done): settling earlier left a live COMMAND_TIMEOUT timer behind that
        // kept the process alive for 15 minutes after a finished stack.
        if (rec.closed) rec.onClose();
      });
    } finally {
      this.slots.release();
    }
  }

  /** SIGTERM the timed-out command's process group on the host, SIGKILL it if still there after 2 s. */
  private async killGroup(pgid: string | undefined, o: ExecOptions): Promise<void> {
    if (o.killOnTimeout === false || pgid === undefined) return;
    const g = `-${pgid}`;
    const script =
      `kill -s TERM -- ${g} 2>/dev/null || exit 0\n` +
      `for i in 1 2 3 4 5 6 7 8 9 10; do kill -s 0 -- ${g} 2>/dev/null || exit 0; sleep 0.2; done\n` +
      `kill -s KILL -- ${g} 2>/dev/null; exit 0`;
    this.log.debug(`${this.name}: timed out, killing process group ${pgid}: ${o.shown}`);
    await this.exec(script, { timeoutMs: 10_000, shown: `kill process group ${pgid}`, killOnTimeout: false }).catch(
      (err: unknown) => this.log.warn(`${this.name}: could not kill timed-out command (${o.shown}): ${(err as Error).message}`),
    );
  }

  private async command(
    command: string,
    opts: RunOptions & { readonly data?: Buffer | string; readonly stdoutForLog?: (out: Buffer) => string },
  ): Promise<{ result: HostRunResult; stdout: Buffer }> {
    const shown = opts.label ?? command;
    const input = opts.data ?? (opts.secret !== undefined ? secretLine(opts.secret) : opts.input);
    const raw = await this.exec(command, {
      ...(input !== undefined ? { input } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      timeoutMs: opts.timeoutMs ?? this.opts.commandTimeoutMs,
      shown,
    });
    const stdout = raw.stdout.toString('utf8');
    const result = finishCommand(this.log, {
      host: this.name,
      shown,
      exitCode: raw.exitCode,
      timedOut: raw.timedOut,
      ...(raw.waitingForInput !== undefined ? { waitingForInput: raw.waitingForInput } : {}),
      stdout: opts.stdoutForLog ? '' : stripFinalNewline(stdout),
      stderr: stripFinalNewline(raw.stderr),
      durationMs: raw.durationMs,
      check: opts.check ?? true,
      ...(opts.stdoutForLog ? { stdoutForLog: opts.stdoutForLog(raw.stdout) } : {}),
    });
    return { result, stdout: raw.stdout };
  }

  async run(command: string, opts: RunOptions = {}): Promise<HostRunResult> {
    return (await this.command(command, opts)).result;
  }

  // ---- files ------------------------------------------------------------------------------

  async readFile(file: string): Promise<string> {
    const { stdout } = await this.command(sh('cat', '--', file), { label: `read ${file}`, stdoutForLog: bytes });
    return stdout.toString('utf8');
  }

  async readFileIfExists(file: string): Promise<string | null> {
    const { result, stdout } = await this.command(`test -e ${quote(file)} || exit ${MISSING_EXIT}\nexec cat -- ${quote(file)}`, {
      label: `read ${file}`,
      stdoutForLog: bytes,
      check: false,
    });
    if (result.exitCode === MISSING_EXIT) return null;
    if (result.exitCode !== 0) {
      const masked = { ...result, stderr: this.log.mask(result.stderr), stdout: '' };
      throw new CommandError(this.name, masked, result.timedOut, this.log.file);
    }
    return stdout.toString('utf8');
  }

  async writeFile(file: string, data: string | Buffer, opts: WriteOptions = {}): Promise<void> {
    const mode = (opts.mode ?? 0o644).toString(8).padStart(4, '0');
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    // Installed only when size and sha256 of what arrived match: a dropped channel leaves no truncated file.
    const script = wholeWriteScript(file, buf, { mode: opts.mode ?? 0o644, ...(opts.owner ? { owner: opts.owner } : {}) });
    await this.command(script, {
      data: buf,
      label: `write ${file} (mode ${mode}${opts.owner ? `, owner ${opts.owner}` : ''}, ${Buffer.byteLength(data)} bytes)`,
    });
  }

  async exists(file: string): Promise<boolean> {
    const r = await this.run(sh('test', '-e', file), { check: false, label: `test -e ${file}` });
    if (r.exitCode === 0) return true;
    if (r.exitCode === 1) return false;
    throw new Error(`cannot tell whether ${file} exists on ${this.name}: exit code ${r.exitCode} ${r.stderr}`);
  }

  // ---- the rest ---------------------------------------------------------------------------

  async forward(remotePort: number, remoteHost = '127.0.0.1'): Promise<Forward> {
    await this.connection();
    return listenForward(async (local) => {
      const client = await this.connection();
      return new Promise<Duplex>((resolve, reject) =>
        client.forwardOut('127.0.0.1', local.remotePort ?? 0, remoteHost, remotePort, (err, stream) => {
          if (err) {
            this.log.warn(`${this.name}: cannot reach ${remoteHost}:${remotePort} through SSH: ${err.message}`);
            reject(err);
          } else resolve(stream);
        }),
      );
    });
  }

  facts(): Promise<HostFacts> {
    return this.cachedFacts();
  }

  async close(): Promise<void> {
    const groups = [...this.running].map((g) => g()).filter((g): g is string => g !== undefined);
    if (groups.length && this.client) {
      const gs = groups.map((g) => `-${g}`).join(' ');
      await this.exec(`kill -s TERM -- ${gs} 2>/dev/null; sleep 1; kill -s KILL -- ${gs} 2>/dev/null; exit 0`, {
        timeoutMs: 10_000,
        shown: `end ${groups.length} running command(s)`,
        killOnTimeout: false,
      }).catch(() => undefined);
    }
    this.closing = true;
    const pending = this.client;
    this.client = undefined;
    if (!pending) return;
    const client = await pending.catch(() => undefined);
    if (!client) return;
    await new Promise<void>((resolve) => {
      client.once('close', () => resolve());
      client.end();
    });
  }
}

const bytes = (out: Buffer): string => `(${out.length} bytes)`;
