// SSH host keys against a real OpenSSH server (test/fixtures/sshd.ts): nothing is sent to a host
// whose key is unknown or changed; a known key (plain or hashed) is accepted; accept-new records.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshHost } from '../../lib/host/ssh.ts';
import { checkHostKey, hostFieldMatches } from '../../lib/host/known-hosts.ts';
import type { KnownHostsPolicy } from '../../lib/host/known-hosts.ts';
import { StackError } from '../../lib/errors.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';
import { makeKey, startSshd, type Sshd } from '../fixtures/sshd.ts';

const caught = async (p: Promise<unknown>): Promise<StackError> => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(StackError);
    return err as StackError;
  }
  throw new Error('expected a rejection');
};

describe('SSH host key checking against a real sshd', () => {
  let sshd: Sshd;
  let dir: string;
  let fp: string;
  const hosts: SshHost[] = [];
  const open = (knownHosts: KnownHostsPolicy, log = new MemoryLogger()): SshHost => {
    const h = new SshHost({ host: '127.0.0.1', port: sshd.port, privateKey: sshd.keyPath, log, commandTimeoutMs: 30_000, knownHosts });
    hosts.push(h);
    return h;
  };
  const file = (name: string, text: string): string => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(path.join(os.tmpdir(), 'stackts-known-hosts-'));
    // What OpenSSH itself says the server's fingerprint is.
    fp = execFileSync('ssh-keygen', ['-lf', path.join(sshd.dir, 'host_ed25519.pub')], { encoding: 'utf8' }).split(' ')[1]!;
  });
  afterAll(async () => {
    for (const h of hosts) await h.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an unknown key is refused with its fingerprint and the one command that accepts it', async () => {
    const known = file('unknown', '');
    const err = await caught(open({ file: known }).run('true'));
    expect(err.message).toBe(`the SSH host key of [127.0.0.1]:${sshd.port} is not known (ssh-ed25519 ${fp}; not in ${known}); nothing was sent to it`);
    const command = /accept it with: (echo .*? >> \S+)/.exec(err.hint ?? "")![1]!;
    expect(readFileSync(known, 'utf8')).toBe('');
    // Running exactly that command makes the next connection work.
    execFileSync('sh', ['-c', command]);
    expect((await open({ file: known }).run('echo in')).stdout).toBe('in');
  });

  it('a missing known_hosts file is an unknown key, not a crash', async () => {
    const err = await caught(open({ file: path.join(dir, 'nope', 'known_hosts') }).run('true'));
    expect(err.message).toMatch(/is not known \(ssh-ed25519 SHA256:/);
  });

  it('a changed key is refused, even with accept-new, and the file is left alone', async () => {
    const other = makeKey(path.join(dir, 'other_host_key'));
    const [type, key] = readFileSync(`${other}.pub`, 'utf8').split(' ');
    const text = `# a comment\n[127.0.0.1]:${sshd.port} ${type} ${key}\n`;
    const known = file('changed', text);
    for (const acceptNew of [false, true]) {
      const err = await caught(open({ file: known, acceptNew }).run('true'));
      expect(err.message).toBe(
        `the SSH host key of [127.0.0.1]:${sshd.port} has CHANGED: it now shows ssh-ed25519 ${fp}, and ${known}:2 lists another key for it. ` +
          'Someone may be intercepting the connection, or the host was reinstalled; nothing was sent to it',
      );
      expect(err.hint ?? "").toContain(`ssh-keygen -R '[127.0.0.1]:${sshd.port}' -f ${known}`);
    }
    expect(readFileSync(known, 'utf8')).toBe(text);
  });

  it('a known key is accepted, plain and hashed (ssh-keygen -H)', async () => {
    expect((await open({ file: sshd.knownHostsPath }).run('echo ok')).stdout).toBe('ok');
    const hashed = file('hashed', `${sshd.knownHostsLine}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', hashed]);
    expect(readFileSync(hashed, 'utf8')).toMatch(/^\|1\|/);
    expect((await open({ file: hashed }).run('echo ok')).stdout).toBe('ok');
  });

  it('accept-new records the key of a host seen for the first time, and says so', async () => {
    const known = path.join(dir, 'fresh', 'known_hosts');
    const log = new MemoryLogger();
    expect((await open({ file: known, acceptNew: true }, log).run('echo first')).stdout).toBe('first');
    expect(readFileSync(known, 'utf8')).toBe(`${sshd.knownHostsLine}\n`);
    expect(log.lines.map((l) => l.message).join('\n')).toContain(`recorded its SSH host key ssh-ed25519 ${fp} in ${known}`);
    // From now on it is a known key, without accept-new.
    expect((await open({ file: known }).run('echo again')).stdout).toBe('again');
  });
});

describe('known_hosts matching', () => {
  const blob = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIOb0', 'base64');
  const b64 = blob.toString('base64');
  it('patterns, negation, ports and revoked keys', () => {
    expect(hostFieldMatches('10.0.0.*,!10.0.0.9', '10.0.0.5')).toBe(true);
    expect(hostFieldMatches('10.0.0.*,!10.0.0.9', '10.0.0.9')).toBe(false);
    expect(checkHostKey(`10.0.0.5 ssh-ed25519 ${b64}\n`, '10.0.0.5', 2222, blob)).toEqual({ kind: 'unknown' });
    expect(checkHostKey(`[10.0.0.5]:2222 ssh-ed25519 ${b64}\n`, '10.0.0.5', 2222, blob)).toEqual({ kind: 'known' });
    expect(checkHostKey(`@revoked * ssh-ed25519 ${b64}\n10.0.0.5 ssh-ed25519 ${b64}\n`, '10.0.0.5', 22, blob)).toEqual({ kind: 'revoked', line: 1 });
    // Another key for the host beside the presented one: known (a host may have several keys).
    expect(checkHostKey(`10.0.0.5 ssh-rsa AAAA\n10.0.0.5 ssh-ed25519 ${b64}\n`, '10.0.0.5', 22, blob)).toEqual({ kind: 'known' });
  });
});
