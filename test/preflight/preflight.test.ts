import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkDisk,
  checkDistro,
  checkHostnameResolves,
  checkMemory,
  checkPackageLock,
  checkPorts,
  formatProblems,
  parseDf,
  parseMeminfo,
  parseProcLocks,
  parseSs,
  runPreflight,
} from '../../lib/preflight.ts';
import { DEBIAN_SYSV, RecordingHost, RHEL_SYSTEMD, MemoryLogger } from '../fixtures/recording-host.ts';

// Real outputs, captured on a bookworm machine (iproute2 6.1) and from ss's documented forms.
const SS_SAMPLE = [
  'LISTEN 0      5      127.0.0.1:18765 0.0.0.0:* users:(("python3",pid=10010,fd=3))',
  'LISTEN 0      128      0.0.0.0:2024  0.0.0.0:*                                   ',
  'LISTEN 0      5          [::1]:18766    [::]:* users:(("python3",pid=10012,fd=3))',
  'LISTEN 0      128            *:18767       *:* users:(("python3",pid=10014,fd=3))',
  'LISTEN 0      4096     0.0.0.0:4369     0.0.0.0:* users:(("epmd",pid=881,fd=3),("systemd",pid=1,fd=48))',
  'LISTEN 0      4096  127.0.0.53%lo:53      0.0.0.0:* users:(("systemd-resolve",pid=412,fd=14))',
  'LISTEN 0      80     127.0.0.1:3306    0.0.0.0:* users:(("mariadbd",pid=2211,fd=22))',
  'LISTEN 0      511      0.0.0.0:5000    0.0.0.0:* users:(("nginx",pid=123,fd=6),("nginx",pid=124,fd=6))',
  '',
].join('\n');

const MEMINFO = `MemTotal:       24684092 kB
MemFree:        24110748 kB
MemAvailable:   24205816 kB
Buffers:            4316 kB
Cached:           263440 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
`;

const DF = `Filesystem     1048576-blocks  Used Available Capacity Mounted on
/dev/vda               258020 22715     81183      22% /
/dev/vdb1                1000   900        100      90% /var/my data
`;

describe('parsers', () => {
  it('parseSs reads address, port and every process holding the socket', () => {
    const l = parseSs(SS_SAMPLE);
    expect(l).toHaveLength(8);
    expect(l[0]).toEqual({ address: '127.0.0.1', port: 18765, processes: [{ name: 'python3', pid: 10010 }] });
    expect(l[1]).toEqual({ address: '0.0.0.0', port: 2024, processes: [] });
    expect(l[2]).toMatchObject({ address: '::1', port: 18766 });
    expect(l[3]).toMatchObject({ address: '*', port: 18767 });
    expect(l[4]!.processes.map((p) => p.name)).toEqual(['epmd', 'systemd']);
    expect(l[5]).toMatchObject({ address: '127.0.0.53', port: 53 });
  });

  it('parseMeminfo gives kB values, including fields without a unit', () => {
    const m = parseMeminfo(MEMINFO);
    expect(m.MemAvailable).toBe(24205816);
    expect(m.HugePages_Total).toBe(0);
  });

  it('parseDf skips the header and keeps mount points with spaces', () => {
    expect(parseDf(DF)).toEqual([
      { filesystem: '/dev/vda', sizeMb: 258020, usedMb: 22715, availMb: 81183, mount: '/' },
      { filesystem: '/dev/vdb1', sizeMb: 1000, usedMb: 900, availMb: 100, mount: '/var/my data' },
    ]);
  });

  it('parseProcLocks returns holders, not waiters or pid-less OFD locks', () => {
    const text = [
      '1: POSIX  ADVISORY  WRITE 4242 fd:01:131090 0 EOF',
      '1: -> POSIX  ADVISORY  WRITE 4343 fd:01:131090 0 EOF',
      '2: OFDLCK ADVISORY  READ  -1 00:06:9 0 EOF',
      '3: FLOCK  ADVISORY  WRITE 77 00:1a:555 0 EOF',
    ].join('\n');
    expect(parseProcLocks(text)).toEqual([
      { pid: 4242, inode: 131090 },
      { pid: 77, inode: 555 },
    ]);
  });
});

describe('checks with a recording host', () => {
  it('a port held by the service itself passes (a re-run), one held by nginx is reported with pid and what to do', async () => {
    const host = new RecordingHost().reply(/^ss -Hltnp$/, { stdout: SS_SAMPLE });
    const problems = await checkPorts(host, [
      { port: 3306, service: 'mysql', owners: ['mariadbd', 'mysqld'] },
      { port: 5000, service: 'key', owners: ['uwsgi_python3'] },
      { port: 9292, service: 'g-api' },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toContain('Port 5000 on h1 is in use by nginx (pid 123), nginx (pid 124)');
    expect(problems[0]!.hint).toContain('Stop nginx on h1');
    expect(problems[0]!.severity).toBe('error');
  });

  it('a port whose holder ss cannot name is still a problem', async () => {
    const host = new RecordingHost().reply(/^ss/, { stdout: SS_SAMPLE });
    const [p] = await checkPorts(host, [{ port: 2024, service: 'x', owners: ['x'] }]);
    expect(p!.message).toContain('cannot name');
  });

  it('memory: error below the minimum, warning below 4 GB, nothing above', async () => {
    const mem = (kb: number) => new RecordingHost({ files: { '/proc/meminfo': `MemTotal: 9999999 kB\nMemAvailable: ${kb} kB\n` } });
    expect((await checkMemory(mem(1024 * 1024), 2048, 4096))[0]).toMatchObject({ severity: 'error', check: 'memory' });
    expect((await checkMemory(mem(3 * 1024 * 1024), 2048, 4096))[0]).toMatchObject({ severity: 'warning' });
    expect(await checkMemory(mem(5 * 1024 * 1024), 2048, 4096)).toEqual([]);
  });

  it('disk: each filesystem once, reported with its mount point', async () => {
    const host = new RecordingHost().reply(/df -Pm/, { stdout: DF.split('\n').slice(1).join('\n') });
    const problems = await checkDisk(host, ['/var/my data', '/'], 4096);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toBe('/var/my data on h1 has 100 MB free; packages and databases need at least 4096 MB.');
    expect(host.commandLines[0]).toContain("'/var/my data' /");
  });

  it('hostname: a hanging resolver, a missing name and a slow answer are told apart', async () => {
    const hang = new RecordingHost().reply(/getent/, { stdout: 'h1\n', exitCode: 124 });
    expect((await checkHostnameResolves(hang, 5))[0]!.message).toContain('did not finish in 5 s');
    const missing = new RecordingHost().reply(/getent/, { stdout: 'h1\n', exitCode: 2 });
    const [m] = await checkHostnameResolves(missing, 5);
    expect(m!.message).toContain('"h1" does not resolve');
    expect(m!.hint).toContain('/etc/hosts');
    const slow = new RecordingHost().reply(/getent/, { stdout: 'h1\n127.0.1.1 h1\n', durationMs: 4000 });
    expect((await checkHostnameResolves(slow, 5))[0]!.severity).toBe('warning');
    const fine = new RecordingHost().reply(/getent/, { stdout: 'h1\n127.0.1.1 h1\n', durationMs: 3 });
    expect(await checkHostnameResolves(fine, 5)).toEqual([]);
  });

  it('package lock: a holder of the dpkg lock is named', async () => {
    const host = new RecordingHost()
      .reply(/proc\/locks/, { stdout: 'lockfile 131090 /var/lib/dpkg/lock-frontend\n---\n1: POSIX  ADVISORY  WRITE 4242 fd:01:131090 0 EOF\n' })
      .reply(/\/proc\/4242\/comm/, { stdout: 'unattended-upgr\n' });
    const [p] = await checkPackageLock(host, DEBIAN_SYSV);
    expect(p!.message).toBe('The package manager on h1 is busy: unattended-upgr (pid 4242) holds /var/lib/dpkg/lock-frontend.');
    const free = new RecordingHost().reply(/proc\/locks/, { stdout: 'lockfile 131090 /var/lib/dpkg/lock-frontend\n---\n1: POSIX  ADVISORY  WRITE 4242 fd:01:99 0 EOF\n' });
    expect(await checkPackageLock(free, DEBIAN_SYSV)).toEqual([]);
    expect(new RecordingHost().commandLines).toEqual([]);
    const rhel = new RecordingHost();
    await checkPackageLock(rhel, RHEL_SYSTEMD);
    expect(rhel.commandLines[0]).toContain('/var/lib/rpm/.rpm.lock');
  });

  it('distro: tested release passes, an untested one warns, one without a version is an error', () => {
    expect(checkDistro('h1', DEBIAN_SYSV)).toEqual([]);
    expect(checkDistro('h1', RHEL_SYSTEMD)[0]!.severity).toBe('warning');
    expect(checkDistro('h1', { ...DEBIAN_SYSV, version: '' })[0]!.severity).toBe('error');
  });

  it('runPreflight collects every problem of a host together', async () => {
    const host = new RecordingHost({ files: { '/proc/meminfo': 'MemAvailable: 1000 kB\n' } })
      .reply(/^id -u$/, { stdout: '1000\n' })
      .reply(/df -Pm/, { stdout: '/dev/vda 100 90 10 90% /\n' })
      .reply(/getent/, { stdout: 'h1\n', exitCode: 2 })
      .reply(/^ss/, { stdout: SS_SAMPLE });
    const problems = await runPreflight(host, DEBIAN_SYSV, { ports: [{ port: 5000, service: 'key' }] });
    expect(problems.map((p) => p.check).sort()).toEqual(['disk', 'hostname', 'memory', 'port', 'root']);
    expect(problems.every((p) => p.host === 'h1' && p.hint.length > 0)).toBe(true);
    expect(formatProblems(problems).split('\n')[0]).toMatch(/^ERROR \[h1\]/);
  });
});

describe('on this machine (LocalHost)', () => {
  let LocalHost: (typeof import('../../lib/host/local.ts'))['LocalHost'] | undefined;
  let server: net.Server;
  let port = 0;
  let dir = '';
  let locker: ChildProcess | undefined;

  beforeAll(async () => {
    LocalHost = (await import('../../lib/host/local.ts').catch(() => undefined))?.LocalHost;
    server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as net.AddressInfo).port;
    dir = mkdtempSync(join(tmpdir(), 'stackts-preflight-'));
  });
  afterAll(async () => {
    if (locker?.pid) process.kill(locker.pid, 'SIGKILL');
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the test\'s own listener by pid, and accepts it when its name is an owner', async () => {
    if (!LocalHost) return expect.fail('lib/host/local.ts is missing');
    const host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 30_000 });
    const facts = await host.facts();
    const problems = await runPreflight(host, facts, { ports: [{ port, service: 'test' }], minMemMb: 1, minDiskMb: 1 });
    const portProblems = problems.filter((p) => p.check === 'port');
    expect(portProblems).toHaveLength(1);
    expect(portProblems[0]!.message).toContain(`pid ${process.pid}`);
    const comm = readFileSync('/proc/self/comm', 'utf8').trim();
    expect(await checkPorts(host, [{ port, service: 'test', owners: [comm] }])).toEqual([]);
    // This machine is root, Debian 12, with memory and disk to spare: nothing else to report.
    expect(problems.filter((p) => p.check !== 'port' && p.severity === 'error')).toEqual([]);
  });

  it('sees a real fcntl lock (the kind apt takes) and names its holder', async () => {
    if (!LocalHost) return expect.fail('lib/host/local.ts is missing');
    const host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 30_000 });
    const lockFile = join(dir, 'lock-frontend');
    writeFileSync(lockFile, '');
    expect(await checkPackageLock(host, DEBIAN_SYSV, [lockFile])).toEqual([]);
    locker = spawn('python3', ['-c', `import fcntl,sys,time\nf=open(sys.argv[1],'w')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)`, lockFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((r) => locker!.stdout!.once('data', () => r()));
    const [p] = await checkPackageLock(host, DEBIAN_SYSV, [lockFile]);
    expect(p!.message).toContain(`python3 (pid ${locker.pid}) holds ${lockFile}`);
  });
});

describe('default owners', () => {
  it('a spec without owners (as the task runner passes them) accepts the usual daemon on a known port only', async () => {
    const host = new RecordingHost().reply(/^ss/, { stdout: SS_SAMPLE });
    expect(await checkPorts(host, [{ port: 3306, service: 'mariadb' }, { port: 4369, service: 'rabbitmq' }])).toEqual([]);
    const [p] = await checkPorts(host, [{ port: 5000, service: 'keystone' }, { port: 3306, service: 'mariadb' }]);
    expect(p!.message).toContain('in use by nginx (pid 123)');
    // An owner list given by the caller replaces the defaults.
    expect(await checkPorts(host, [{ port: 3306, service: 'mariadb', owners: ['mysqld'] }])).toHaveLength(1);
  });
});
