// Passwords: taken from the config file, else from the secrets file, else asked once on a TTY
// (blank = generate), else generated. Asked and generated ones are written to the secrets file
// (0600) so the next run reuses them. Values never appear in messages.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SCHEMA, SECRET_NAMES, type SettingName } from './schema.ts';
import { kindOf } from '../plain-file.ts';
import { ConfigError, decodeUtf8 } from './errors.ts';
import { parseAssignments } from './parse.ts';
import { writePrivateFile } from '../private-file.ts';
import type { ConfigWarning } from './types.ts';

export type PromptFn = (name: string, doc: string) => Promise<string>;

/** 24 characters of a URL-safe alphabet (A-Z a-z 0-9 - _), 144 bits from the system CSPRNG. */
export function generateSecret(): string {
  for (;;) {
    const s = randomBytes(18).toString('base64url');
    // A leading '-' would read as an option on command lines such as keystone-manage bootstrap.
    if (!s.startsWith('-')) return s;
  }
}

/** Secrets with an empty default are asked or generated; the others (${SERVICE_PASSWORD}) inherit. */
export const OWN_SECRETS: readonly SettingName[] = SECRET_NAMES.filter((n) => SCHEMA[n].default === '');

/** Single-quoted for sh: every character survives, a ' is written as '\''. */
export const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

const HEADER = [
  '# Passwords stack.ts asked for or generated. Keep this file private (mode 0600).',
  '# Each line is NAME=\'value\' in sh quoting; a value set in localrc takes precedence.',
];

export function formatSecretsFile(values: ReadonlyMap<string, string>): string {
  const names = [...values.keys()].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  return [...HEADER, ...names.map((n) => `${n}=${shellQuote(values.get(n)!)}`), ''].join('\n');
}

const order = (name: string): number => {
  const i = (SECRET_NAMES as readonly string[]).indexOf(name);
  return i < 0 ? SECRET_NAMES.length : i;
};

export interface SecretsFileContent {
  readonly values: Map<string, string>;
  readonly warnings: ConfigWarning[];
}

/** Reads the secrets file if it exists; fixes (or, read-only, reports) a mode readable by others. */
export async function readSecretsFile(file: string, readOnly: boolean): Promise<SecretsFileContent> {
  const warnings: ConfigWarning[] = [];
  let text: string;
  let mode: number;
  try {
    // O_NOFOLLOW: a symlink planted where the secrets file goes is not followed.
    // O_NONBLOCK: a fifo there must not hang the run (fstat below refuses it).
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        throw new ConfigError({
          origin: file,
          message: `the secrets file is ${kindOf(st)}, not a file`,
          hint: `remove it to have the passwords kept there again, or set SECRETS_FILE to the path of a file`,
        });
      }
      const me = process.getuid?.();
      if (me !== undefined && st.uid !== me) {
        throw new ConfigError({
          origin: file,
          message: `the secrets file is owned by uid ${st.uid}, not by you (uid ${me}): its passwords cannot be trusted`,
          hint: `if it is yours, run: chown ${me} ${file}; otherwise remove it, or set SECRETS_FILE to another path`,
        });
      }
      mode = st.mode & 0o777;
      text = decodeUtf8(await fh.readFile(), file);
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { values: new Map(), warnings };
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new ConfigError({ origin: file, message: 'the secrets file is a symbolic link; stack.ts does not follow one there', hint: 'replace the link by the file itself, or set SECRETS_FILE to the real path' });
    }
    throw new ConfigError({
      origin: file,
      message: `cannot read the secrets file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      hint: (e as NodeJS.ErrnoException).code === 'EACCES' ? `you (uid ${process.getuid?.()}) may not read it: fix its permissions (chmod 600, owned by you), or set SECRETS_FILE to another path` : 'set SECRETS_FILE to the path of a file of yours',
    });
  }
  if (mode & 0o077) {
    const octal = mode.toString(8).padStart(4, '0');
    if (readOnly) {
      warnings.push({ origin: file, message: `the secrets file is readable by other users (mode ${octal}); run: chmod 600 ${file}` });
    } else {
      await chmod(file, 0o600);
      warnings.push({ origin: file, message: `the secrets file was readable by other users (mode ${octal}); changed it to 0600` });
    }
  }
  const values = new Map<string, string>();
  for (const [name, { value, origin }] of parseAssignments(text, file)) {
    if ((SECRET_NAMES as readonly string[]).includes(name)) values.set(name, value);
    else warnings.push({ origin, message: `${name} is not a password setting; ignored in the secrets file` });
  }
  return { values, warnings };
}

/** Writes the whole file through a 0600 temporary file and a rename, so it is never briefly readable. */
export async function writeSecretsFile(file: string, values: ReadonlyMap<string, string>): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writePrivateFile(file, formatSecretsFile(values));
  } catch (e) {
    throw new ConfigError({
      origin: file,
      message: `cannot write the secrets file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      hint: 'set SECRETS_FILE to a path you can write, or fix the directory\'s permissions',
    });
  }
}

export interface ResolveSecretsOptions {
  /** Absolute path of the secrets file. */
  readonly file: string;
  /** Secrets the config file already sets: never asked, never stored. */
  readonly setByUser: ReadonlySet<string>;
  /** Ask on the terminal (only when not readOnly). */
  readonly interactive: boolean;
  readonly prompt?: PromptFn;
  /** Never write the file; generate in memory. */
  readonly readOnly?: boolean;
}

export interface ResolvedSecrets {
  /** Values for every secret the config file does not set and that has a value of its own. */
  readonly values: ReadonlyMap<string, string>;
  readonly warnings: readonly ConfigWarning[];
  /** Names that were asked or generated in this run (and stored, unless readOnly). */
  readonly created: readonly string[];
}

export async function resolveSecrets(opts: ResolveSecretsOptions): Promise<ResolvedSecrets> {
  const readOnly = opts.readOnly ?? false;
  const { values: stored, warnings } = await readSecretsFile(opts.file, readOnly);
  const values = new Map<string, string>();
  for (const [name, value] of stored) if (!opts.setByUser.has(name) && value !== '') values.set(name, value);

  const created: string[] = [];
  for (const name of OWN_SECRETS) {
    if (opts.setByUser.has(name) || values.has(name)) continue;
    let value = '';
    if (opts.interactive && !readOnly && opts.prompt && !SCHEMA[name].generated) value = await opts.prompt(name, SCHEMA[name].doc);
    values.set(name, value === '' ? generateSecret() : value);
    created.push(name);
  }

  if (created.length > 0 && !readOnly) {
    const toStore = new Map(stored);
    for (const name of created) toStore.set(name, values.get(name)!);
    await writeSecretsFile(opts.file, toStore);
  }
  return { values, warnings, created };
}
