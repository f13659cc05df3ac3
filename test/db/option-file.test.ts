// The path a service's database password really takes: [database] connection with
// read_default_file -> SQLAlchemy -> pymysql's option-file reader -> a MariaDB login. Also the
// reason the password is not in the URL: alembic's ConfigParser interpolation rejects a '%'.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMariadb, type MariadbFixture } from '../fixtures/mariadb.ts';
import { openDb } from '../../lib/db.ts';
import { dbConnectionUrl, pymysqlOptionFile } from '../../lib/escape.ts';

const PY = '/usr/bin/python3';
const PASSWORDS = [`Db$$pw'q@:/%`, `p@ss:w/rd%#'"`, ` spaced out `, `"quoted"`, `semi;colon = equals`, `back\\slash%25`];

// Connect the way oslo.db does (create_engine on the URL), and feed the URL to a ConfigParser the
// way alembic's Config.set_main_option does.
const PROBE = `
import sys, configparser, sqlalchemy
url = sys.argv[1]
cp = configparser.ConfigParser()
cp.add_section('alembic')
try:
    cp.set('alembic', 'sqlalchemy.url', url)
    print('alembic-ok')
except ValueError as e:
    print('alembic-rejects')
with sqlalchemy.create_engine(url).connect() as c:
    print(c.execute(sqlalchemy.text('select current_user()')).scalar())
`;

let db: MariadbFixture;
let dir: string;

describe('database passwords through a pymysql option file', () => {
  beforeAll(async () => {
    db = await startMariadb();
    dir = mkdtempSync(join(tmpdir(), 'stackts-optfile-'));
  }, 180_000);
  afterAll(async () => {
    await db?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(PASSWORDS.map((p, i) => [i, p] as const))('password %i logs in through SQLAlchemy + pymysql, and alembic accepts the URL', async (i, password) => {
    const admin = await openDb({ host: db.host, port: db.port, user: 'root', password: db.rootPassword });
    const user = `svc${i}`;
    await admin.ensureDatabase(user);
    await admin.ensureUser(user, '127.0.0.1', password, [user]);
    await admin.close();
    const file = join(dir, `${user}.cnf`);
    writeFileSync(file, pymysqlOptionFile(password));
    chmodSync(file, 0o600);
    const url = dbConnectionUrl({ user, host: db.host, port: db.port, database: user, query: { read_default_file: file } });
    expect(url).not.toContain('%');
    const out = execFileSync(PY, ['-c', PROBE, url], { encoding: 'utf8' }).trim().split('\n');
    expect(out).toEqual(['alembic-ok', `${user}@127.0.0.1`]);
  });

  it('a wrong password in the file is refused (the check can fail)', async () => {
    const file = join(dir, 'wrong.cnf');
    writeFileSync(file, pymysqlOptionFile('not-the-password'));
    const url = dbConnectionUrl({ user: 'svc0', host: db.host, port: db.port, database: 'svc0', query: { read_default_file: file } });
    expect(() => execFileSync(PY, ['-c', PROBE, url], { encoding: 'utf8', stdio: 'pipe' })).toThrow(/Access denied/);
  });

  it('the URL-encoded password is what alembic rejects', () => {
    const url = dbConnectionUrl({ user: 'svc0', password: PASSWORDS[0]!, host: db.host, port: db.port, database: 'svc0' });
    const out = execFileSync(PY, ['-c', PROBE.split('with sqlalchemy')[0]!, url], { encoding: 'utf8' }).trim();
    expect(out).toBe('alembic-rejects');
  });
});
