import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackError } from '../../lib/errors.ts';
import memcached, { DEBIAN_CONF, DEBIAN_PACKAGED_CONF, RHEL_CONF, memcachedStats, renderDebianConf, renderRhelConf } from '../../plugins/memcached/index.ts';
import { DEBIAN_SYSTEMD, DEBIAN_SYSV, RecordingHost, RHEL_SYSTEMD, makeContext } from '../fixtures/recording-host.ts';
import { freePort } from '../fixtures/mariadb.ts';

const MEMCACHED = '/usr/bin/memcached';
const packaged = (): string => {
  if (!existsSync(DEBIAN_PACKAGED_CONF)) throw new Error(`${DEBIAN_PACKAGED_CONF} is missing: apt-get install memcached (the tests use the real packaged file and daemon)`);
  return readFileSync(DEBIAN_PACKAGED_CONF, 'utf8');
};

const RHEL_PACKAGED = 'PORT="11211"\nUSER="memcached"\nMAXCONN="1024"\nCACHESIZE="64"\nOPTIONS="-l 127.0.0.1,::1"\n';

describe('memcached config', () => {
  it('Debian, all-in-one: the packaged file already says -l 127.0.0.1, so nothing changes', async () => {
    const host = new RecordingHost({ files: { [DEBIAN_PACKAGED_CONF]: packaged() } });
    const [file] = await memcached.configFiles!(makeContext(host, DEBIAN_SYSV));
    expect(file!.path).toBe(DEBIAN_CONF);
    expect(file!.content).toBe(packaged());
  });

  it('Debian, multi-host: exactly the -l line changes, comments kept; a re-run changes no byte', async () => {
    const host = new RecordingHost({ files: { [DEBIAN_CONF]: packaged() } });
    const ctx = makeContext(host, DEBIAN_SYSV, { RABBIT_HOST: '10.99.0.11' });
    const [file] = await memcached.configFiles!(ctx);
    const before = packaged().split('\n');
    const after = file!.content.split('\n');
    expect(after).toHaveLength(before.length);
    const changed = after.map((l, i) => [before[i], l]).filter(([a, b]) => a !== b);
    expect(changed).toEqual([['-l 127.0.0.1', '-l 10.99.0.11']]);
    await host.writeFile(DEBIAN_CONF, file!.content);
    expect((await memcached.configFiles!(ctx))[0]!.content).toBe(file!.content);
  });

  it('keeps one listen option only, and adds one when there is none', () => {
    expect(renderDebianConf('-m 64\n-l 0.0.0.0\n--listen=::\n', '127.0.0.1')).toBe('-m 64\n-l 127.0.0.1\n');
    expect(renderDebianConf('-m 64\n', '127.0.0.1')).toMatch(/^-m 64\n# Set by stack\.ts.*\n-l 127\.0\.0\.1\n$/);
  });

  it('RHEL: the listen address inside OPTIONS, other options and lines kept', async () => {
    const host = new RecordingHost({ facts: RHEL_SYSTEMD, files: { [RHEL_CONF]: RHEL_PACKAGED } });
    const [file] = await memcached.configFiles!(makeContext(host, RHEL_SYSTEMD));
    expect(file!.path).toBe(RHEL_CONF);
    expect(file!.content).toBe(RHEL_PACKAGED.replace('OPTIONS="-l 127.0.0.1,::1"', 'OPTIONS="-l 127.0.0.1"'));
    expect(renderRhelConf('OPTIONS="-U 0 -l 0.0.0.0 -vv"\n', '10.99.0.11')).toBe('OPTIONS="-l 10.99.0.11 -U 0 -vv"\n');
    expect(renderRhelConf('PORT="11211"\n', '127.0.0.1')).toBe('PORT="11211"\nOPTIONS="-l 127.0.0.1"\n');
    const once = renderRhelConf(RHEL_PACKAGED, '127.0.0.1');
    expect(renderRhelConf(once, '127.0.0.1')).toBe(once);
  });
});

describe('memcached daemon (a real memcached on a free loopback port)', () => {
  let child: ChildProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    if (!existsSync(MEMCACHED)) throw new Error(`${MEMCACHED} is missing: apt-get install memcached`);
    port = await freePort();
    child = spawn(MEMCACHED, ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '8', '-u', 'nobody'], { stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      const up = await new Promise<boolean>((r) => {
        const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
        s.on('error', () => r(false));
      });
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(() => {
    if (child?.pid && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
  });

  it('stats answers with the daemon\'s pid', async () => {
    const stats = await memcachedStats(port);
    expect(Number(stats.pid)).toBe(child!.pid);
  });

  it.each([
    ['sysv', DEBIAN_SYSV, 'service memcached start'],
    ['systemd', DEBIAN_SYSTEMD, 'systemctl enable --now memcached'],
    ['rhel', RHEL_SYSTEMD, 'systemctl enable --now memcached'],
  ])('%s: start runs the unit and waits for stats through host.forward(11211)', async (_n, facts, cmd) => {
    const host = new RecordingHost({ facts, forwardPorts: { 11211: port } }).reply(/status|is-active/, [{ stdout: 'stopped\n' }, { stdout: 'running\n' }]);
    const ctx = makeContext(host, facts);
    await memcached.start!(ctx);
    await memcached.verify!(ctx);
    expect(host.commandLines[1]).toContain(cmd);
    expect(host.forwards.length).toBeGreaterThanOrEqual(2);
    expect(host.forwards.every((f) => f.remotePort === 11211 && f.remoteHost === '127.0.0.1' && f.closed)).toBe(true);
  });

  it('verify fails clearly when nothing listens, and when the port is not memcached', async () => {
    const closed = await freePort();
    const host = new RecordingHost({ forwardPorts: { 11211: closed } });
    const err = (await memcached.verify!(makeContext(host, DEBIAN_SYSV)).catch((e: unknown) => e)) as StackError;
    expect(err).toBeInstanceOf(StackError);
    expect(err.message).toMatch(/memcached at 127\.0\.0\.1:11211 on h1 does not answer: .*ECONNREFUSED/);

    const impostor = net.createServer((s) => s.on('data', () => s.write('ERROR\r\n')));
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', () => r()));
    const ip = (impostor.address() as net.AddressInfo).port;
    try {
      const h2 = new RecordingHost({ forwardPorts: { 11211: ip } });
      await expect(memcached.verify!(makeContext(h2, DEBIAN_SYSV))).rejects.toThrow(/memcached answered: ERROR/);
    } finally {
      await new Promise<void>((r) => impostor.close(() => r()));
    }
  });

  it('start gives up after SERVICE_TIMEOUT with the log tail', async () => {
    const closed = await freePort();
    const host = new RecordingHost({ forwardPorts: { 11211: closed } })
      .reply(/status|is-active/, [{ stdout: 'stopped\n' }, { stdout: 'running\n' }])
      .reply(/tail -n 30 \/var\/log\/memcached\.log/, { stdout: 'failed to listen on TCP port 11211: Address already in use\n' });
    const err = (await memcached.start!(makeContext(host, DEBIAN_SYSV, { SERVICE_TIMEOUT: 1 })).catch((e: unknown) => e)) as StackError;
    expect(err).toBeInstanceOf(StackError);
    expect(err.logTail?.lines).toContain('Address already in use');
  });

  it('its log tail masks a password, from the log file and from the journal alike', async () => {
    const closed = await freePort();
    const secret = "rabbit pa$$ 'w\"d"; // makeContext's RABBIT_PASSWORD
    const line = `connect failed for user stackrabbit password ${secret}\n`;
    const debian = new RecordingHost({ forwardPorts: { 11211: closed } })
      .reply(/status|is-active/, [{ stdout: 'stopped\n' }, { stdout: 'running\n' }])
      .reply(/tail -n 30 \/var\/log\/memcached\.log/, { stdout: line });
    const rhel = new RecordingHost({ forwardPorts: { 11211: closed } })
      .reply(/status|is-active/, [{ stdout: 'stopped\n' }, { stdout: 'running 4242\n' }])
      .reply(/journalctl -u memcached/, { stdout: line });
    for (const [host, facts] of [[debian, DEBIAN_SYSV], [rhel, RHEL_SYSTEMD]] as const) {
      const err = (await memcached.start!(makeContext(host, facts, { SERVICE_TIMEOUT: 1 })).catch((e: unknown) => e)) as StackError;
      expect(err).toBeInstanceOf(StackError);
      expect(err.logTail?.lines).toContain('connect failed for user stackrabbit password');
      expect(err.logTail?.lines).not.toContain(secret);
      expect(err.logTail?.lines).not.toContain('pa$$');
    }
  });
});

describe('memcached stop and clean', () => {
  it('stop and clean stop the unit and leave the package\'s config in place', async () => {
    const host = new RecordingHost({ files: { [DEBIAN_CONF]: '-l 127.0.0.1\n' } }).reply(/status/, { stdout: 'running\n' });
    const ctx = makeContext(host, DEBIAN_SYSV);
    await memcached.stop!(ctx);
    await memcached.clean!(ctx);
    expect(host.commandLines.every((c) => c.includes('service memcached stop'))).toBe(true);
    expect(host.writes).toEqual([]);
  });
});
