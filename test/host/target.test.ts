import { describe, expect, it } from 'vitest';
import { LocalHost } from '../../lib/host/local.ts';
import { openHost, parseTarget } from '../../lib/host/index.ts';
import { SshHost } from '../../lib/host/ssh.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';

describe('parseTarget', () => {
  it.each([
    ['10.0.0.5', { user: 'root', host: '10.0.0.5', port: 22 }],
    ['admin@h1', { user: 'admin', host: 'h1', port: 22 }],
    ['h1:2222', { user: 'root', host: 'h1', port: 2222 }],
    ['me@h1.example.org:22', { user: 'me', host: 'h1.example.org', port: 22 }],
    ['[fd00::5]:2200', { user: 'root', host: 'fd00::5', port: 2200 }],
    ['root@[fd00::5]', { user: 'root', host: 'fd00::5', port: 22 }],
    ['fd00::5', { user: 'root', host: 'fd00::5', port: 22 }],
  ])('%s', (target, expected) => {
    expect(parseTarget(target)).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    ['@h1', /user/],
    ['h1:ssh', /not a port/],
    ['h1:70000', /not a port/],
    ['root@', /host name is empty/],
  ])('rejects %j', (target, why) => {
    expect(() => parseTarget(target)).toThrow(why);
  });
});

describe('openHost', () => {
  const opts = { connectTimeoutS: 5, log: new MemoryLogger(), commandTimeoutMs: 1000 };

  it('local is the LocalHost', () => {
    const h = openHost('local', opts);
    expect(h).toBeInstanceOf(LocalHost);
    expect(h.name).toBe('local');
  });

  it('anything else is an SshHost, named by host (and port when not 22), without connecting yet', () => {
    const a = openHost('root@10.99.0.11', opts);
    expect(a).toBeInstanceOf(SshHost);
    expect(a.name).toBe('10.99.0.11');
    const b = openHost('h2:2222', { ...opts, sshKey: '/nonexistent/key' }) as SshHost;
    expect(b.name).toBe('h2:2222');
    expect(b.port).toBe(2222);
    expect(b.username).toBe('root');
  });
});
