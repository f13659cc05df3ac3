import { OWN_SECRETS } from '../../lib/config/secrets.ts';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigText, partsToString, REPO_ROOT, SCHEMA, type LoadOptions } from '../../lib/config/index.ts';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function project(name: string, text: string): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'stack-load-'));
  dirs.push(dir);
  const file = join(dir, name);
  await writeFile(file, text);
  return { dir, file };
}

const opts: LoadOptions = { interactive: false, readOnly: true, env: {} };

describe('loadConfig', () => {
  it('a missing file names the path and says how to start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stack-load-'));
    dirs.push(dir);
    const file = join(dir, 'localrc');
    const err = await loadConfig(file, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const example = relative(process.cwd(), join(REPO_ROOT, 'localrc.example'));
    expect((err as ConfigError).message).toBe(`${file}: config file not found (looked for ${file})\n    start from the example: cp ${example} ${file}`);
    expect((err as ConfigError).origin).toBe(file);
    expect((err as ConfigError).hint).toBe(`start from the example: cp ${example} ${file}`);
  });

  it('HOSTS_FILE beside TARGET_HOST, SERVICE_HOST, DATABASE_HOST or RABBIT_HOST: one warning naming each with its line', async () => {
    const { file } = await project('localrc', 'HOSTS_FILE=hosts.yaml\nSERVICE_HOST=192.0.2.5\nVIRT_DRIVER=fake\nRABBIT_HOST=192.0.2.6\n');
    const { warnings } = await loadConfig(file, opts);
    expect(warnings).toEqual([
      {
        origin: `${file}:1`,
        message: 'HOSTS_FILE is set, so SERVICE_HOST (line 2), RABBIT_HOST (line 4) are not used: the hosts file says which host runs what, and every address comes from its hosts; remove those lines or HOSTS_FILE',
      },
    ]);
    const one = await project('localrc', 'DATABASE_HOST=192.0.2.7\nHOSTS_FILE=hosts.yaml\n');
    expect((await loadConfig(one.file, opts)).warnings.map((w) => w.message)).toEqual([
      'HOSTS_FILE is set, so DATABASE_HOST (line 1) is not used: the hosts file says which host runs what, and every address comes from its hosts; remove that line or HOSTS_FILE',
    ]);
  });

  it('no warning for those settings without HOSTS_FILE, nor for HOSTS_FILE alone or an empty SERVICE_HOST', async () => {
    const alone = await project('localrc', 'TARGET_HOST=root@192.0.2.9\nSERVICE_HOST=192.0.2.5\nDATABASE_HOST=192.0.2.5\nRABBIT_HOST=192.0.2.5\n');
    expect((await loadConfig(alone.file, opts)).warnings).toEqual([]);
    const file = await project('localrc', 'HOSTS_FILE=hosts.yaml\nSERVICE_HOST=\n');
    expect((await loadConfig(file.file, opts)).warnings).toEqual([]);
  });

  it('relative paths: RUN_LOG_DIR and SSH_KEY from the config dir, IMAGE_CACHE_DIR from the checkout', async () => {
    const { dir, file } = await project('localrc', 'SSH_KEY=keys/id\n');
    const { config } = await loadConfig(file, opts);
    expect(config.file).toBe(file);
    expect(config.settings.RUN_LOG_DIR).toBe(join(dir, '.stack/logs'));
    expect(config.settings.SSH_KEY).toBe(join(dir, 'keys/id'));
    expect(config.settings.IMAGE_CACHE_DIR).toBe(join(REPO_ROOT, 'files/images'));
    expect(config.secretsFile).toBe(join(dir, '.stack-secrets'));
    expect(config.settings.STACK_STATE_DIR).toBe('/var/lib/stack-ts');
  });

  it('REPO_ROOT is the directory holding stack.ts and localrc.example', async () => {
    await expect(readFile(join(REPO_ROOT, 'localrc.example'), 'utf8')).resolves.toContain('#TARGET_HOST=local');
    await expect(readFile(join(REPO_ROOT, 'package.json'), 'utf8')).resolves.toContain('"name": "stack.ts"');
  });

  it('the Config is deeply frozen', async () => {
    const { file } = await project('local.conf', '[[local|localrc]]\nREGION_NAME=R\n[[post-config|$NOVA_CONF]]\n[DEFAULT]\ndebug = True\n');
    const { config } = await loadConfig(file, opts);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.settings)).toBe(true);
    expect(Object.isFrozen(config.settings.ENABLED_SERVICES)).toBe(true);
    expect(Object.isFrozen(config.postConfig)).toBe(true);
    expect(Object.isFrozen(config.postConfig[0])).toBe(true);
    expect(() => ((config.settings as { REGION_NAME: string }).REGION_NAME = 'x')).toThrow(TypeError);
    expect(() => (config.services as Set<string>).add('g-reg')).toThrow('Config.services is read-only');
    expect(() => (config.services as Set<string>).delete('mysql')).toThrow('Config.services is read-only');
    expect(config.services.has('mysql')).toBe(true);
  });

  it('services come in start order whatever order the file names them', async () => {
    const { file } = await project('localrc', 'ENABLED_SERVICES=n-api,key,mysql\n');
    const { config } = await loadConfig(file, opts);
    expect([...config.services]).toEqual(['mysql', 'key', 'n-api']);
    expect(config.settings.ENABLED_SERVICES).toEqual(['n-api', 'key', 'mysql']);
  });

  it('detect gets the user\'s TARGET_HOST and SSH_KEY; its values fill only what the user left open', async () => {
    const { dir, file } = await project('localrc', 'TARGET_HOST=stack@10.0.0.9\nSSH_KEY=k\nCIRROS_ARCH=aarch64\n');
    const seen: unknown[] = [];
    const { config } = await loadConfig(file, {
      ...opts,
      detect: async (partial) => {
        seen.push(partial);
        return { HOST_IP: '10.0.0.9', CIRROS_ARCH: 'x86_64', NOT_A_SETTING: 'x' } as Record<string, string>;
      },
    });
    expect(seen).toEqual([{ HOSTS_FILE: '', TARGET_HOST: 'stack@10.0.0.9', SSH_KEY: join(dir, 'k'), SSH_CONNECT_TIMEOUT: 15, COMMAND_TIMEOUT: 900, SSH_KNOWN_HOSTS: '', SSH_ACCEPT_NEW_HOST_KEYS: false }]);
    expect(config.settings.HOST_IP).toBe('10.0.0.9');
    expect(config.settings.SERVICE_HOST).toBe('10.0.0.9');
    expect(config.settings.CIRROS_ARCH).toBe('aarch64');
    expect(config.settings.IMAGE_URLS).toEqual(['https://github.com/cirros-dev/cirros/releases/download/0.6.2/cirros-0.6.2-aarch64-disk.img']);
  });

  it('a detected value is validated too', async () => {
    const { file } = await project('localrc', '');
    await expect(loadConfig(file, { ...opts, detect: async () => ({ API_WORKERS: 'many' }) })).rejects.toThrow(
      'detected: API_WORKERS=many is not a whole number\n    use a whole number from 1 to 64',
    );
  });

  it('without detect, settings the user left empty stay empty', async () => {
    const { file } = await project('localrc', '');
    const { config } = await loadConfig(file, opts);
    expect(config.settings.HOST_IP).toBe('');
    expect(config.settings.SERVICE_HOST).toBe('');
  });

  it('the environment is process.env unless given', async () => {
    const { file } = await project('localrc', 'REGION_NAME=${STACK_TS_TEST_REGION:-none}\n');
    process.env.STACK_TS_TEST_REGION = 'FromEnv';
    try {
      const { config } = await loadConfig(file, { interactive: false, readOnly: true });
      expect(config.settings.REGION_NAME).toBe('FromEnv');
    } finally {
      delete process.env.STACK_TS_TEST_REGION;
    }
  });

  it('a relative path is shown relative to the working directory in messages', async () => {
    const { file } = await project('localrc', 'API_WORKERS=x\n');
    const rel = relative(process.cwd(), file);
    // a temp dir is outside the checkout: the absolute path is shown
    await expect(loadConfig(rel, opts)).rejects.toThrow(`${file}:1: API_WORKERS=x is not a whole number`);
  });
});

describe('parseConfigText (pure)', () => {
  it('keeps references to settings for later and reports the file kind', () => {
    const p = parseConfigText('SERVICE_HOST=${HOST_IP}\nRABBIT_HOST="${DATABASE_HOST:-db}:1"\n', 'localrc', {});
    expect(p.kind).toBe('localrc');
    expect(partsToString(p.settings.get('SERVICE_HOST')!.parts)).toBe('${HOST_IP}');
    expect(partsToString(p.settings.get('RABBIT_HOST')!.parts)).toBe('${${DATABASE_HOST}:-db}:1');
    expect(p.settings.get('RABBIT_HOST')!.origin).toBe('localrc:2');
  });

  it('a ConfigError carries each issue with origin and hint', () => {
    let caught: unknown;
    try {
      parseConfigText('A = 1\nVIRT_DRIVER=kvm\n', 'localrc', {});
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const err = caught as ConfigError;
    expect(err.origin).toBe('localrc:1');
    expect(err.hint).toBe('the shell reads "A = ..." as a command; write A=value with no spaces');
    expect(err.issues.map((i) => [i.origin, i.message])).toEqual([
      ['localrc:1', "spaces around '=' in the assignment to A"],
      ['localrc:2', 'VIRT_DRIVER=kvm is not one of libvirt, fake'],
    ]);
  });

  it('never puts a password into a message', () => {
    const secrets = ["ADMIN_PASSWORD='hunter2", 'DATABASE_PASSWORD=hunter2 x', 'RABBIT_PASSWORD=hun$@ter2', 'ADMIN_PASWORD=hunter2'];
    for (const line of secrets) {
      let text = '';
      try {
        text = parseConfigText(line + '\n', 'localrc', {}).warnings.map((w) => w.message).join('\n');
      } catch (e) {
        text = (e as Error).message;
      }
      expect(text).not.toBe('');
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain('ter2');
    }
  });
});

describe('localrc.example', () => {
  it('lists every setting with its doc and its exact default, commented out', async () => {
    const text = await readFile(join(REPO_ROOT, 'localrc.example'), 'utf8');
    const lines = text.split('\n');
    for (const [name, spec] of Object.entries(SCHEMA)) {
      const at = lines.indexOf(`#${name}=${spec.default}`);
      expect(at, `#${name}=${spec.default}`).toBeGreaterThan(0);
      expect(lines[at - 1]).toBe(`# ${spec.doc}`);
    }
  });

  it('groups settings under their group heading', async () => {
    const text = await readFile(join(REPO_ROOT, 'localrc.example'), 'utf8');
    for (const [name, spec] of Object.entries(SCHEMA)) {
      const heading = text.indexOf(`# ===== ${spec.group} =====`);
      const at = text.indexOf(`\n#${name}=`);
      expect(heading, spec.group).toBeGreaterThan(0);
      expect(at).toBeGreaterThan(heading);
      const nextHeading = text.indexOf('# =====', heading + 1);
      if (nextHeading > 0) expect(at).toBeLessThan(nextHeading);
    }
  });

  it('a copy loads without errors or warnings; uncommenting every default changes nothing', async () => {
    const text = await readFile(join(REPO_ROOT, 'localrc.example'), 'utf8');
    const detect = async () => ({ HOST_IP: '192.0.2.10', CIRROS_ARCH: 'x86_64' });
    const asIs = await project('localrc', text);
    const plain = await loadConfig(asIs.file, { ...opts, detect });
    expect(plain.warnings).toEqual([]);

    const uncommented = text.replace(/^#([A-Z][A-Z0-9_]*=)/gm, '$1');
    expect(uncommented.match(/^[A-Z][A-Z0-9_]*=/gm)).toHaveLength(Object.keys(SCHEMA).length);
    const all = await project('localrc', uncommented);
    // same secrets file content so generated passwords match
    const stored = OWN_SECRETS.map((n) => `${n}='v-${n}'\n`).join('');
    await writeFile(join(all.dir, '.stack-secrets'), stored, { mode: 0o600 });
    await writeFile(join(asIs.dir, '.stack-secrets'), stored, { mode: 0o600 });
    const a = await loadConfig(asIs.file, { ...opts, detect });
    const b = await loadConfig(all.file, { ...opts, detect });
    expect(b.warnings).toEqual([]);
    const rebase = (s: unknown, dir: string) => JSON.parse(JSON.stringify(s).replaceAll(dir, 'DIR'));
    expect(rebase(b.config.settings, all.dir)).toEqual(rebase(a.config.settings, asIs.dir));
    expect([...b.config.services]).toEqual([...a.config.services]);
  });
});
