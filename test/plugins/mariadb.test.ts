import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as realDb from '../../lib/db.ts';
import type { Db } from '../../lib/db.ts';
import { StackError } from '../../lib/errors.ts';
import mariadb from '../../plugins/mariadb/index.ts';
import { dropInPath, ensureServiceDatabase, withAdminDb } from '../../lib/db-admin.ts';
import { adminAccountSql, sqlString } from '../../lib/db-sql.ts';
import { DEBIAN_SYSTEMD, DEBIAN_SYSV, RecordingHost, RHEL_SYSTEMD, makeContext } from '../fixtures/recording-host.ts';
import { startMariadb, type MariadbFixture } from '../fixtures/mariadb.ts';

// openDb is replaced by a fake in the unit tests and left real in the integration tests.
vi.mock('../../lib/db.ts', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../lib/db.ts')>();
  return { ...orig, openDb: vi.fn(orig.openDb) };
});
const openDb = vi.mocked(realDb.openDb);

interface FakeDb extends Db {
  calls: string[];
}
function fakeDb(): FakeDb {
  const calls: string[] = [];
  return {
    calls,
    ensureDatabase: async (name) => (calls.push(`db ${name}`), 'created'),
    ensureUser: async (user, host, _pw, on) => void calls.push(`user ${user}@${host} on ${on.join(',')}`),
    tableCount: async () => 0,
    tables: async () => [],
    dropDatabase: async (n) => void calls.push(`drop ${n}`),
    dropUser: async (u, h) => void calls.push(`dropuser ${u}@${h}`),
    query: async <T>(sql: string) => (calls.push(`query ${sql}`), [{ ok: 1 }] as T[]),
    close: async () => void calls.push('close'),
  };
}

/** A host whose mariadb is up: the status check says running, SELECT 1 answers. */
const runningHost = (facts = DEBIAN_SYSV) =>
  new RecordingHost({ facts })
    .reply(/status|is-active/, [{ stdout: 'stopped\n' }, { stdout: 'running\n' }])
    .reply(/^mariadb --batch --skip-column-names -e 'SELECT 1'$/, { stdout: '1\n' });

describe('mariadb configFiles', () => {
  it('Debian: a drop-in with bind-address, sizing, utf8mb4, skip-name-resolve and an error log file', async () => {
    const host = new RecordingHost();
    const ctx = makeContext(host, DEBIAN_SYSV);
    const [file, ...rest] = await mariadb.configFiles!(ctx);
    expect(rest).toEqual([]);
    expect(file!.path).toBe('/etc/mysql/mariadb.conf.d/99-stack.cnf');
    expect(file!.mode).toBe(0o644);
    const lines = file!.content.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      '[mysqld]',
      'bind-address = 127.0.0.1',
      'max_connections = 1024',
      'character-set-server = utf8mb4',
      'collation-server = utf8mb4_general_ci',
      'skip-name-resolve',
      'innodb_buffer_pool_size = 128M',
      'performance_schema = OFF',
      'log_error = /var/log/mysql/error.log',
    ]);
  });

  it('RHEL: /etc/my.cnf.d, and the package\'s own log_error is left alone', async () => {
    const ctx = makeContext(new RecordingHost({ facts: RHEL_SYSTEMD }), RHEL_SYSTEMD, { DATABASE_HOST: '10.99.0.11' });
    const [file] = await mariadb.configFiles!(ctx);
    expect(file!.path).toBe('/etc/my.cnf.d/99-stack.cnf');
    expect(file!.content).toContain('bind-address = 10.99.0.11\n');
    expect(file!.content).not.toContain('log_error');
  });

  it('a second run over the written file changes no byte, and reads nothing it should not', async () => {
    const host = new RecordingHost();
    const ctx = makeContext(host, DEBIAN_SYSV);
    const [first] = await mariadb.configFiles!(ctx);
    await host.writeFile(first!.path, first!.content);
    const [second] = await mariadb.configFiles!(ctx);
    expect(second!.content).toBe(first!.content);
    expect(host.commandLines).toEqual([]);
  });
});

describe('mariadb start', () => {
  it.each([
    ['sysv', DEBIAN_SYSV, 'service mariadb start'],
    ['systemd', DEBIAN_SYSTEMD, 'systemctl enable --now mariadb'],
    ['rhel', RHEL_SYSTEMD, 'systemctl enable --now mariadb'],
  ])('%s: starts the unit, then waits for SELECT 1 on the socket', async (_n, facts, startCmd) => {
    const host = runningHost(facts);
    await mariadb.start!(makeContext(host, facts));
    expect(host.commandLines[0]).toMatch(/status|is-active/);
    expect(host.commandLines[1]).toContain(startCmd);
    expect(host.commandLines[2]).toMatch(/status|is-active/); // startDaemon's check that it stayed up
    expect(host.commandLines[3]).toBe("mariadb --batch --skip-column-names -e 'SELECT 1'");
    expect(host.files.get('/var/lib/stack-ts/run/mariadb.config-sha256')).toMatch(/^[0-9a-f]{64}\n$/);
  });

  it('a running server is left alone when its drop-in is unchanged, and restarted when it changed', async () => {
    const host = runningHost(DEBIAN_SYSV);
    const ctx = makeContext(host, DEBIAN_SYSV);
    const [file] = await mariadb.configFiles!(ctx);
    await host.writeFile(file!.path, file!.content);
    await mariadb.start!(ctx);
    // Re-run: it runs, same file.
    const again = runningHost(DEBIAN_SYSV).reply(/status/, { stdout: 'running\n' });
    for (const [p, d] of host.files) again.files.set(p, d);
    await mariadb.start!(makeContext(again, DEBIAN_SYSV));
    expect(again.commandLines.some((c) => /mariadb (start|stop)/.test(c))).toBe(false);
    // DATABASE_HOST changed: the file differs from what it was started with.
    const changed = runningHost(DEBIAN_SYSV).reply(/status/, { stdout: 'running\n' });
    for (const [p, d] of host.files) changed.files.set(p, d);
    const ctx2 = makeContext(changed, DEBIAN_SYSV, { DATABASE_HOST: '10.99.0.11' });
    const [file2] = await mariadb.configFiles!(ctx2);
    await changed.writeFile(file2!.path, file2!.content);
    await mariadb.start!(ctx2);
    const stopAt = changed.commandLines.findIndex((c) => c.includes('service mariadb stop'));
    const startAt = changed.commandLines.findIndex((c) => c.includes('service mariadb start'));
    expect(stopAt).toBeGreaterThanOrEqual(0);
    expect(startAt).toBeGreaterThan(stopAt);
    expect(ctx2.log.lines.join('\n')).toContain('restarting mariadb');
  });

  it('keeps asking until it answers', async () => {
    const host = runningHost().reply(/SELECT 1/, [{ exitCode: 1, stderr: "ERROR 2002 (HY000): Can't connect to local server through socket" }, { stdout: '1\n' }]);
    await mariadb.start!(makeContext(host, DEBIAN_SYSV));
    expect(host.commandLines.filter((c) => c.includes('SELECT 1'))).toHaveLength(2);
  });

  it('gives up after SERVICE_TIMEOUT with the error log\'s tail, password masked', async () => {
    const host = runningHost()
      .reply(/SELECT 1/, { exitCode: 1, stderr: 'ERROR 2002 (HY000): no socket' })
      .reply(/^tail -n 30 \/var\/log\/mysql\/error\.log/, { stdout: "[ERROR] unknown variable 'max_conections=1'\npassword db'pa$$\\word \"x\"\n" });
    const err = await mariadb.start!(makeContext(host, DEBIAN_SYSV, { SERVICE_TIMEOUT: 1 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    const e = err as StackError;
    expect(e.message).toContain('did not answer "SELECT 1"');
    expect(e.message).toContain('no socket');
    expect(e.logTail?.file).toBe('/var/log/mysql/error.log');
    expect(e.logTail?.lines).toContain('max_conections');
    expect(e.logTail?.lines).not.toContain("db'pa$$");
  });
});

describe('mariadb register: the admin login', () => {
  it('goes to the mariadb client on stdin, escaped; never on a command line', async () => {
    const host = runningHost();
    const ctx = makeContext(host, DEBIAN_SYSV);
    await mariadb.register!(ctx);
    const sqlRun = host.commands.find((c) => c.input?.includes('CREATE USER'))!;
    expect(sqlRun.command).toBe('mariadb --batch --skip-column-names');
    expect(sqlRun.input).toContain(`CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY 'db''pa$$\\\\word "x"';`);
    expect(sqlRun.input).toContain("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;");
    expect(sqlRun.input).not.toContain("'%'");
    expect(host.visibleText).not.toContain(String(ctx.config.settings.DATABASE_PASSWORD));
  });

  it('multi-host: the account is for the address DATABASE_HOST names (what a forward from the DB host arrives as)', async () => {
    const host = runningHost();
    await mariadb.register!(makeContext(host, DEBIAN_SYSV, { DATABASE_HOST: '10.99.0.11' }));
    expect(host.commands.find((c) => c.input?.includes('CREATE USER'))!.input).toContain("'root'@'10.99.0.11'");
  });

  it('an SQL failure is reported without the password', async () => {
    const host = runningHost().reply(/^mariadb --batch --skip-column-names$/, { exitCode: 1, stderr: "ERROR 1064 (42000) near 'db''pa$$\\\\word \"x\"'" });
    const ctx = makeContext(host, DEBIAN_SYSV);
    const err = (await mariadb.register!(ctx).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(StackError);
    expect(err.message).toContain('ERROR 1064');
    expect(err.message).not.toContain('pa$$');
  });
});

describe('withAdminDb / ensureServiceDatabase', () => {
  let db: FakeDb;
  beforeEach(() => {
    db = fakeDb();
    openDb.mockReset();
    openDb.mockImplementation(async () => db);
  });

  it('all-in-one: exactly localhost and 127.0.0.1, over a forward that is closed afterwards', async () => {
    const host = new RecordingHost({ forwardPorts: { 3306: 43306 } });
    const ctx = makeContext(host, DEBIAN_SYSV);
    await ensureServiceDatabase(ctx, { databases: ['nova_api', 'nova'], user: 'nova', password: 's3cret' });
    expect(db.calls).toEqual([
      'db nova_api',
      'db nova',
      'user nova@localhost on nova_api,nova',
      'user nova@127.0.0.1 on nova_api,nova',
      'close',
    ]);
    expect(openDb).toHaveBeenCalledWith({ host: '127.0.0.1', port: 43306, user: 'root', password: ctx.config.settings.DATABASE_PASSWORD });
    expect(host.forwards).toEqual([{ remotePort: 3306, remoteHost: '127.0.0.1', closed: true }]);
  });

  it('multi-host: the one address the service host connects from', async () => {
    const host = new RecordingHost().reply(/^ip -o route get 10\.99\.0\.11$/, { stdout: '10.99.0.11 via 10.99.0.1 dev eth0 src 10.99.0.12 uid 0 \\    cache \n' });
    const ctx = makeContext(host, DEBIAN_SYSV, { DATABASE_HOST: '10.99.0.11' });
    await ensureServiceDatabase(ctx, { databases: ['glance'], user: 'glance', password: 'x' });
    expect(db.calls.filter((c) => c.startsWith('user'))).toEqual(['user glance@10.99.0.12 on glance']);
    expect(host.forwards[0]).toMatchObject({ remotePort: 3306, remoteHost: '10.99.0.11', closed: true });
  });

  it('explicit client hosts are used as given, and wildcards are refused before anything is created', async () => {
    const ctx = makeContext(new RecordingHost(), DEBIAN_SYSV, { DATABASE_HOST: '10.99.0.11' });
    await ensureServiceDatabase(ctx, { databases: ['nova'], user: 'nova', password: 'x', clientHosts: ['10.99.0.12', '10.99.0.13'] });
    expect(db.calls.filter((c) => c.startsWith('user'))).toEqual(['user nova@10.99.0.12 on nova', 'user nova@10.99.0.13 on nova']);
    db.calls.length = 0;
    for (const bad of ['%', '10.99.0.%', 'host_1']) {
      await expect(ensureServiceDatabase(ctx, { databases: ['nova'], user: 'nova', password: 'x', clientHosts: [bad] })).rejects.toThrow(/Refusing a database grant/);
    }
    expect(db.calls).toEqual([]);
  });

  it('closes the connection and the forward when the work fails', async () => {
    const host = new RecordingHost();
    const ctx = makeContext(host, DEBIAN_SYSV);
    await expect(withAdminDb(ctx, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(db.calls).toEqual(['close']);
    expect(host.forwards[0]!.closed).toBe(true);
  });

  it('verify asks SELECT 1 through the admin login', async () => {
    await mariadb.verify!(makeContext(new RecordingHost(), DEBIAN_SYSV));
    expect(db.calls).toEqual(['query SELECT 1 AS ok', 'close']);
  });
});

describe('mariadb stop and clean', () => {
  it('stop stops the unit (sysv)', async () => {
    const host = runningHost();
    await mariadb.stop!(makeContext(host, DEBIAN_SYSV));
    expect(host.commandLines[0]).toContain('service mariadb stop');
  });

  it('clean drops the admin login, stops, and removes only the drop-in', async () => {
    const host = runningHost(DEBIAN_SYSTEMD);
    const ctx = makeContext(host, DEBIAN_SYSTEMD);
    await mariadb.clean!(ctx);
    const drop = host.commands.find((c) => c.input?.includes('DROP USER'))!;
    expect(drop.input).toContain("DROP USER IF EXISTS 'root'@'127.0.0.1';");
    expect(host.commandLines.some((c) => c.includes('systemctl stop mariadb'))).toBe(true);
    expect(host.commandLines.at(-1)).toBe(`rm -f ${dropInPath(ctx)}`);
    expect(host.commandLines.join('\n')).not.toMatch(/rm -rf|\/var\/lib\/mysql|DROP DATABASE/);
  });
});

describe('the drop-in against the installed server', () => {
  it('mariadbd accepts every option and reads the values we mean', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stackts-cnf-'));
    try {
      const [file] = await mariadb.configFiles!(makeContext(new RecordingHost(), DEBIAN_SYSV));
      const cnf = join(dir, '99-stack.cnf');
      writeFileSync(cnf, file!.content);
      // --help --verbose parses the options and prints the result without starting a server.
      const out = execFileSync('/usr/sbin/mariadbd', [`--defaults-file=${cnf}`, '--user=mysql', '--help', '--verbose'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
      const value = (name: string) => new RegExp(`^${name}\\s+(\\S+)$`, 'm').exec(out)?.[1];
      expect(value('bind-address')).toBe('127.0.0.1');
      expect(value('max-connections')).toBe('1024');
      expect(value('skip-name-resolve')).toBe('TRUE');
      expect(value('character-set-server')).toBe('utf8mb4');
      expect(value('performance-schema')).toBe('FALSE');
      expect(value('innodb-buffer-pool-size')).toBe(String(128 * 1024 * 1024));
      expect(value('log-error')).toBe('/var/log/mysql/error.log');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sqlString', () => {
  it('escapes quotes, backslashes and NUL', () => {
    expect(sqlString(`a'b\\c\0d`)).toBe(`'a''b\\\\c\\0d'`);
  });
});

// The escaping and the grant choice against a real server (a private mariadbd on a free loopback port).
describe('against a real MariaDB', () => {
  let fx: MariadbFixture;
  let dir: string;
  beforeAll(async () => {
    fx = await startMariadb({ skipNameResolve: true });
    dir = mkdtempSync(join(tmpdir(), 'stackts-mariadb-plugin-'));
  }, 120_000);
  afterAll(async () => {
    await fx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    const real = await vi.importActual<typeof import('../../lib/db.ts')>('../../lib/db.ts');
    openDb.mockReset();
    openDb.mockImplementation(real.openDb);
  });

  it('the admin SQL piped to the mariadb client makes a TCP login with an awkward password', async () => {
    const password = `a'b"c\\d$e%f_g;h\` -- x\\`;
    const cnf = join(dir, 'root.cnf');
    writeFileSync(cnf, `[client]\npassword=${fx.rootPassword}\n`, { mode: 0o600 });
    execFileSync('mariadb', [`--defaults-extra-file=${cnf}`, `--socket=${fx.socketPath}`, '-u', 'root', '--batch'], {
      input: adminAccountSql('stackadmin', '127.0.0.1', password),
    });
    // Twice: the second run (a re-stack) must succeed too.
    execFileSync('mariadb', [`--defaults-extra-file=${cnf}`, `--socket=${fx.socketPath}`, '-u', 'root', '--batch'], {
      input: adminAccountSql('stackadmin', '127.0.0.1', password),
    });
    const c = await mysql.createConnection({ host: '127.0.0.1', port: fx.port, user: 'stackadmin', password });
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
    await c.end();
    expect(rows[0]!['u']).toBe('stackadmin@127.0.0.1');
  });

  it('ensureServiceDatabase grants exactly localhost and 127.0.0.1, and a service logs in over TCP', async () => {
    const host = new RecordingHost({ forwardPorts: { 3306: fx.port } });
    const ctx = makeContext(host, DEBIAN_SYSV, { DATABASE_PASSWORD: fx.rootPassword });
    for (let i = 0; i < 2; i++) await ensureServiceDatabase(ctx, { databases: ['glance'], user: 'glance', password: 'G1ance$pw' });
    const hosts = await withAdminDb(ctx, (db) => db.query<{ h: string }>("SELECT Host AS h FROM mysql.user WHERE User = 'glance' ORDER BY Host"));
    expect(hosts.map((r) => r.h)).toEqual(['127.0.0.1', 'localhost']);
    const c = await mysql.createConnection({ host: '127.0.0.1', port: fx.port, user: 'glance', password: 'G1ance$pw', database: 'glance' });
    await c.end();
  });
});
