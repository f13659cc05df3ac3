import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { OWN_SECRETS } from '../../lib/config/secrets.ts';
import {
  generateSecret,
  loadConfig,
  readSecretsFile,
  SCHEMA,
  secretValues,
  ttyPrompt,
  writeSecretsFile,
  type LoadOptions,
} from '../../lib/config/index.ts';

const OWN: readonly string[] = OWN_SECRETS;
const GENERATED = /^[A-Za-z0-9_][A-Za-z0-9_-]{23}$/;
/** Every printable ASCII character, space included. */
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function project(localrc: string): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'stack-secrets-'));
  dirs.push(dir);
  const file = join(dir, 'localrc');
  await writeFile(file, localrc);
  return { dir, file };
}

const base: LoadOptions = { interactive: false, env: {}, detect: async () => ({ HOST_IP: '192.0.2.10' }) };
const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('generateSecret', () => {
  it('is 24 URL-safe characters, not starting with -, different each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = generateSecret();
      expect(s).toMatch(GENERATED);
      seen.add(s);
    }
    expect(seen.size).toBe(200);
  });
});

describe('secrets through loadConfig', () => {
  it('generates once, stores 0600 beside the config file, reuses on the next load', async () => {
    const { dir, file } = await project('');
    const first = await loadConfig(file, base);
    const secretsFile = join(dir, '.stack-secrets');
    expect(first.config.secretsFile).toBe(secretsFile);
    expect(first.warnings).toEqual([]);
    for (const name of OWN) expect(first.config.settings[name as keyof typeof SCHEMA]).toMatch(GENERATED);
    expect(new Set(OWN.map((n) => first.config.settings[n as keyof typeof SCHEMA])).size).toBe(OWN.length);
    expect(first.config.settings.GLANCE_PASSWORD).toBe(first.config.settings.SERVICE_PASSWORD);
    expect(first.config.settings.NOVA_PASSWORD).toBe(first.config.settings.SERVICE_PASSWORD);
    expect(await mode(secretsFile)).toBe(0o600);
    const text = await readFile(secretsFile, 'utf8');
    expect(text.match(/^[A-Z_]+=/gm)).toEqual(OWN.map((n) => `${n}=`));

    const second = await loadConfig(file, base);
    for (const name of OWN) expect(second.config.settings[name as keyof typeof SCHEMA]).toBe(first.config.settings[name as keyof typeof SCHEMA]);
    expect(await readFile(secretsFile, 'utf8')).toBe(text);
    expect(secretValues(second.config).sort()).toEqual(
      [...OWN, 'GLANCE_PASSWORD', 'PLACEMENT_PASSWORD', 'NOVA_PASSWORD', 'NEUTRON_PASSWORD'].map((n) => String(second.config.settings[n as keyof typeof SCHEMA])).sort(),
    );
  });

  it('on a TTY asks each missing password once; blank generates; asked values are stored and not asked again', async () => {
    const { dir, file } = await project("RABBIT_PASSWORD='from-localrc'\n");
    const asked: [string, string][] = [];
    const prompt = async (name: string, doc: string) => {
      asked.push([name, doc]);
      return name === 'ADMIN_PASSWORD' ? `typed $ @:/%#'" x` : '';
    };
    const { config } = await loadConfig(file, { ...base, interactive: true, prompt });
    expect(asked).toEqual(['ADMIN_PASSWORD', 'DATABASE_PASSWORD', 'SERVICE_PASSWORD'].map((n) => [n, SCHEMA[n as keyof typeof SCHEMA].doc]));
    expect(config.settings.ADMIN_PASSWORD).toBe(`typed $ @:/%#'" x`);
    expect(config.settings.DATABASE_PASSWORD).toMatch(GENERATED);
    expect(config.settings.RABBIT_PASSWORD).toBe('from-localrc');
    const stored = await readFile(join(dir, '.stack-secrets'), 'utf8');
    expect(stored).not.toContain('RABBIT_PASSWORD');

    asked.length = 0;
    const again = await loadConfig(file, { ...base, interactive: true, prompt });
    expect(asked).toEqual([]);
    expect(again.config.settings.ADMIN_PASSWORD).toBe(`typed $ @:/%#'" x`);
    expect(again.config.settings.DATABASE_PASSWORD).toBe(config.settings.DATABASE_PASSWORD);
  });

  it('without a TTY the prompt is never called', async () => {
    const { file } = await project('');
    let calls = 0;
    await loadConfig(file, { ...base, interactive: false, prompt: async () => `${++calls}` });
    expect(calls).toBe(0);
  });

  it('readOnly (plan) writes nothing and asks nothing, and still fills every password', async () => {
    const { dir, file } = await project('');
    let calls = 0;
    const { config } = await loadConfig(file, { ...base, interactive: true, readOnly: true, prompt: async () => `${++calls}` });
    expect(calls).toBe(0);
    expect(await readdir(dir)).toEqual(['localrc']);
    for (const name of OWN) expect(config.settings[name as keyof typeof SCHEMA]).toMatch(GENERATED);
  });

  it('a value in the config file wins over the secrets file', async () => {
    const { dir, file } = await project("ADMIN_PASSWORD='mine-pw-1'\n");
    await writeFile(join(dir, '.stack-secrets'), "ADMIN_PASSWORD='stored-pw-1'\nDATABASE_PASSWORD='db-pw-123'\n", { mode: 0o600 });
    const { config } = await loadConfig(file, base);
    expect(config.settings.ADMIN_PASSWORD).toBe('mine-pw-1');
    expect(config.settings.DATABASE_PASSWORD).toBe('db-pw-123');
    // the stored ADMIN_PASSWORD stays as it was: the file only gains missing names
    expect(await readFile(join(dir, '.stack-secrets'), 'utf8')).toContain("ADMIN_PASSWORD='stored-pw-1'");
  });

  it('an existing group/world-readable secrets file is fixed to 0600 with a warning', async () => {
    const { dir, file } = await project('');
    const secretsFile = join(dir, '.stack-secrets');
    // complete, so nothing is added and the file is not rewritten: only the mode fix can make it 0600
    const complete = "ADMIN_PASSWORD='kept-pw-1'\n" + OWN.filter((n) => n !== 'ADMIN_PASSWORD').map((n) => `${n}='x${n}'\n`).join('');
    await writeFile(secretsFile, complete);
    await chmod(secretsFile, 0o644);
    const { config, warnings } = await loadConfig(file, base);
    expect(warnings).toEqual([{ origin: secretsFile, message: 'the secrets file was readable by other users (mode 0644); changed it to 0600' }]);
    expect(await mode(secretsFile)).toBe(0o600);
    expect(await readFile(secretsFile, 'utf8')).toBe(complete);
    expect(config.settings.ADMIN_PASSWORD).toBe('kept-pw-1');
  });

  it('readOnly only reports a readable secrets file and leaves its mode', async () => {
    const { dir, file } = await project('');
    const secretsFile = join(dir, '.stack-secrets');
    await writeFile(secretsFile, "ADMIN_PASSWORD='kept-pw-1'\n");
    await chmod(secretsFile, 0o640);
    const { warnings } = await loadConfig(file, { ...base, readOnly: true });
    expect(warnings).toEqual([
      { origin: secretsFile, message: `the secrets file is readable by other users (mode 0640); run: chmod 600 ${secretsFile}` },
    ]);
    expect(await mode(secretsFile)).toBe(0o640);
  });

  it('SECRETS_FILE relative to the config file; its directory is created', async () => {
    const { dir, file } = await project('SECRETS_FILE=private/pw\n');
    const { config } = await loadConfig(file, base);
    expect(config.secretsFile).toBe(join(dir, 'private', 'pw'));
    expect(config.settings.SECRETS_FILE).toBe(join(dir, 'private', 'pw'));
    expect(await mode(join(dir, 'private', 'pw'))).toBe(0o600);
  });

  it('names in the secrets file that are not passwords are warned about and ignored', async () => {
    const { dir, file } = await project('');
    const secretsFile = join(dir, '.stack-secrets');
    await writeFile(secretsFile, "# mine\nADMIN_PASSWORD='a-pw-123'\nHOST_IP='10.9.9.9'\n", { mode: 0o600 });
    const { config, warnings } = await loadConfig(file, base);
    expect(warnings).toEqual([{ origin: `${secretsFile}:3`, message: 'HOST_IP is not a password setting; ignored in the secrets file' }]);
    expect(config.settings.HOST_IP).toBe('192.0.2.10');
  });

  it('a secrets file with a syntax error names its line', async () => {
    const { dir, file } = await project('');
    const secretsFile = join(dir, '.stack-secrets');
    await writeFile(secretsFile, "ADMIN_PASSWORD='a\n", { mode: 0o600 });
    await expect(loadConfig(file, base)).rejects.toThrow(
      `${secretsFile}:1: unterminated single quote in the value of ADMIN_PASSWORD\n    close the quote on the same line; a value cannot span lines`,
    );
  });
});

describe('secrets file format', () => {
  it('every printable character survives a write and a read, and sh reads the same value', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stack-secrets-'));
    dirs.push(dir);
    const file = join(dir, 'secrets');
    const values = new Map([
      ['ADMIN_PASSWORD', PRINTABLE],
      ['DATABASE_PASSWORD', `'`],
      ['RABBIT_PASSWORD', `$ @ : / % # ' " \\`],
      ['SERVICE_PASSWORD', `''a''`],
    ]);
    await writeSecretsFile(file, values);
    expect(await mode(file)).toBe(0o600);
    const back = await readSecretsFile(file, false);
    expect(back.warnings).toEqual([]);
    expect(back.values).toEqual(values);
    for (const [name, value] of values) {
      const fromSh = execFileSync('sh', ['-c', `. "$1"; printf '%s' "$${name}"`, 'sh', file], { encoding: 'utf8' });
      expect(fromSh).toBe(value);
    }
  });
});

describe('ttyPrompt', () => {
  it('shows the question, hides the typed answer, returns it', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (d: Buffer) => (shown += d.toString()));
    const answer = ttyPrompt({ input, output })('ADMIN_PASSWORD', 'Keystone admin password.');
    input.write('s3cr$t x\n');
    expect(await answer).toBe('s3cr$t x');
    expect(shown).toContain('Keystone admin password.\n');
    expect(shown).toContain('ADMIN_PASSWORD (hidden; leave blank to generate one): ');
    expect(shown).not.toContain('s3cr');
  });

  it('rejects when input ends without an answer', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const answer = ttyPrompt({ input, output })('ADMIN_PASSWORD', 'doc');
    input.end();
    await expect(answer).rejects.toThrow('no answer for ADMIN_PASSWORD: input closed or interrupted');
  });
});

describe('a secrets file that cannot be trusted', () => {
  it('a symbolic link is refused, and nothing is written through it', async () => {
    const { dir, file } = await project('');
    const target = join(dir, 'elsewhere');
    await writeFile(target, "ADMIN_PASSWORD='planted-pw'\n", { mode: 0o600 });
    const { symlink } = await import('node:fs/promises');
    await symlink(target, join(dir, '.stack-secrets'));
    await expect(loadConfig(file, base)).rejects.toThrow(`${join(dir, '.stack-secrets')}: the secrets file is a symbolic link; stack.ts does not follow one there`);
    expect(await readFile(target, 'utf8')).toBe("ADMIN_PASSWORD='planted-pw'\n");
  });
  it.runIf(process.getuid?.() === 0)('a file owned by another user is refused', async () => {
    const { dir, file } = await project('');
    const secrets = join(dir, '.stack-secrets');
    await writeFile(secrets, "ADMIN_PASSWORD='planted-pw'\n", { mode: 0o600 });
    execFileSync('chown', ['65534', secrets]);
    await expect(loadConfig(file, base)).rejects.toThrow(`${secrets}: the secrets file is owned by uid 65534, not by you (uid 0): its passwords cannot be trusted`);
  });
});
