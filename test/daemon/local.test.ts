// Integration: real daemons on this machine through LocalHost, in both no-systemd launch modes
// (start-stop-daemon on Debian; setsid + setpriv as on RHEL hosts, which this machine also has).
// Each daemon is python3's http.server as user nobody on 127.0.0.1, on a port picked free, with
// its state in a temp dir. Everything started is stopped by its pid; temp dirs are removed.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonStatus, pidFile, startDaemon, stopDaemon, type DaemonSpec } from '../../lib/daemon.ts';
import { LocalHost } from '../../lib/host/local.ts';
import type { HostFacts } from '../../lib/host/types.ts';
import { StackError } from '../../lib/errors.ts';
import { waitForHttp } from '../../lib/wait.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';

const canRun =
  process.getuid?.() === 0 && existsSync('/usr/bin/python3') && existsSync('/usr/bin/setpriv') && existsSync('/usr/bin/setsid');
const hasSsd = existsSync('/usr/sbin/start-stop-daemon') || existsSync('/sbin/start-stop-daemon');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Running = /proc/PID exists and is not a zombie (this machine's PID 1 reaps late). */
function procState(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

async function gone(pid: number, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true; // ESRCH: kill -0 fails
    }
    if (Date.now() > until) return procState(pid) === 'Z';
    await new Promise((r) => setTimeout(r, 100));
  }
}

const started = new Set<number>();
const tempDirs: string[] = [];

afterAll(async () => {
  // Only what this file started, by pid: a test that failed half-way leaves nothing running.
  for (const pid of started) {
    if (procState(pid) !== null && procState(pid) !== 'Z') {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

const modes: { label: string; facts: (f: HostFacts) => HostFacts; enabled: boolean }[] = [
  { label: 'debian, start-stop-daemon', facts: (f) => ({ ...f, family: 'debian', init: 'sysv' }), enabled: canRun && hasSsd },
  { label: 'rhel-style, setsid + setpriv', facts: (f) => ({ ...f, family: 'rhel', id: 'rocky', version: '9', init: 'sysv' }), enabled: canRun },
];

for (const mode of modes) {
  describe.runIf(mode.enabled)(`argv daemon without systemd (${mode.label})`, () => {
    let host: LocalHost;
    let facts: HostFacts;
    let stateDir: string;
    let spec: DaemonSpec;
    let port: number;
    let firstPid: number;
    const nogroup = canRun ? execFileSync('id', ['-gn', 'nobody'], { encoding: 'utf8' }).trim() : 'nogroup';

    beforeAll(async () => {
      host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 60_000 });
      facts = mode.facts(await host.facts());
      stateDir = await mkdtemp(path.join(os.tmpdir(), 'stackts-daemon-'));
      tempDirs.push(stateDir);
      await chmod(stateDir, 0o755); // nobody must reach its log below it
      const www = path.join(stateDir, 'www');
      await mkdir(www, { mode: 0o755 });
      await writeFile(path.join(www, 'hello.txt'), 'hello from the daemon\n', { mode: 0o644 });
      port = await freePort();
      spec = {
        name: 'http-test',
        argv: ['/usr/bin/python3', '-m', 'http.server', String(port), '--bind', '127.0.0.1'],
        user: 'nobody',
        group: nogroup,
        env: { STACKTS_MARK: 'from-spec' },
        runtimeDirs: [{ path: path.join(stateDir, 'rt', 'http-test'), owner: `nobody:${nogroup}`, mode: 0o750 }],
        workDir: www,
      };
      process.env.STACKTS_LEAK_CHECK = 'must-not-reach-the-daemon';
    });
    afterAll(async () => {
      delete process.env.STACKTS_LEAK_CHECK;
      if (spec) await stopDaemon(host, facts, spec, stateDir).catch(() => undefined);
      await host.close();
    });

    it('starts as nobody, answers HTTP, and status reports the pid', async () => {
      await startDaemon(host, facts, spec, stateDir);
      const status = await waitForHttp(`http://127.0.0.1:${port}/hello.txt`, { name: spec.name, timeoutMs: 15_000 });
      expect(status).toBe(200);
      const st = await daemonStatus(host, facts, spec, stateDir);
      expect(st.running).toBe(true);
      firstPid = st.pid!;
      started.add(firstPid);
      expect(Number(readFileSync(pidFile(spec, stateDir), 'utf8').trim())).toBe(firstPid);
      // The pid is the daemon itself (the shell exec'd), running as nobody in the work dir.
      expect(readFileSync(`/proc/${firstPid}/cmdline`, 'utf8').split('\0').slice(0, 3)).toEqual(['/usr/bin/python3', '-m', 'http.server']);
      expect(readFileSync(`/proc/${firstPid}/status`, 'utf8')).toMatch(/^Uid:\s+65534\s/m);
      // A clean environment: ours in, the caller's out.
      const env = readFileSync(`/proc/${firstPid}/environ`, 'utf8').split('\0');
      expect(env).toContain('STACKTS_MARK=from-spec');
      expect(env.some((e) => e.startsWith('STACKTS_LEAK_CHECK='))).toBe(false);
      expect(env.find((e) => e.startsWith('HOME='))).toBe(`HOME=${execFileSync('getent', ['passwd', 'nobody'], { encoding: 'utf8' }).split(':')[5]}`);
      // The runtime dir exists with the owner and mode asked for.
      const rt = statSync(path.join(stateDir, 'rt', 'http-test'));
      expect(rt.uid).toBe(65534);
      expect(rt.mode & 0o777).toBe(0o750);
    });

    it('a second start is a no-op: same pid', async () => {
      await startDaemon(host, facts, spec, stateDir);
      expect((await daemonStatus(host, facts, spec, stateDir)).pid).toBe(firstPid);
    });

    it('stop: TERM, the process is gone, the pidfile removed; a second stop says not-running', async () => {
      expect(await stopDaemon(host, facts, spec, stateDir)).toBe('stopped');
      expect(await gone(firstPid)).toBe(true);
      expect(existsSync(pidFile(spec, stateDir))).toBe(false);
      expect(await daemonStatus(host, facts, spec, stateDir)).toEqual({ running: false });
      expect(await stopDaemon(host, facts, spec, stateDir)).toBe('not-running');
    });

    it('waiting on the stopped port times out with the message and the log tail', async () => {
      const log = path.join(stateDir, 'logs', 'http-test.log');
      const err = await waitForHttp(`http://127.0.0.1:${port}/`, {
        name: spec.name,
        timeoutMs: 2000,
        intervalMs: 100,
        logFile: log,
        onTimeout: async () => (await host.run(`tail -n 30 ${log}`)).stdout,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StackError);
      const se = err as StackError;
      expect(se.message).toBe(`http-test did not answer at http://127.0.0.1:${port}/ within 2 s (last attempt: connection refused)`);
      // The log tail is the daemon's own output: http.server logged the request for hello.txt.
      expect(se.logTail).toEqual({ file: log, lines: expect.stringContaining('"GET /hello.txt HTTP/1.1" 200') });
    });

    it('a pidfile naming someone else\'s live process is not ours: never signalled', async () => {
      await mkdir(path.dirname(pidFile(spec, stateDir)), { recursive: true });
      await writeFile(pidFile(spec, stateDir), `${process.pid}\n`);
      await writeFile(`${pidFile(spec, stateDir)}.start`, '1\n');
      expect(await daemonStatus(host, facts, spec, stateDir)).toEqual({ running: false });
      expect(await stopDaemon(host, facts, spec, stateDir)).toBe('not-running');
      expect(existsSync(pidFile(spec, stateDir))).toBe(false);
      // ...and a start then runs a fresh daemon instead of believing the stale file.
      await startDaemon(host, facts, spec, stateDir);
      const st = await daemonStatus(host, facts, spec, stateDir);
      expect(st.running).toBe(true);
      expect(st.pid).not.toBe(process.pid);
      started.add(st.pid!);
      await waitForHttp(`http://127.0.0.1:${port}/hello.txt`, { timeoutMs: 15_000 });
      expect(await stopDaemon(host, facts, spec, stateDir)).toBe('stopped');
      expect(await gone(st.pid!)).toBe(true);
    });

    it('a daemon that dies at once fails the start with its own last words', async () => {
      const bad: DaemonSpec = { name: 'dies-at-once', argv: ['/bin/sh', '-c', 'echo "config error: no such option" >&2; exit 3'], user: 'nobody', group: nogroup };
      const err = await startDaemon(host, facts, bad, stateDir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StackError);
      expect((err as StackError).message).toBe(`dies-at-once exited right after it was started on ${host.name}`);
      expect((err as StackError).logTail?.lines).toContain('config error: no such option');
    });

    it('a log the user cannot write is named before anything starts', async () => {
      const locked = path.join(stateDir, 'locked');
      await mkdir(locked, { mode: 0o700 });
      const bad: DaemonSpec = { ...spec, name: 'unwritable-log', logFile: path.join(locked, 'sub', 'x.log') };
      // install -d makes sub/ nobody's, but nobody cannot pass through root's 0700 locked/.
      await expect(startDaemon(host, facts, bad, stateDir)).rejects.toThrow(/user nobody cannot write .*locked\/sub\/x\.log/);
      expect(existsSync(pidFile(bad, stateDir))).toBe(false);
    });
  });
}

describe.runIf(canRun && existsSync('/usr/sbin/service'))('unit daemon without systemd (service)', () => {
  it('an init script that does not exist: the start fails with service\'s own words; status and stop say not running', async () => {
    const host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 60_000 });
    const facts: HostFacts = { ...(await host.facts()), init: 'sysv' };
    const spec: DaemonSpec = { name: 'nope', unit: 'stackts-no-such-service' };
    const err = await startDaemon(host, facts, spec, '/nonexistent').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    expect((err as StackError).message).toBe('nope could not be started on local: stackts-no-such-service: unrecognized service');
    expect(await daemonStatus(host, facts, spec, '/nonexistent')).toEqual({ running: false });
    expect(await stopDaemon(host, facts, spec, '/nonexistent')).toBe('not-running');
    await host.close();
  });
});

describe.runIf(canRun)('unit daemon without systemd, status by its own pid file', () => {
  // A process of this test stands in for the node; the init script does not exist, so only the
  // pid file can say whether the daemon runs - as when rabbitmqctl cannot reach a booting node.
  it('running only while the pid file names a live process of that program; stop ends it even when the init script cannot', async () => {
    const host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 60_000 });
    const facts: HostFacts = { ...(await host.facts()), init: 'sysv' };
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sysv-pid-'));
    const child = spawn('sleep', ['300'], { stdio: 'ignore' });
    try {
      const file = path.join(dir, 'pid');
      const spec: DaemonSpec = { name: 'node', unit: 'stackts-no-such-service', sysvPid: { file, comm: 'sleep' } };
      expect(await daemonStatus(host, facts, spec, dir)).toEqual({ running: false });
      await writeFile(file, `${child.pid}\n`);
      expect(await daemonStatus(host, facts, spec, dir)).toEqual({ running: true, pid: child.pid });
      // The same pid as another program's (a reused pid after the node was killed): not running.
      expect(await daemonStatus(host, facts, { ...spec, sysvPid: { file, comm: 'beam.smp' } }, dir)).toEqual({ running: false });
      const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      expect(await stopDaemon(host, facts, spec, dir)).toBe('stopped');
      expect(await exited).toBe('SIGTERM');
      expect(await daemonStatus(host, facts, spec, dir)).toEqual({ running: false });
      expect(await stopDaemon(host, facts, spec, dir)).toBe('not-running');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      await host.close();
    }
  });
});
