// What only the SSH host can get wrong: connecting (each failure explained for the person at
// the terminal), losing the connection mid-command, and a server that allows few sessions.
// Nothing here leaves the machine: "unreachable" is simulated with a local server that never speaks.

import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EventEmitter } from 'node:events';
import { Client, type ClientChannel } from 'ssh2';
import { SshHost, recordChannel } from '../../lib/host/ssh.ts';
import { StackError } from '../../lib/errors.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';
import { freePort, makeKey, startSshd, type Sshd } from '../fixtures/sshd.ts';

const caught = async (p: Promise<unknown>): Promise<StackError> => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(StackError);
    return err as StackError;
  }
  throw new Error('expected a rejection');
};

describe('SshHost connection failures', () => {
  let sshd: Sshd;
  let dir: string;
  const servers: net.Server[] = [];
  const sockets: net.Socket[] = [];
  const hosts: SshHost[] = [];
  const open = (port: number, extra: Partial<ConstructorParameters<typeof SshHost>[0]> = {}): SshHost => {
    const h = new SshHost({ host: '127.0.0.1', port, privateKey: sshd.keyPath, log: new MemoryLogger(), commandTimeoutMs: 30_000, ...extra });
    hosts.push(h);
    return h;
  };

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(path.join(os.tmpdir(), 'stackts-ssh-test-'));
  });
  afterAll(async () => {
    for (const h of hosts) await h.close();
    for (const s of sockets) s.destroy();
    for (const s of servers) await new Promise((r) => s.close(r));
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a closed port: refused, and asks whether sshd runs there', async () => {
    const port = await freePort();
    const err = await caught(open(port).run('true'));
    expect(err.message).toBe(`127.0.0.1:${port} refused the SSH connection`);
    expect(err.hint).toBe('is sshd running on 127.0.0.1? is the port right?');
  });

  it('a key the server does not accept: names the host, the key and the user', async () => {
    const wrong = makeKey(path.join(dir, 'wrong_ed25519'));
    const err = await caught(open(sshd.port, { privateKey: wrong }).run('true'));
    expect(err.message).toContain(`127.0.0.1 refused key ${wrong} for user root`);
    expect(err.hint).toContain(`add ${wrong}.pub to ~root/.ssh/authorized_keys on 127.0.0.1`);
    expect(err.hint).toContain('SSH_KEY');
  });

  it('a key file that does not exist: names it', async () => {
    const missing = path.join(dir, 'no-such-key');
    const err = await caught(open(sshd.port, { privateKey: missing }).run('true'));
    expect(err.message).toContain(missing);
    expect(err.hint).toContain('SSH_KEY');
  });

  it('a server that accepts but never answers: times out naming host, port and seconds', async () => {
    const silent = net.createServer((sock) => {
      sockets.push(sock);
      sock.resume();
    });
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    const started = Date.now();
    const err = await caught(open(port, { connectTimeoutMs: 1500 }).run('true'));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(err.message).toBe(`no answer from 127.0.0.1:${port} within 1.5 s (SSH handshake)`);
    expect(err.hint).toBe(`check the address and that nothing blocks port ${port}`);
  });

  it('a connection lost under a running command: names the host and the command, then reconnects', async () => {
    const h = open(sshd.port);
    expect((await h.run('echo up')).stdout).toBe('up');
    // $PPID is the sshd process serving this connection: killing it drops the connection.
    const err = await caught(h.run('kill -9 $PPID; sleep 5', { label: 'the step that loses its host' }));
    expect(err.message).toContain(`lost the SSH connection to 127.0.0.1:${sshd.port}`);
    expect(err.message).toContain('the step that loses its host');
    expect((await h.run('echo back')).stdout).toBe('back');
  });
});

describe('SshHost against a server with MaxSessions 3', () => {
  let sshd: Sshd;
  let host: SshHost;
  beforeAll(async () => {
    sshd = await startSshd({ maxSessions: 3 });
    host = new SshHost({ host: '127.0.0.1', port: sshd.port, privateKey: sshd.keyPath, log: new MemoryLogger(), commandTimeoutMs: 30_000 });
  });
  afterAll(async () => {
    await host?.close();
    await sshd?.stop();
  });

  it('runs 12 commands at once by queueing them on the channels the server allows', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => host.run(`sleep 0.5; echo ${i}`)));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
  });
});

describe('SshHost latency', () => {
  let sshd: Sshd;
  let host: SshHost;
  beforeAll(async () => {
    sshd = await startSshd();
    host = new SshHost({ host: '127.0.0.1', port: sshd.port, privateKey: sshd.keyPath, log: new MemoryLogger(), commandTimeoutMs: 30_000 });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await host?.close();
    await sshd?.stop();
  });

  it('turns Nagle off on its connection: a command is small packets each way, and each waited ~40 ms for a delayed ACK', async () => {
    const noDelay = vi.spyOn(Client.prototype, 'setNoDelay');
    await host.run('true');
    expect(noDelay).toHaveBeenCalledWith(true);
  });
});

describe('recordChannel', () => {
  // ssh2 can hand over a channel and emit a short command's output, exit status and close in the
  // same tick; listeners attached after an await missed them and the command looked "lost".
  it('keeps what a channel said before anyone awaited it', () => {
    const ch = Object.assign(new EventEmitter(), { stderr: new EventEmitter() });
    const rec = recordChannel(ch as unknown as ClientChannel);
    ch.emit('data', Buffer.from('out'));
    ch.stderr.emit('data', Buffer.from('err'));
    ch.emit('exit', 3);
    ch.emit('close');
    expect(rec).toMatchObject({ exitCode: 3, closed: true });
    expect(Buffer.concat(rec.out).toString()).toBe('out');
    expect(Buffer.concat(rec.err).toString()).toBe('err');
  });
});
