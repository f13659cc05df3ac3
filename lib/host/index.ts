// Opens the Host a target string names: "local", or [user@]host[:port] reached over SSH.
// Output conventions of every Host: run()'s stdout/stderr lose ONE trailing newline (like
// execa and $(...)); readFile returns the exact bytes. A run killed at its timeout has exit
// code 124 and `timedOut: true` (see wasTimedOut()).

import type { Logger } from '../log-types.ts';
import { StackError } from '../errors.ts';
import { LocalHost } from './local.ts';
import { SshHost } from './ssh.ts';
import type { Host } from './types.ts';
import type { KnownHostsPolicy } from './known-hosts.ts';

export { LocalHost, type LocalHostOptions } from './local.ts';
export { SshHost, type SshHostOptions } from './ssh.ts';
export { detectFacts, parseFacts } from './detect.ts';
export { wasTimedOut, TIMEOUT_EXIT_CODE, type HostRunResult } from './errors.ts';
export * from './types.ts';

export interface OpenHostOptions {
  /** Private key path (SSH_KEY); without it ssh-agent or ~/.ssh/id_* is used. */
  readonly sshKey?: string | undefined;
  readonly connectTimeoutS: number;
  readonly log: Logger;
  readonly commandTimeoutMs: number;
  /** Host key checking (SSH_KNOWN_HOSTS, SSH_ACCEPT_NEW_HOST_KEYS); default: $SSH_KNOWN_HOSTS or ~/.ssh/known_hosts, strict. */
  readonly knownHosts?: KnownHostsPolicy;
  /** How the host is named in output and task ids (a hosts file's name:); default from the target. */
  readonly name?: string;
}

export interface SshTarget {
  readonly user: string;
  readonly host: string;
  readonly port: number;
}

/** Parses [user@]host[:port]; an IPv6 address is written [addr] or [addr]:port (a bare one is accepted without a port). */
export function parseTarget(target: string): SshTarget {
  const bad = (why: string): StackError =>
    new StackError(
      `TARGET_HOST=${JSON.stringify(target)} is not a host: ${why}`,
      'write "local", or [user@]host[:port], e.g. root@10.0.0.5 or 10.0.0.5:2222 or [fd00::5]:22',
    );
  const t = target.trim();
  if (t === '') throw bad('it is empty');
  const at = t.lastIndexOf('@');
  const user = at >= 0 ? t.slice(0, at) : 'root';
  const rest = at >= 0 ? t.slice(at + 1) : t;
  if (user === '') throw bad('the user before @ is empty');
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.%\w]+)\](?::(.*))?$/.exec(rest);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else if ((rest.match(/:/g) ?? []).length > 1) {
    host = rest; // bare IPv6 address, no port
  } else {
    const colon = rest.indexOf(':');
    host = colon >= 0 ? rest.slice(0, colon) : rest;
    portText = colon >= 0 ? rest.slice(colon + 1) : undefined;
  }
  if (host === '') throw bad('the host name is empty');
  if (/[\s/]/.test(host)) throw bad(`"${host}" cannot be a host name`);
  let port = 22;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw bad(`"${portText}" is not a port number (1-65535)`);
    }
    port = Number(portText);
  }
  return { user, host, port };
}

export function openHost(target: string, opts: OpenHostOptions): Host {
  if (target.trim() === 'local') {
    return new LocalHost({ log: opts.log, commandTimeoutMs: opts.commandTimeoutMs, ...(opts.name ? { name: opts.name } : {}) });
  }
  const t = parseTarget(target);
  return new SshHost({
    host: t.host,
    port: t.port,
    username: t.user,
    ...(opts.sshKey ? { privateKey: opts.sshKey } : {}),
    connectTimeoutMs: opts.connectTimeoutS * 1000,
    log: opts.log,
    commandTimeoutMs: opts.commandTimeoutMs,
    name: opts.name ?? (t.port === 22 ? t.host : `${t.host}:${t.port}`),
    ...(opts.knownHosts ? { knownHosts: opts.knownHosts } : {}),
  });
}
