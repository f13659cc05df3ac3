// lib/db.ts against a real private MariaDB (started with --skip-name-resolve).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbError, openDb, type Db } from '../../lib/db.ts';
import { freePort, startMariadb, type MariadbFixture } from '../fixtures/mariadb.ts';

let m: MariadbFixture;
let root: Db;

beforeAll(async () => {
  m = await startMariadb();
  root = await openDb({ host: m.host, port: m.port, user: 'root', password: m.rootPassword });
});

afterAll(async () => {
  await root?.close();
  await m?.stop();
});

const caught = async (p: Promise<unknown>): Promise<Error> => {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
};

describe('ensureDatabase', () => {
  it('creates once, then reports exists', async () => {
    expect(await root.ensureDatabase('glance')).toBe('created');
    expect(await root.ensureDatabase('glance')).toBe('exists');
    const [row] = await root.query<{ cs: string }>(
      'SELECT DEFAULT_CHARACTER_SET_NAME AS cs FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      ['glance'],
    );
    expect(row?.cs).toBe('utf8mb4');
  });

  it('rejects names that are not plain identifiers', async () => {
    for (const bad of ['gl`ance', 'a b', 'x;DROP', '', 'a-b']) {
      await expect(root.ensureDatabase(bad)).rejects.toThrow(/invalid database name/);
    }
  });
});

describe('tableCount and tables', () => {
  it('counts the tables of a schema (what a db_sync must have made)', async () => {
    await root.ensureDatabase('counted');
    expect(await root.tableCount('counted')).toBe(0);
    expect(await root.tables('counted')).toEqual([]);
    await root.query('CREATE TABLE counted.images (id INT PRIMARY KEY)');
    await root.query('CREATE TABLE counted.alembic_version (v VARCHAR(32))');
    expect(await root.tableCount('counted')).toBe(2);
    expect(await root.tables('counted')).toEqual(['alembic_version', 'images']);
    expect(await root.tableCount('no_such_db')).toBe(0);
  });
});

describe('ensureUser', () => {
  it('is idempotent and the last password wins', async () => {
    await root.ensureDatabase('nova');
    await root.ensureUser('nova', '127.0.0.1', 'first-pass', ['nova']);
    await root.ensureUser('nova', '127.0.0.1', 'first-pass', ['nova']);
    const a = await openDb({ host: m.host, port: m.port, user: 'nova', password: 'first-pass' });
    await a.close();
    await root.ensureUser('nova', '127.0.0.1', 'second-pass', ['nova']);
    await expect(openDb({ host: m.host, port: m.port, user: 'nova', password: 'first-pass' })).rejects.toThrow(/access denied/);
    const b = await openDb({ host: m.host, port: m.port, user: 'nova', password: 'second-pass' });
    await b.close();
    const users = await root.query<{ n: number }>("SELECT COUNT(*) AS n FROM mysql.user WHERE User = 'nova'");
    expect(Number(users[0]!.n)).toBe(1);
  });

  it('grants exactly the given databases on exactly the given host pattern', async () => {
    await root.ensureDatabase('placement');
    await root.ensureDatabase('other');
    await root.ensureUser('placement', 'localhost', 'pw-local', ['placement']);
    const grants = await root.query<Record<string, string>>("SHOW GRANTS FOR 'placement'@'localhost'");
    const lines = grants.map((g) => Object.values(g)[0]!);
    expect(lines.some((l) => l.includes("GRANT ALL PRIVILEGES ON `placement`.* TO `placement`@`localhost`"))).toBe(true);
    expect(lines.join('\n')).not.toContain('`other`');
    expect(lines.every((l) => l.includes('`placement`@`localhost`'))).toBe(true);
    // skip-name-resolve: a TCP login from 127.0.0.1 does not match 'localhost'...
    const tcp = await caught(openDb({ host: m.host, port: m.port, user: 'placement', password: 'pw-local' }));
    expect(tcp).toBeInstanceOf(DbError);
    expect(tcp.message).toMatch(/access denied for user 'placement'/);
    // ...while the socket (which is localhost) does, and sees only its database.
    const viaSocket = await openDb({ socketPath: m.socketPath, user: 'placement', password: 'pw-local' });
    try {
      const dbs = (await viaSocket.query<{ Database: string }>('SHOW DATABASES')).map((r) => r.Database);
      expect(dbs).toContain('placement');
      expect(dbs).not.toContain('other');
      await expect(viaSocket.query('CREATE TABLE other.t (i INT)')).rejects.toThrow(/denied/);
    } finally {
      await viaSocket.close();
    }
  });

  it('keeps a password full of quotes and backslashes intact', async () => {
    const pw = `a'b"c\\d\\'--;$%`;
    await root.ensureUser('quoted', '127.0.0.1', pw, []);
    const c = await openDb({ host: m.host, port: m.port, user: 'quoted', password: pw });
    await c.close();
  });

  it('dropUser and dropDatabase remove them and tolerate absence', async () => {
    await root.ensureDatabase('gone');
    await root.ensureUser('gone', '%', 'x', ['gone']);
    await root.dropUser('gone', '%');
    await root.dropUser('gone', '%');
    await root.dropDatabase('gone');
    await root.dropDatabase('gone');
    expect(await root.ensureDatabase('gone')).toBe('created');
    await root.dropDatabase('gone');
  });
});

describe('errors', () => {
  it('names host:port and the cause when nothing listens', async () => {
    const port = await freePort();
    const e = await caught(openDb({ host: '127.0.0.1', port, user: 'root', password: 'sekret-refused' }, 3000));
    expect(e.message).toContain(`127.0.0.1:${port}`);
    expect(e.message).toMatch(/connection refused/);
    expect(e.message).not.toContain('sekret-refused');
  });

  it('says access denied for the user and never shows the password', async () => {
    const e = await caught(openDb({ host: m.host, port: m.port, user: 'root', password: 'wrong-sekret-123' }));
    expect(e.message).toContain(`127.0.0.1:${m.port}`);
    expect(e.message).toMatch(/access denied for user 'root'/);
    expect(e.message).not.toContain('wrong-sekret-123');
    expect(JSON.stringify(e)).not.toContain('wrong-sekret-123');
  });

  it('a failing statement with a password shows neither the password nor the escaped statement', async () => {
    // A host pattern over 255 characters makes CREATE USER fail after the password is bound.
    const e = await caught(root.ensureUser('x', 'h'.repeat(300), 'leak-me-not', []));
    expect(e).toBeInstanceOf(DbError);
    expect(e.message).toContain(`127.0.0.1:${m.port}`);
    expect(e.message).not.toContain('leak-me-not');
    expect(JSON.stringify(e)).not.toContain('leak-me-not');
    expect(String(e.stack)).not.toContain('leak-me-not');
  });
});
