// SSH host keys checked the way OpenSSH checks them, against a known_hosts file: a key listed for
// the host is accepted, a host listed with other keys only is refused (changed key), a host not
// listed is refused unless accept-new is on, which records the key (OpenSSH's
// StrictHostKeyChecking=accept-new). Plain and hashed (|1|salt|hash) host fields, patterns with
// * ? and !negation, [host]:port for ports other than 22, and @revoked are understood.

import { createHash, createHmac } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface KnownHostsPolicy {
  /** The known_hosts file; default $SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts. */
  readonly file?: string;
  /** Record an unknown host's key on first use instead of refusing it. A changed key is refused anyway. */
  readonly acceptNew?: boolean;
  /** With acceptNew: trust the new key for this run only, without writing it (plan and status change nothing). */
  readonly recordNothing?: boolean;
}

export type HostKeyVerdict =
  | { readonly kind: 'known' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'changed'; readonly line: number }
  | { readonly kind: 'revoked'; readonly line: number };

export const defaultKnownHostsFile = (): string => process.env.SSH_KNOWN_HOSTS || path.join(os.homedir(), '.ssh', 'known_hosts');

/** The name a host has in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export const knownHostsName = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`);

/** The key type named inside an SSH public key blob (its first string), e.g. ssh-ed25519. */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return n > 0 && n < 64 && blob.length >= 4 + n ? blob.subarray(4, 4 + n).toString('latin1') : 'unknown';
}

/** OpenSSH's fingerprint: SHA256:<base64 of the blob's sha256, without padding>. */
export const fingerprint = (blob: Buffer): string => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

/** The line that makes a host's key known. */
export const knownHostsLine = (host: string, port: number, blob: Buffer): string =>
  `${knownHostsName(host, port)} ${keyType(blob)} ${blob.toString('base64')}`;

const globToRegExp = (pattern: string): RegExp =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');

/** Whether a known_hosts host field (comma list of patterns, or one hashed name) names `name`. */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const p of field.split(',')) {
    const negated = p.startsWith('!');
    const pattern = negated ? p.slice(1) : p;
    if (!globToRegExp(pattern).test(name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** What known_hosts text says about `blob` presented by host:port. */
export function checkHostKey(text: string, host: string, port: number, blob: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const b64 = blob.toString('base64');
  let otherKeyLine = 0;
  let known = false;
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]!.startsWith('@') ? fields.shift()! : undefined;
    const [hosts, , key] = fields;
    if (!hosts || !key || !hostFieldMatches(hosts, name)) continue;
    if (marker === '@cert-authority') continue;
    if (marker === '@revoked') {
      if (key === b64) return { kind: 'revoked', line: i + 1 };
      continue;
    }
    if (key === b64) known = true;
    else otherKeyLine ||= i + 1;
  }
  if (known) return { kind: 'known' };
  return otherKeyLine ? { kind: 'changed', line: otherKeyLine } : { kind: 'unknown' };
}

export async function readKnownHosts(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** Appends one line (creating ~/.ssh 0700 and the file 0600); never follows a symlink at the file. */
export async function recordHostKey(file: string, line: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const fh = await fs.open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    const { size } = await fh.stat();
    let sep = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      const rfh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      await rfh.read(last, 0, 1, size - 1).finally(() => rfh.close());
      if (last.toString() !== '\n') sep = '\n';
    }
    await fh.write(`${sep}${line}\n`);
  } finally {
    await fh.close();
  }
}
