// The proof that a password survives every writer and is read back exactly by the real
// readers: Debian's oslo.config and SQLAlchemy (what the services use to read their
// config), and MariaDB logins by mysql2, the mariadb client (option file) and pymysql
// (what the services connect with).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../lib/db.ts';
import { dbConnectionUrl, dbPasswordProblem, mysqlOptionValue } from '../../lib/escape.ts';
import { IniDoc } from '../../lib/ini.ts';
import { startMariadb, type MariadbFixture } from '../fixtures/mariadb.ts';

// Debian's own interpreter: `python3` on PATH may be another Python without these modules.
const PY = '/usr/bin/python3';
const PY_PACKAGES = ['python3-oslo.config', 'python3-sqlalchemy', 'python3-pymysql'];

const PASSWORDS = ['Password123$', 'Pa$word', `p@ss:w/rd%#'"`, ' spaced out ', '$$dollars$', 'back\\slash', 'pässwörd-密码-🔑'];
const ASCII = PASSWORDS.filter((p) => dbPasswordProblem(p) === undefined);
const DATABASE = 'roundtrip';

interface PyResult {
  password: string;
  url: { drivername: string; username: string; password: string; host: string; port: number; database: string; query: Record<string, string> };
  pymysql: { ok: boolean; user?: string; error?: string };
  pymysql_wrong: { ok: boolean; user?: string; error?: string };
}

// Reads each file like a service would: oslo.config with registered StrOpts, then the
// connection URL through SQLAlchemy's make_url, then a pymysql login with what it parsed.
const READER = `
import json, sys
from oslo_config import cfg
from sqlalchemy.engine.url import make_url
import pymysql

def login(url, pw):
    try:
        c = pymysql.connect(host=url.host, port=url.port, user=url.username, password=pw,
                            database=url.database, charset=url.query.get('charset', 'utf8'), connect_timeout=5)
        with c.cursor() as cur:
            cur.execute('SELECT CURRENT_USER()')
            user = cur.fetchone()[0]
        c.close()
        return {'ok': True, 'user': user}
    except Exception as e:
        return {'ok': False, 'error': type(e).__name__ + ': ' + str(e)}

out = []
for path in json.load(sys.stdin):
    conf = cfg.ConfigOpts()
    conf.register_opts([cfg.StrOpt('connection', secret=True)], group='database')
    conf.register_opts([cfg.StrOpt('password', secret=True)], group='keystone_authtoken')
    conf(args=[], project='roundtrip', default_config_files=[path], default_config_dirs=[])
    url = make_url(conf.database.connection)
    out.append({
        'password': conf.keystone_authtoken.password,
        'url': {'drivername': url.drivername, 'username': url.username, 'password': url.password,
                'host': url.host, 'port': url.port, 'database': url.database, 'query': dict(url.query)},
        'pymysql': login(url, url.password),
        'pymysql_wrong': login(url, url.password + 'x'),
    })
print(json.dumps(out))
`;

function ensurePythonPackages(): void {
  const check = () => execFileSync(PY, ['-c', 'import oslo_config, sqlalchemy, pymysql'], { stdio: 'pipe' });
  try {
    check();
  } catch {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...PY_PACKAGES], { env, stdio: 'pipe' });
    try {
      install();
    } catch {
      execFileSync('apt-get', ['update'], { env, stdio: 'pipe' });
      install();
    }
    check();
  }
}

let m: MariadbFixture;
let root: Db;
let dir = '';
let results: PyResult[] = [];
const user = (i: number) => `rt${i}`;

beforeAll(async () => {
  ensurePythonPackages();
  m = await startMariadb();
  dir = mkdtempSync(join(tmpdir(), 'stackts-roundtrip-'));
  root = await openDb({ host: m.host, port: m.port, user: 'root', password: m.rootPassword });
  await root.ensureDatabase(DATABASE);
  const files: string[] = [];
  for (const [i, password] of PASSWORDS.entries()) {
    await root.ensureUser(user(i), '127.0.0.1', password, [DATABASE]);
    // A service's config as the installer writes it: on top of a packaged-looking file.
    const doc = IniDoc.parse('[DEFAULT]\n\n[database]\n#connection = <None>\n\n[keystone_authtoken]\n#password =\n');
    doc.set('database', 'connection', dbConnectionUrl({ user: user(i), password, host: m.host, port: m.port, database: DATABASE }));
    doc.set('keystone_authtoken', 'password', password);
    const file = join(dir, `service${i}.conf`);
    writeFileSync(file, doc.toString(), { mode: 0o600 });
    files.push(file);
  }
  const out = execFileSync(PY, ['-c', READER], { input: JSON.stringify(files), encoding: 'utf8' });
  results = JSON.parse(out) as PyResult[];
});

afterAll(async () => {
  await root?.close();
  await m?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Logs in with the real mariadb client, the password coming from a 0600 option file. */
function mariadbClientLogin(name: string, password: string): { ok: boolean; out: string } {
  const file = join(dir, `${name}-${Math.random().toString(36).slice(2)}.cnf`);
  writeFileSync(
    file,
    `[client]\nuser = ${name}\npassword = ${mysqlOptionValue(password)}\nhost = 127.0.0.1\nport = ${m.port}\nprotocol = TCP\n`,
    { mode: 0o600 },
  );
  expect(statSync(file).mode & 0o777).toBe(0o600);
  try {
    const out = execFileSync('mariadb', [`--defaults-file=${file}`, '-N', '-B', '-e', 'SELECT CURRENT_USER()', DATABASE], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
    return { ok: true, out: out.trim() };
  } catch (e) {
    return { ok: false, out: String((e as { stderr?: string }).stderr ?? e) };
  } finally {
    rmSync(file, { force: true });
  }
}

describe.each(PASSWORDS.map((p, i) => [JSON.stringify(p), i] as const))('password %s', (_label, i) => {
  const password = PASSWORDS[i]!;

  it('oslo.config reads [keystone_authtoken] password back exactly', () => {
    expect(results[i]!.password).toBe(password);
  });

  it('SQLAlchemy make_url gives back the exact user, password, host, port and database', () => {
    const url = results[i]!.url;
    expect(url).toEqual({
      drivername: 'mysql+pymysql',
      username: user(i),
      password,
      host: '127.0.0.1',
      port: m.port,
      database: DATABASE,
      query: { charset: 'utf8' },
    });
  });

  it('mysql2 logs in with it, and not with a wrong one', async () => {
    const db = await openDb({ host: m.host, port: m.port, user: user(i), password });
    const [row] = await db.query<{ u: string }>('SELECT CURRENT_USER() AS u');
    expect(row?.u).toBe(`${user(i)}@127.0.0.1`);
    await db.close();
    await expect(openDb({ host: m.host, port: m.port, user: user(i), password: password + 'x' })).rejects.toThrow(/access denied/);
  });

  it('the mariadb client logs in through an option file written with mysqlOptionValue, and not with a wrong one', () => {
    const good = mariadbClientLogin(user(i), password);
    expect(good).toEqual({ ok: true, out: `${user(i)}@127.0.0.1` });
    const bad = mariadbClientLogin(user(i), password.slice(1));
    expect(bad.ok).toBe(false);
    expect(bad.out).toMatch(/Access denied/);
  });

  if (ASCII.includes(password)) {
    it('pymysql logs in with the password SQLAlchemy parsed, and not with a wrong one', () => {
      expect(results[i]!.pymysql).toEqual({ ok: true, user: `${user(i)}@127.0.0.1` });
      expect(results[i]!.pymysql_wrong.ok).toBe(false);
      expect(results[i]!.pymysql_wrong.error).toMatch(/Access denied/);
    });
  } else {
    // pymysql sends str passwords as latin1; MariaDB hashed the UTF-8 bytes. This is why
    // dbPasswordProblem() refuses non-ASCII database passwords before anything is written.
    it('pymysql cannot log in with a non-ASCII password, and dbPasswordProblem says so', () => {
      expect(results[i]!.pymysql.ok).toBe(false);
      expect(results[i]!.pymysql.error).toMatch(/UnicodeEncodeError|Access denied/);
      expect(dbPasswordProblem(password)).toMatch(/pymysql/);
    });
  }
});

describe('mysqlOptionValue', () => {
  it('quotes and escapes as the option-file reader expects', () => {
    expect(mysqlOptionValue('plain')).toBe('"plain"');
    expect(mysqlOptionValue(`a"b\\c'd#e`)).toBe(`"a\\"b\\\\c'd#e"`);
  });
});
