// Turns a config file into the one frozen Config: parse, validate, detect what the user left
// open, settle passwords, expand defaults, check the result, freeze.
//
// Each setting's value comes from the first layer that has one:
//   the config file (a non-empty value) > the secrets file / prompt / generated (passwords)
//   > detected on the target host > the schema default.
// Values and defaults may refer to other settings (${SERVICE_HOST}); those are expanded last.

import { networkIssues } from './network-check.ts';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KNOWN_SERVICES, SCHEMA, SECRET_NAMES, type ServiceName, type SettingName, type Settings } from './schema.ts';
import type { Config, ConfigWarning } from './types.ts';
import { ConfigError, decodeUtf8, type ConfigIssue } from './errors.ts';
import { hideSecrets, isLiteral, parseConfigText, parseDefault, type Assignment, type Env, type Part, type ParsedConfig } from './parse.ts';
import { resolveSecrets, type PromptFn } from './secrets.ts';
import { checkValue, parseBool, toTyped } from './validate.ts';
import { ttyPrompt } from './prompt.ts';
import { readPlainFile, UnreadableFile } from '../plain-file.ts';

export { parseConfigText };

/** What the detector needs to reach the hosts, from the user's settings and the defaults alone. */
export interface DetectInput {
  readonly TARGET_HOST: string;
  readonly SSH_KEY: string;
  readonly HOSTS_FILE: string;
  readonly SSH_CONNECT_TIMEOUT: number;
  readonly COMMAND_TIMEOUT: number;
  readonly SSH_KNOWN_HOSTS: string;
  readonly SSH_ACCEPT_NEW_HOST_KEYS: boolean;
}

export interface LoadOptions {
  /** Ask for missing passwords on the terminal. */
  interactive: boolean;
  prompt?: PromptFn;
  /** Environment for $VAR expansion; default process.env. */
  env?: Record<string, string | undefined>;
  /**
   * Called after parsing and validation with the user's raw settings, before defaults are
   * expanded; returns detected values (e.g. HOST_IP, CIRROS_ARCH), used only where the user set none.
   */
  detect?: (partial: DetectInput) => Promise<Partial<Record<SettingName, string>>>;
  /**
   * The target host's own addresses (called after detect): a HOST_IP the user set must be one of
   * them, or the services bind to nothing.
   */
  hostAddresses?: () => Promise<readonly string[]>;
  /** plan mode: never write the secrets file; generate in memory. */
  readOnly?: boolean;
}

/** The checkout's root: the directory of stack.ts, two levels above lib/config. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const SETTING_NAMES = Object.keys(SCHEMA) as SettingName[];

/** Where a setting's value came from, for messages. */
type Source =
  | { readonly kind: 'user'; readonly parts: readonly Part[]; readonly origin: string }
  | { readonly kind: 'secret' | 'detected'; readonly value: string; readonly origin: string }
  | { readonly kind: 'default'; readonly parts: readonly Part[]; readonly origin: string };

/** An empty value in the file means "not set", as with ${VAR:-default}. */
const userSource = (a: Assignment | undefined): Source | undefined =>
  a && !(isLiteral(a.parts) && a.parts.join('') === '') ? { kind: 'user', parts: a.parts, origin: a.origin } : undefined;

class Resolver {
  private readonly done = new Map<SettingName, string>();
  readonly sources = new Map<SettingName, Source>();

  constructor(
    parsed: ParsedConfig,
    secrets: ReadonlyMap<string, string>,
    secretsOrigin: string,
    detected: Partial<Record<SettingName, string>>,
  ) {
    for (const name of SETTING_NAMES) {
      const fromUser = userSource(parsed.settings.get(name));
      const secret = secrets.get(name);
      const found = detected[name];
      this.sources.set(
        name,
        fromUser ??
          (secret !== undefined
            ? { kind: 'secret', value: secret, origin: secretsOrigin }
            : found !== undefined && found !== ''
              ? { kind: 'detected', value: found, origin: 'detected' }
              : { kind: 'default', parts: parseDefault(SCHEMA[name].default), origin: `default of ${name}` }),
      );
    }
  }

  get(name: SettingName, chain: readonly SettingName[] = []): string {
    const known = this.done.get(name);
    if (known !== undefined) return known;
    if (chain.includes(name)) throw this.cycle([...chain.slice(chain.indexOf(name)), name]);
    const source = this.sources.get(name)!;
    const value = 'value' in source ? source.value : this.expand(source.parts, [...chain, name]);
    this.done.set(name, value);
    return value;
  }

  private expand(parts: readonly Part[], chain: readonly SettingName[]): string {
    return parts
      .map((p) => {
        if (typeof p === 'string') return p;
        if ('ref' in p) return this.get(p.ref, chain);
        const v = this.expand(p.value, chain);
        return v === '' ? this.expand(p.fallback, chain) : v;
      })
      .join('');
  }

  private cycle(loop: readonly SettingName[]): ConfigError {
    const userSet = loop.map((n) => this.sources.get(n)!).find((s) => s.kind === 'user');
    return new ConfigError({
      origin: userSet?.origin ?? `default of ${loop[0]}`,
      message: `${loop[0]} refers to itself: ${loop.join(' -> ')}`,
      hint: 'give one of these settings a plain value instead of a ${...} reference',
    });
  }
}

/** Two paths name one file: equal, or the same file through a link (the secrets file may not exist yet). */
function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** How the file is named in messages: relative to the working directory when it is below it. */
function displayName(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}

/** Far above any real localrc; a bigger file is the wrong one (a log, an image) and would only flood the terminal. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The config file's text. Also called before the run lock is taken beside the config: a file that
 * is missing, a fifo, a directory or a device is refused before anything is made.
 */
export async function readConfigFile(abs: string, shown: string = displayName(abs)): Promise<string> {
  try {
    return decodeUtf8(await readPlainFile(abs, MAX_CONFIG_BYTES), shown);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    if (e instanceof UnreadableFile) {
      throw new ConfigError(
        e.code === 'ETOOBIG'
          ? { origin: shown, message: `the config file is ${e.detail}; a localrc or local.conf is a few kB`, hint: 'is --config naming the right file?' }
          : { origin: shown, message: `the config file is ${e.detail}, not a file stack.ts can read`, hint: 'name a localrc or local.conf with --config (a fifo or a process substitution cannot be read twice)' },
      );
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const example = displayName(join(REPO_ROOT, 'localrc.example'));
      throw new ConfigError({
        origin: shown,
        message: `config file not found (looked for ${abs})`,
        hint: `start from the example: cp ${example} ${shown}`,
      });
    }
    throw new ConfigError({ origin: shown, message: `cannot read the config file: ${code ?? (e as Error).message}`, hint: code === 'EACCES' ? `you (uid ${process.getuid?.()}) may not read it: check its permissions and those of the directories above it` : 'check the path and its permissions' });
  }
}

function freezeSet<T>(items: readonly T[]): ReadonlySet<T> {
  const set = new Set(items);
  const refuse = () => {
    throw new TypeError('Config.services is read-only');
  };
  Object.defineProperties(set, { add: { value: refuse }, delete: { value: refuse }, clear: { value: refuse } });
  return Object.freeze(set);
}

/** Services that cannot work without another that is disabled: refused before anything changes. */
const NEEDS: readonly { service: ServiceName; what: string; neededBy: readonly ServiceName[] }[] = [
  { service: 'key', what: 'Keystone', neededBy: ['g-api', 'placement-api', 'q-svc', 'n-api', 'n-cond', 'n-sch', 'n-cpu'] },
];

function missingNeeds(parsed: ParsedConfig): ConfigIssue[] {
  const on = new Set(parsed.services);
  return NEEDS.filter((n) => !on.has(n.service) && n.neededBy.some((s) => on.has(s))).map((n) => {
    const users = n.neededBy.filter((s) => on.has(s));
    return {
      origin: parsed.file,
      message: `${n.service} (${n.what}) is disabled, but ${users.join(', ')} ${users.length === 1 ? 'needs' : 'need'} it: the cloud would not work`,
      hint: `enable_service ${n.service}, or disable_service ${users.join(' ')} too`,
    };
  });
}

/** Settings a hosts file takes the place of: its hosts say what runs where, and every address comes from them. */
const REPLACED_BY_HOSTS_FILE = ['TARGET_HOST', 'SERVICE_HOST', 'DATABASE_HOST', 'RABBIT_HOST'] as const satisfies readonly SettingName[];

/** One warning naming each of those settings the user set beside HOSTS_FILE (they would be silently ignored). */
function hostsFileOverrides(parsed: ParsedConfig, hostsFileOrigin: string): ConfigWarning[] {
  const set = REPLACED_BY_HOSTS_FILE.flatMap((n) => {
    const source = userSource(parsed.settings.get(n));
    // Every one is in the file HOSTS_FILE is in (the warning's origin): its line is enough.
    return source ? [`${n} (line ${source.origin.slice(source.origin.lastIndexOf(':') + 1)})`] : [];
  });
  if (set.length === 0) return [];
  return [
    {
      origin: hostsFileOrigin,
      message: `HOSTS_FILE is set, so ${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} not used: the hosts file says which host runs what, and every address comes from its hosts; remove ${set.length === 1 ? 'that line' : 'those lines'} or HOSTS_FILE`,
    },
  ];
}

/** Reads, validates and completes a config file. Throws ConfigError listing every problem found. */
export async function loadConfig(file: string, opts: LoadOptions): Promise<{ config: Config; warnings: ConfigWarning[] }> {
  const env = opts.env ?? process.env;
  const abs = resolve(file);
  const configDir = dirname(abs);
  const shown = displayName(abs);
  const parsed = parseConfigText(await readConfigFile(abs, shown), shown, env);
  const warnings: ConfigWarning[] = [...parsed.warnings];
  const fromConfigDir = (p: string) => (p === '' || isAbsolute(p) ? p : resolve(configDir, p));

  const unworkable = missingNeeds(parsed);
  if (unworkable.length > 0) throw new ConfigError(unworkable);

  // What the detector needs to reach the host, from the user's settings and the defaults alone.
  const raw = new Resolver(parsed, new Map(), '', {});
  // Checked before any host is reached: a secrets file that is the config would be written over.
  const earlySecretsFile = fromConfigDir(raw.get('SECRETS_FILE')) || join(configDir, '.stack-secrets');
  if (sameFile(earlySecretsFile, abs)) {
    throw new ConfigError({
      origin: raw.sources.get('SECRETS_FILE')!.origin,
      message: `SECRETS_FILE names the config file itself (${shown}); stack.ts would write the passwords over your settings`,
      hint: 'remove the line to keep them in .stack-secrets beside the config, or name a file of its own',
    });
  }
  const timeout = Number(raw.get('SSH_CONNECT_TIMEOUT'));
  const commandTimeout = Number(raw.get('COMMAND_TIMEOUT'));
  const detected = opts.detect
    ? await opts.detect({
        TARGET_HOST: raw.get('TARGET_HOST'),
        SSH_KEY: fromConfigDir(raw.get('SSH_KEY')),
        HOSTS_FILE: fromConfigDir(raw.get('HOSTS_FILE')),
        SSH_CONNECT_TIMEOUT: Number.isInteger(timeout) && timeout > 0 ? timeout : Number(SCHEMA.SSH_CONNECT_TIMEOUT.default),
        COMMAND_TIMEOUT: Number.isInteger(commandTimeout) && commandTimeout >= 10 ? commandTimeout : Number(SCHEMA.COMMAND_TIMEOUT.default),
        SSH_KNOWN_HOSTS: fromConfigDir(raw.get('SSH_KNOWN_HOSTS')),
        SSH_ACCEPT_NEW_HOST_KEYS: parseBool(raw.get('SSH_ACCEPT_NEW_HOST_KEYS')) ?? false,
      })
    : {};
  const usable: Partial<Record<SettingName, string>> = {};
  for (const [name, value] of Object.entries(detected)) {
    if (Object.hasOwn(SCHEMA, name) && typeof value === 'string') usable[name as SettingName] = value;
  }

  const beforeSecrets = new Resolver(parsed, new Map(), '', usable);
  const secretsFile = fromConfigDir(beforeSecrets.get('SECRETS_FILE')) || join(configDir, '.stack-secrets');
  const setByUser = new Set(SETTING_NAMES.filter((n) => userSource(parsed.settings.get(n)) !== undefined));
  const secrets = await resolveSecrets({
    file: secretsFile,
    setByUser,
    interactive: opts.interactive,
    prompt: opts.prompt ?? (opts.interactive ? ttyPrompt() : undefined),
    readOnly: opts.readOnly ?? false,
  });
  warnings.push(...secrets.warnings);

  const final = new Resolver(parsed, secrets.values, displayName(secretsFile), usable);
  const values = {} as Record<SettingName, string>;
  for (const name of SETTING_NAMES) values[name] = final.get(name);
  values.ENABLED_SERVICES = parsed.services.join(',');
  values.SECRETS_FILE = secretsFile;
  values.RUN_LOG_DIR = fromConfigDir(values.RUN_LOG_DIR);
  values.SSH_KEY = fromConfigDir(values.SSH_KEY);
  values.SSH_KNOWN_HOSTS = fromConfigDir(values.SSH_KNOWN_HOSTS);
  values.HOSTS_FILE = fromConfigDir(values.HOSTS_FILE);
  if (values.IMAGE_CACHE_DIR !== '' && !isAbsolute(values.IMAGE_CACHE_DIR)) values.IMAGE_CACHE_DIR = resolve(REPO_ROOT, values.IMAGE_CACHE_DIR);

  // Literal values from the file were checked while parsing; check what expansion produced.
  const issues: ConfigIssue[] = [];
  for (const name of SETTING_NAMES) {
    const source = final.sources.get(name)!;
    if (source.kind === 'user' && isLiteral(source.parts)) continue;
    if (SCHEMA[name].type === 'secret') {
      if (values[name] === '') issues.push({ origin: source.origin, message: `${name} is empty`, hint: `set ${name}, or remove its line to have one generated` });
      // From the secrets file or an expansion: the same rules as a password written in the localrc.
      else {
        const problem = checkValue(name, values[name]);
        if (problem) issues.push({ origin: source.origin, ...problem });
      }
      continue;
    }
    const problem = checkValue(name, values[name]);
    // TARGET_HOST=${ADMIN_PASSWORD}x is wrong, and its message must not show the password.
    if (problem) issues.push({ origin: source.origin, ...hideSecrets(problem, SECRET_NAMES.map((n) => values[n]).filter((v) => v !== '')) });
  }
  if (issues.length === 0) issues.push(...networkIssues((n) => values[n], (n) => final.sources.get(n)!.origin));
  if (issues.length === 0 && values.HOST_IP !== '' && final.sources.get('HOST_IP')!.kind !== 'detected' && opts.hostAddresses) {
    const own = await opts.hostAddresses();
    if (own.length > 0 && !own.includes(values.HOST_IP)) {
      issues.push({
        origin: final.sources.get('HOST_IP')!.origin,
        message: `HOST_IP=${values.HOST_IP} is not an address of the target host (it has ${own.join(', ')})`,
        hint: 'services bind to HOST_IP: use one of those addresses, or remove the line to have it detected',
      });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  if (values.HOSTS_FILE !== '') warnings.push(...hostsFileOverrides(parsed, final.sources.get('HOSTS_FILE')!.origin));

  const settings = {} as Record<SettingName, unknown>;
  for (const name of SETTING_NAMES) settings[name] = toTyped(name, values[name]);
  const services = KNOWN_SERVICES.filter((s) => parsed.services.includes(s)) as ServiceName[];
  const config: Config = Object.freeze({
    file: abs,
    settings: Object.freeze(settings) as unknown as Settings,
    services: freezeSet(services),
    postConfig: Object.freeze([...parsed.postConfig]),
    secretsFile,
    ...(opts.readOnly && secrets.created.length > 0 ? { inventedSecrets: Object.freeze([...secrets.created]) } : {}),
  });
  return { config, warnings };
}

/** Every password in a config, for Logger.addSecret. */
export const secretValues = (config: Config): string[] =>
  SETTING_NAMES.filter((n) => SCHEMA[n].type === 'secret').map((n) => String(config.settings[n])).filter((v) => v !== '');

export type { Env };
