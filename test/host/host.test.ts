// One suite, two hosts: everything above lib/host must see the same behaviour on the local
// machine and over SSH, so every case runs against LocalHost and against SshHost talking to a
// real sshd on 127.0.0.1.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitedForInput, wasTimedOut } from '../../lib/host/errors.ts';
import { LocalHost } from '../../lib/host/local.ts';
import { SshHost } from '../../lib/host/ssh.ts';
import { CommandError, type Host } from '../../lib/host/types.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';
import { startSshd, type Sshd } from '../fixtures/sshd.ts';

/** Every character that has broken a password somewhere: shell, URL, ini interpolation, quoting. */
const PASSWORD = `p4 $HOME @:/ ' " % \\ \`x\` ; & | * ? ! # ~ end`;

interface Subject {
  readonly kind: 'local' | 'ssh';
  host: Host;
  log: MemoryLogger;
  setup(): Promise<void>;
  teardown(): Promise<void>;
}

const local = (): Subject => {
  const log = new MemoryLogger();
  return {
    kind: 'local',
    log,
    host: new LocalHost({ log, commandTimeoutMs: 60_000 }),
    async setup() {},
    async teardown() {
      await this.host.close();
    },
  };
};

const ssh = (): Subject => {
  const log = new MemoryLogger();
  let sshd: Sshd | undefined;
  return {
    kind: 'ssh',
    log,
    host: undefined as unknown as Host,
    async setup() {
      sshd = await startSshd();
      this.host = new SshHost({ host: '127.0.0.1', port: sshd.port, privateKey: sshd.keyPath, log, commandTimeoutMs: 60_000 });
    },
    async teardown() {
      await this.host?.close();
      await sshd?.stop();
    },
  };
};

/** Runs on the test machine itself (both hosts are this machine), not through the host under test. */
const here = (cmd: string): string => execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8' });

const gone = async (pattern: string, withinMs: number): Promise<boolean> => {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    // [x]yz keeps pgrep from matching its own shell's command line.
    const found = here(`pgrep -f '${pattern}' || true`).trim();
    if (found === '') return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
};

const caught = async (p: Promise<unknown>): Promise<unknown> => {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
};

describe.each([local(), ssh()])('$kind host', (s) => {
  let dir: string;
  let runs = 0;
  /** Counts run() calls so the last test can check every one of them was logged. */
  const run = (...args: Parameters<Host['run']>) => {
    runs++;
    return s.host.run(...args);
  };

  beforeAll(async () => {
    await s.setup();
    dir = mkdtempSync(path.join(os.tmpdir(), `stackts-host-${s.kind}-`));
  });
  afterAll(async () => {
    await s.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a command through /bin/sh and returns its output and exit code', async () => {
    const r = await run('echo out; echo err >&2; readlink /proc/$$/exe');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`out\n${here('readlink -f /bin/sh').trim()}`);
    expect(r.stderr).toBe('err');
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(s.log.records.at(-1)).toMatchObject({ host: s.host.name, command: r.command, exitCode: 0, stdout: r.stdout, stderr: 'err' });
  });

  it('throws CommandError naming the command, exit code and the tail of stderr', async () => {
    const cmd = 'for i in $(seq 1 40); do echo "line $i" >&2; done; exit 7';
    const err = await caught(run(cmd));
    expect(err).toBeInstanceOf(CommandError);
    const e = err as CommandError;
    expect(e.host).toBe(s.host.name);
    expect(e.timedOut).toBe(false);
    expect(e.result.exitCode).toBe(7);
    expect(e.result.command).toBe(cmd);
    expect(e.message).toContain(`exit code 7 on ${s.host.name}: ${cmd}`);
    expect(e.message).toContain('line 40');
    expect(e.message).not.toContain('line 20\n');
    expect(s.log.records.at(-1)).toMatchObject({ command: cmd, exitCode: 7 });
  });

  it('returns a failed command with check: false, and shows the label instead of the command', async () => {
    const r = await run('exit 3', { check: false, label: 'probe something' });
    expect(r.exitCode).toBe(3);
    expect(r.command).toBe('probe something');
    expect(s.log.records.at(-1)).toMatchObject({ command: 'probe something', exitCode: 3 });
    const err = (await caught(run('echo nope >&2; false', { label: 'the labelled step' }))) as CommandError;
    expect(err.message).toContain('the labelled step');
    expect(err.message).not.toContain('false');
  });

  it('passes stdin byte-exact, and never logs it', async () => {
    const r = await run('cat', { input: PASSWORD });
    expect(r.stdout).toBe(PASSWORD);
    const from = s.log.records.length;
    const hex = await run('od -An -tx1 | tr -d " \\n"', { input: `${PASSWORD}\n` });
    expect(hex.stdout).toBe(Buffer.from(`${PASSWORD}\n`).toString('hex'));
    const wc = await run('wc -c', { input: PASSWORD });
    expect(Number(wc.stdout.trim())).toBe(Buffer.byteLength(PASSWORD));
    // A command that reads stdin without input gets EOF at once instead of hanging.
    expect((await run('cat', { timeoutMs: 10_000 })).stdout).toBe('');
    const logged = JSON.stringify(s.log.records.slice(from));
    expect(logged).toContain('wc -c');
    expect(logged).not.toContain('p4 $HOME');
  });

  // rabbitmqctl-like: asks for a password, then (like change_password on some releases) for it again.
  const ASKS_TWICE = 'printf "Password: " >&2; read -r a; printf "Confirm password: " >&2; read -r b || echo "no second line" >&2; printf "got[%s][%s]" "$a" "$b"';

  it('gives a secret as one line with its newline, then closes stdin: a command that reads twice finishes', async () => {
    const r = await run(ASKS_TWICE, { secret: PASSWORD, timeoutMs: 30_000, label: 'asks twice' });
    expect(r.stdout).toBe(`got[${PASSWORD}][]`);
    expect(r.stderr).toContain('no second line');
    expect(waitedForInput(r)).toBeUndefined();
    expect(wasTimedOut(r)).toBe(false);
    // The secret reaches stdin with exactly one terminating newline, even when it already has one.
    const hex = await run('od -An -tx1 | tr -d " \\n"', { secret: `${PASSWORD}\n` });
    expect(hex.stdout).toBe(Buffer.from(`${PASSWORD}\n`).toString('hex'));
  });

  it('stops a command stuck on a prompt within seconds and says it waits for input, naming it', async () => {
    // The prompt's answer would come from a FIFO nobody writes to: like a tool that ignores the
    // stdin it was given and waits on its own channel (RabbitMQ 4's CLI started with -noinput).
    const fifo = path.join(dir, `prompt-fifo-${runs}`);
    const cmd = `mkfifo ${fifo}; exec 3<>${fifo}; printf "Password: " >&2; read -r answer <&3; echo never`;
    const started = Date.now();
    const err = (await caught(run(cmd, { secret: 'one line', timeoutMs: 60_000 }))) as CommandError;
    expect(err).toBeInstanceOf(CommandError);
    expect(err.waitingForInput).toBe('Password:');
    expect(err.timedOut).toBe(false);
    expect(err.message).toContain(`waiting for input on ${s.host.name}: ${cmd}`);
    expect(err.message).not.toMatch(/killed|timed out/);
    // Well inside the command's own 60 s timeout, so the prompt (not the timeout) ended it; not a
    // tighter bound, which a loaded machine would break.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await gone(`[m]kfifo ${fifo}`, 5_000)).toBe(true);
    // With check: false the result says so too.
    const r = await run(`printf "Passphrase for the key: "; exec sleep 39.5`, { check: false, timeoutMs: 60_000 });
    expect(waitedForInput(r)).toBe('Passphrase for the key:');
    expect(r.exitCode).toBe(124);
    expect(await gone('[s]leep 39.5', 5_000)).toBe(true);
    // Past its timeout at a password question on a line of its own (as rabbitmqctl prints it): waiting too.
    const late = await run('echo "Password:"; exec sleep 39.75', { check: false, timeoutMs: 10_000 });
    expect(waitedForInput(late)).toBe('Password:');
    expect(wasTimedOut(late)).toBe(false);
    expect(await gone('[s]leep 39.75', 5_000)).toBe(true);
    // A prompt that was answered (output goes on) and a quiet command are no wait.
    const quiet = await run(`printf "Password: "; echo; echo "token: abc"; sleep 4; echo done`, { check: false, timeoutMs: 30_000 });
    expect(quiet).toMatchObject({ exitCode: 0, stdout: 'Password: \ntoken: abc\ndone' });
    expect(waitedForInput(quiet)).toBeUndefined();
  });

  it('passes env values exactly, without putting them in the logged command', async () => {
    const env = { STACK_PW: PASSWORD, STACK_OTHER: "it's\nmultiline" };
    const from = s.log.records.length;
    const cmd = 'printf "%s|%s" "$STACK_PW" "$STACK_OTHER" | od -An -tx1 | tr -d " \\n"';
    const r = await run(cmd, { env });
    expect(r.stdout).toBe(Buffer.from(`${PASSWORD}|it's\nmultiline`).toString('hex'));
    expect(s.log.records.at(-1)!.command).toBe(cmd);
    const logged = JSON.stringify(s.log.records.slice(from));
    expect(logged).not.toContain('multiline');
    expect(logged).not.toContain('p4 $HOME');
  });

  it('kills a command and everything it started at the timeout, and says so', async () => {
    const started = Date.now();
    const r = await run('sleep 37.25 & sleep 37.5; echo never', { timeoutMs: 700, check: false });
    expect(wasTimedOut(r)).toBe(true);
    expect(r.exitCode).toBe(124);
    expect(r.stdout).toBe('');
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(await gone('[s]leep 37.25', 5_000)).toBe(true);
    expect(await gone('[s]leep 37.5', 5_000)).toBe(true);
    expect(s.log.records.at(-1)).toMatchObject({ command: 'sleep 37.25 & sleep 37.5; echo never', exitCode: null });

    const err = (await caught(run('sleep 38.5', { timeoutMs: 500 }))) as CommandError;
    expect(err).toBeInstanceOf(CommandError);
    expect(err.timedOut).toBe(true);
    expect(err.message).toContain(`timed out on ${s.host.name}: sleep 38.5`);
    expect(await gone('[s]leep 38.5', 5_000)).toBe(true);
  });

  it('writes a file with mode and owner, creating its parent directories', async () => {
    const file = path.join(dir, 'a/b/secret.conf');
    const content = `[database]\npassword = ${PASSWORD}\nü\n\n`;
    await s.host.writeFile(file, content, { mode: 0o600, owner: 'nobody:nogroup' });
    const st = statSync(file);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(Number(here('id -u nobody')));
    expect(st.gid).toBe(Number(here('getent group nogroup | cut -d: -f3')));
    expect(readFileSync(file, 'utf8')).toBe(content);
    expect(statSync(path.join(dir, 'a/b')).mode & 0o777).toBe(0o755);
    expect(await s.host.readFile(file)).toBe(content);
    expect(s.log.everything()).not.toContain('password = p4');
  });

  it('replaces a file atomically (a new inode, no temp file left) with the default mode 0644', async () => {
    const file = path.join(dir, 'replace.conf');
    writeFileSync(file, 'old\n', { mode: 0o600 });
    const before = statSync(file).ino;
    await s.host.writeFile(file, Buffer.from('new\n'));
    const st = statSync(file);
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(st.ino).not.toBe(before);
    expect(st.mode & 0o777).toBe(0o644);
    expect(st.uid).toBe(0);
    expect(readdirSync(dir).filter((n) => n.includes('replace'))).toEqual(['replace.conf']);
  });

  it('leaves no temp file and the old content when the owner does not exist', async () => {
    const file = path.join(dir, 'keep.conf');
    writeFileSync(file, 'keep\n');
    await expect(s.host.writeFile(file, 'x', { owner: 'stackts-no-such-user' })).rejects.toThrow(/stackts-no-such-user/);
    expect(readFileSync(file, 'utf8')).toBe('keep\n');
    expect(readdirSync(dir).filter((n) => n.includes('keep'))).toEqual(['keep.conf']);
  });

  it('reads files, null for a missing one, and tells whether a path exists', async () => {
    const file = path.join(dir, 'read.txt');
    writeFileSync(file, 'line 1\nline 2\n\n');
    expect(await s.host.readFile(file)).toBe('line 1\nline 2\n\n');
    expect(await s.host.readFileIfExists(file)).toBe('line 1\nline 2\n\n');
    expect(await s.host.readFileIfExists(path.join(dir, 'missing'))).toBeNull();
    await expect(s.host.readFile(path.join(dir, 'missing'))).rejects.toThrow(/missing/);
    await expect(s.host.readFileIfExists(dir)).rejects.toThrow();
    expect(await s.host.exists(file)).toBe(true);
    expect(await s.host.exists(dir)).toBe(true);
    expect(await s.host.exists(path.join(dir, 'missing'))).toBe(false);
    expect(await s.host.exists(path.join(file, 'under-a-file'))).toBe(false);
  });

  it('runs 20 commands at once (over SSH: all on one connection, more than MaxSessions)', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => run(`sleep 1; echo "${i} \${SSH_CLIENT:-none}"`)),
    );
    expect(results.map((r) => r.stdout.split(' ')[0])).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    const clients = new Set(results.map((r) => r.stdout.slice(r.stdout.indexOf(' ') + 1)));
    expect(clients.size).toBe(1);
    if (s.kind === 'ssh') expect([...clients][0]).toMatch(/^127\.0\.0\.1 \d+ \d+$/);
  }, 180_000);

  it('forwards a local port to a TCP server as the host sees it', async () => {
    const echo = net.createServer((c) => c.pipe(c));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const port = (echo.address() as net.AddressInfo).port;
    const fwd = await s.host.forward(port);
    try {
      const talk = (msg: string) =>
        new Promise<string>((resolve, reject) => {
          const c = net.connect(fwd.port, '127.0.0.1', () => c.write(msg));
          let got = '';
          c.on('data', (b) => {
            got += b.toString();
            if (got.length >= msg.length) {
              c.end();
              resolve(got);
            }
          });
          c.on('error', reject);
        });
      expect(await Promise.all([talk('hello through the tunnel'), talk('second client')])).toEqual([
        'hello through the tunnel',
        'second client',
      ]);
      if (s.kind === 'ssh') expect(fwd.port).not.toBe(port);
    } finally {
      await fwd.close();
      await new Promise((r) => echo.close(r));
    }
  });

  it('detects this machine: debian, its init system, its arch and hostname (once)', async () => {
    const before = s.log.records.length;
    const facts = await s.host.facts();
    const pid1 = readFileSync('/proc/1/comm', 'utf8').trim();
    expect(facts).toMatchObject({
      family: 'debian',
      id: 'debian',
      init: pid1 === 'systemd' ? 'systemd' : 'sysv',
      arch: here('uname -m').trim(),
      hostname: os.hostname(),
    });
    expect(await s.host.facts()).toBe(facts);
    expect(s.log.records.length).toBe(before + 1);
  });

  it('logged every command it ran, under its host name', () => {
    const mine = s.log.records.filter((r) => r.host === s.host.name);
    expect(mine.length).toBe(s.log.records.length);
    // run() calls plus chown/read/test/write/facts records: at least one record per run() call.
    expect(mine.length).toBeGreaterThanOrEqual(runs);
    expect(mine.filter((r) => /^sleep 1; echo/.test(r.command))).toHaveLength(20);
  });
});
