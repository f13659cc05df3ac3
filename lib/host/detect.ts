// Which distro family and init system a host has, read in one command so detection costs one
// round trip over SSH. The parser is pure so every supported os-release can be unit-tested.

import { printableLine } from '../printable.ts';
import { StackError } from '../errors.ts';
import type { DistroFamily, Host, HostFacts, InitSystem } from './types.ts';

const MARK = '@@stackts:';

/** One POSIX sh script: os-release, PID 1's name, arch and hostname, each after a marker line. */
export const FACTS_SCRIPT = [
  `echo '${MARK}os-release'`,
  'cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null',
  `echo '${MARK}pid1'`,
  'cat /proc/1/comm 2>/dev/null',
  `echo '${MARK}arch'`,
  'uname -m',
  `echo '${MARK}hostname'`,
  'uname -n',
  'true',
].join('\n');

const DEBIAN_LIKE = ['debian', 'ubuntu'];
const RHEL_LIKE = ['rhel', 'fedora', 'centos', 'rocky', 'almalinux'];

/** Splits the script's output into its marked sections. */
function sections(output: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  let lines: string[] = [];
  for (const line of output.split('\n')) {
    if (line.startsWith(MARK)) {
      if (current !== undefined) out.set(current, lines.join('\n'));
      current = line.slice(MARK.length).trim();
      lines = [];
    } else if (current !== undefined) {
      lines.push(line);
    }
  }
  if (current !== undefined) out.set(current, lines.join('\n'));
  return out;
}

/** os-release is shell-style KEY=value; values may be "double" or 'single' quoted with \ escapes. */
export function parseOsRelease(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      value = value.slice(1, -1).replace(/\\([$"`\\])/g, '$1');
    } else if (value.startsWith("'") && value.endsWith("'") && value.length >= 2) {
      value = value.slice(1, -1);
    }
    // A host's os-release is shown in messages and plan's header: no raw terminal escapes.
    vars.set(m[1]!, printableLine(value));
  }
  return vars;
}

function familyOf(id: string, idLike: string): DistroFamily | undefined {
  const words = [id, ...idLike.split(/\s+/)].map((w) => w.toLowerCase()).filter(Boolean);
  if (words.some((w) => DEBIAN_LIKE.includes(w))) return 'debian';
  if (words.some((w) => RHEL_LIKE.includes(w))) return 'rhel';
  return undefined;
}

/** Turns FACTS_SCRIPT's output into HostFacts; throws StackError for a distro stack.ts cannot install on. */
export function parseFacts(output: string, hostName = 'the host'): HostFacts {
  const parts = sections(output.replace(/\r\n/g, '\n'));
  const osRelease = parts.get('os-release') ?? '';
  const os = parseOsRelease(osRelease);
  const id = os.get('ID') ?? '';
  if (id === '') {
    throw new StackError(
      `cannot tell which Linux distribution ${hostName} runs: /etc/os-release is missing or has no ID`,
      'stack.ts supports Debian/Ubuntu and RHEL-family hosts (Rocky, AlmaLinux, CentOS Stream, Fedora), which all ship /etc/os-release',
    );
  }
  const family = familyOf(id, os.get('ID_LIKE') ?? '');
  if (!family) {
    const pretty = os.get('PRETTY_NAME') ?? `${id} ${os.get('VERSION_ID') ?? ''}`.trim();
    throw new StackError(
      `${hostName} runs ${pretty} (ID=${id}), which stack.ts does not support`,
      'use a Debian/Ubuntu host (apt) or a RHEL-family host (dnf: Rocky, AlmaLinux, CentOS Stream, Fedora)',
    );
  }
  const pid1 = (parts.get('pid1') ?? '').trim();
  const init: InitSystem = pid1 === 'systemd' ? 'systemd' : 'sysv';
  return {
    family,
    id,
    version: os.get('VERSION_ID') ?? '',
    codename: os.get('VERSION_CODENAME') || os.get('UBUNTU_CODENAME') || '',
    init,
    arch: (parts.get('arch') ?? '').trim(),
    hostname: (parts.get('hostname') ?? '').trim(),
  };
}

/** Reads the host's facts with a single command. */
export async function detectFacts(host: Host): Promise<HostFacts> {
  const result = await host.run(FACTS_SCRIPT, { label: 'detect distro, init system, arch, hostname' });
  return parseFacts(result.stdout, host.name);
}

/** facts() for a Host: detected once and kept; a failed detection is tried again next time. */
export function cachedFacts(detect: () => Promise<HostFacts>): () => Promise<HostFacts> {
  let pending: Promise<HostFacts> | undefined;
  return () =>
    (pending ??= detect().catch((err: unknown) => {
      pending = undefined;
      throw err;
    }));
}
