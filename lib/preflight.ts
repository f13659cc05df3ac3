// Checks run on every host before anything is changed. Each check reads the host and returns
// problems (never throws for a finding), so the runner can report every problem of every host
// in one screen instead of stopping at the first (seed 004: nobody checked the limits first).

import { API_SERVICES } from './api-services.ts';
import type { Host, HostFacts } from './host/types.ts';
import { quote } from './shell.ts';

export type Severity = 'error' | 'warning';

export interface Problem {
  readonly host: string;
  readonly severity: Severity;
  /** Short id of the check: "distro", "root", "memory", "disk", "hostname", "port", "pkg-lock". */
  readonly check: string;
  /** What is wrong, with the numbers. */
  readonly message: string;
  /** What to do about it. */
  readonly hint: string;
}

export interface PortSpec {
  readonly port: number;
  /** devstack service name shown to the user, e.g. "mysql". */
  readonly service: string;
  /** Process names (ss's, i.e. /proc/PID/comm) of the daemon stack.ts runs on this port: a re-run must pass. */
  readonly owners?: readonly string[];
}

export interface PreflightOptions {
  readonly ports?: readonly PortSpec[];
  /** Below this MemAvailable the run stops. Default 2048. */
  readonly minMemMb?: number;
  /** Below this (but above minMemMb) a warning. Default 4096. */
  readonly warnMemMb?: number;
  /** Free space needed on each filesystem of `paths`. Default 4096. */
  readonly minDiskMb?: number;
  /** Paths whose filesystems need minDiskMb free. Default ['/var', '/']. */
  readonly paths?: readonly string[];
  /** Seconds the host's own name may take to resolve. Default 5. */
  readonly resolveTimeoutS?: number;
}

/** Distro releases stack.ts has been run on; others get a warning, not a refusal. */
export const TESTED_DISTROS: readonly { id: string; version: string; note: string }[] = [
  { id: 'debian', version: '12', note: 'Debian 12 (bookworm, OpenStack 2022.2 Zed)' },
  { id: 'debian', version: '13', note: 'Debian 13 (trixie, OpenStack 2025.1 Epoxy)' },
];

export async function runPreflight(host: Host, facts: HostFacts, opts: PreflightOptions = {}): Promise<Problem[]> {
  const checks = [
    Promise.resolve(checkDistro(host.name, facts)),
    checkRoot(host),
    checkMemory(host, opts.minMemMb ?? 2048, opts.warnMemMb ?? 4096),
    checkDisk(host, opts.paths ?? ['/var', '/'], opts.minDiskMb ?? 4096),
    checkHostnameResolves(host, opts.resolveTimeoutS ?? 5),
    checkPorts(host, opts.ports ?? []),
    checkPackageLock(host, facts),
    checkBrokenPackages(host, facts),
  ];
  return (await Promise.all(checks)).flat();
}

const problem = (host: string, severity: Severity, check: string, message: string, hint: string): Problem => ({
  host,
  severity,
  check,
  message,
  hint,
});

// --- distro

export function checkDistro(hostName: string, facts: HostFacts): Problem[] {
  if (facts.family !== 'debian' && facts.family !== 'rhel') {
    return [
      problem(hostName, 'error', 'distro', `${hostName} runs ${facts.id} ${facts.version}, which is neither apt- nor dnf-based.`, 'Use Debian 12 (bookworm) or 13 (trixie).'),
    ];
  }
  if (!facts.version) {
    return [
      problem(
        hostName,
        'error',
        'distro',
        `${hostName} runs ${facts.id} without a VERSION_ID in /etc/os-release (testing/unstable?), so the OpenStack release its packages provide is unknown.`,
        'Use a released distribution: Debian 12 (bookworm) or 13 (trixie).',
      ),
    ];
  }
  const tested = TESTED_DISTROS.some((d) => d.id === facts.id && (facts.version === d.version || facts.version.startsWith(`${d.version}.`)));
  if (!tested) {
    return [
      problem(
        hostName,
        'warning',
        'distro',
        `${hostName} runs ${facts.id} ${facts.version}; stack.ts is tested on ${TESTED_DISTROS.map((d) => d.note).join(' and ')}.`,
        'It may work; package names and the OpenStack release can differ. Report what breaks.',
      ),
    ];
  }
  return [];
}

/**
 * One cloud, one distribution release: each release's own archive carries one OpenStack release
 * (Debian 12 Zed, 13 Epoxy), and Zed's nova-compute cannot join an Epoxy controller (the RPC and
 * database versions differ). Returns the problem naming each release's hosts, or undefined.
 */
export function mixedReleases(hosts: readonly { name: string; facts: HostFacts }[]): Pick<Problem, 'message' | 'hint'> | undefined {
  const major = (f: HostFacts) => `${f.id} ${f.version.split('.')[0] || '(no VERSION_ID)'}`;
  const groups = new Map<string, { label: string; names: string[] }>();
  for (const h of hosts) {
    const key = major(h.facts);
    const g = groups.get(key) ?? { label: `${key}${h.facts.codename ? ` (${h.facts.codename})` : ''}`, names: [] };
    g.names.push(h.name);
    groups.set(key, g);
  }
  if (groups.size < 2) return undefined;
  const list = [...groups.values()].map((g) => `${g.label} on ${g.names.join(', ')}`).join('; ');
  return {
    message: `the hosts of this cloud run different releases: ${list}. Each release brings its own OpenStack release, and services of two OpenStack releases cannot form one cloud.`,
    hint: 'install the same release on every host (Debian 12 everywhere or Debian 13 everywhere), or stack the odd hosts as a cloud of their own',
  };
}

// --- root

export async function checkRoot(host: Host): Promise<Problem[]> {
  const r = await host.run('id -u', { check: false, label: 'preflight: user id' });
  if (r.exitCode === 0 && r.stdout.trim() === '0') return [];
  return [
    problem(
      host.name,
      'error',
      'root',
      `stack.ts runs commands on ${host.name} as uid ${r.stdout.trim() || '?'}, not root: installing packages and writing /etc needs root.`,
      host.name === 'local' ? 'Run stack.ts as root (sudo ./stack.ts).' : `Connect to ${host.name} as root (TARGET_HOST=root@ADDRESS).`,
    ),
  ];
}

// --- memory

/** /proc/meminfo fields in kB, e.g. { MemTotal: 24684092, MemAvailable: 24205816 }. */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w[\w()]*):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export async function checkMemory(host: Host, minMb: number, warnMb: number): Promise<Problem[]> {
  const text = await host.readFileIfExists('/proc/meminfo');
  const info = parseMeminfo(text ?? '');
  // MemAvailable exists since Linux 3.14; older kernels only have MemFree (an underestimate, so safe).
  const kb = info.MemAvailable ?? info.MemFree;
  if (kb === undefined) {
    return [problem(host.name, 'warning', 'memory', `Could not read free memory on ${host.name} (/proc/meminfo).`, 'Make sure the host has at least 4 GB of memory.')];
  }
  const mb = Math.floor(kb / 1024);
  if (mb < minMb) {
    return [
      problem(
        host.name,
        'error',
        'memory',
        `${host.name} has ${mb} MB of memory available; the services need at least ${minMb} MB.`,
        'Stop other programs or give the host more memory (4 GB is comfortable for all-in-one).',
      ),
    ];
  }
  if (mb < warnMb) {
    return [
      problem(
        host.name,
        'warning',
        'memory',
        `${host.name} has ${mb} MB of memory available; below ${warnMb} MB things work but are tight.`,
        'Keep API_WORKERS=1; give the host more memory if services get killed.',
      ),
    ];
  }
  return [];
}

// --- disk

export interface DfRow {
  readonly filesystem: string;
  readonly sizeMb: number;
  readonly usedMb: number;
  readonly availMb: number;
  readonly mount: string;
}

/** `df -Pm` output (POSIX format, 1 MiB blocks). The header line is skipped. */
export function parseDf(text: string): DfRow[] {
  const rows: DfRow[] = [];
  for (const line of text.split('\n')) {
    // The mount point is the rest of the line after the capacity: it may contain spaces.
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s+(.+)$/.exec(line.trim());
    if (m) rows.push({ filesystem: m[1]!, sizeMb: Number(m[2]), usedMb: Number(m[3]), availMb: Number(m[4]), mount: m[5]! });
  }
  return rows;
}

export async function checkDisk(host: Host, paths: readonly string[], minMb: number): Promise<Problem[]> {
  // A path that does not exist yet would make df fail for all of them: ask about each one's nearest existing parent.
  const r = await host.run(
    `for p in ${paths.map(quote).join(' ')}; do while [ ! -e "$p" ]; do p=$(dirname "$p"); done; df -Pm "$p" | tail -n +2; done`,
    { check: false, label: 'preflight: df' },
  );
  const rows = parseDf(r.stdout);
  if (rows.length === 0) {
    return [problem(host.name, 'warning', 'disk', `Could not read free disk space on ${host.name}: ${r.stderr.trim() || 'df printed nothing'}.`, `Make sure ${paths.join(' and ')} have ${minMb} MB free.`)];
  }
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const row of rows) {
    if (seen.has(row.mount)) continue;
    seen.add(row.mount);
    if (row.availMb < minMb) {
      problems.push(
        problem(
          host.name,
          'error',
          'disk',
          `${row.mount} on ${host.name} has ${row.availMb} MB free; packages and databases need at least ${minMb} MB.`,
          `Free space on ${row.mount} (apt-get clean, old logs) or grow the filesystem.`,
        ),
      );
    }
  }
  return problems;
}

// --- the host's own name

export async function checkHostnameResolves(host: Host, timeoutS: number): Promise<Problem[]> {
  const r = await host.run(`h=$(hostname) && echo "$h" && timeout ${timeoutS} getent hosts "$h"`, {
    check: false,
    timeoutMs: (timeoutS + 10) * 1000,
    label: 'preflight: resolve own hostname',
  });
  const name = r.stdout.split('\n')[0]?.trim() || '(hostname)';
  const hint = `Add "ADDRESS ${name}" to /etc/hosts on ${host.name} (ADDRESS = the host's own IP, or 127.0.1.1 on a single host).`;
  if (r.exitCode === 124) {
    return [
      problem(
        host.name,
        'error',
        'hostname',
        `Looking up ${host.name}'s own name "${name}" did not finish in ${timeoutS} s: the resolver hangs, which makes package scripts hang too.`,
        `${hint} Or fix /etc/resolv.conf.`,
      ),
    ];
  }
  if (r.exitCode !== 0) {
    return [
      problem(
        host.name,
        'error',
        'hostname',
        `${host.name}'s own name "${name}" does not resolve (getent hosts exit ${r.exitCode}); nova-common's package setup fails without it.`,
        hint,
      ),
    ];
  }
  if (r.durationMs > 2000) {
    return [
      problem(
        host.name,
        'warning',
        'hostname',
        `Resolving ${host.name}'s own name "${name}" took ${(r.durationMs / 1000).toFixed(1)} s; every service start will pay that.`,
        hint,
      ),
    ];
  }
  return [];
}

// --- ports

export interface Listener {
  readonly address: string;
  readonly port: number;
  /** Empty when ss could not see the owner (not root, or another PID namespace). */
  readonly processes: readonly { name: string; pid: number }[];
}

/** `ss -Hltnp` (iproute2): one listening TCP socket per line, no header. */
export function parseSs(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // State Recv-Q Send-Q Local:Port Peer:Port [users:(...)]
    if (fields.length < 5 || !/^\d+$/.test(fields[1] ?? '')) continue;
    const local = fields[3]!;
    const m = /^(.*):(\d+)$/.exec(local);
    if (!m) continue;
    const address = m[1]!.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
    const users = fields.slice(5).join(' ');
    const processes = [...users.matchAll(/\("((?:[^"\\]|\\.)*)",pid=(\d+)/g)].map((u) => ({ name: u[1]!, pid: Number(u[2]) }));
    out.push({ address, port: Number(m[2]), processes });
  }
  return out;
}

/** Process names (as ss shows them) of what stack.ts itself runs on the usual ports, for specs without owners. */
export const DEFAULT_PORT_OWNERS: Readonly<Record<number, readonly string[]>> = {
  3306: ['mariadbd', 'mysqld'],
  5672: ['beam.smp'],
  25672: ['beam.smp'],
  // Debian's erlang on systemd hosts starts epmd by socket activation: systemd holds the socket too.
  4369: ['epmd', 'systemd'],
  11211: ['memcached'],
  ...Object.fromEntries(API_SERVICES.map((a) => [a.port, a.owners])),
};

/** ss cuts a process name at its first ')' (it parses /proc/PID/stat naively): "node (vitest 1)" shows as "node (vitest 1". */
const ownerMatches = (owner: string, ssName: string): boolean => owner === ssName || owner.startsWith(`${ssName})`);

export async function checkPorts(host: Host, ports: readonly PortSpec[]): Promise<Problem[]> {
  if (ports.length === 0) return [];
  const r = await host.run('ss -Hltnp', { check: false, label: 'preflight: listening ports' });
  if (r.exitCode !== 0) {
    return [
      problem(
        host.name,
        'warning',
        'port',
        `Could not list listening ports on ${host.name} (ss: ${r.stderr.trim() || `exit ${r.exitCode}`}).`,
        'Install iproute2 so stack.ts can check that its ports are free.',
      ),
    ];
  }
  const listeners = parseSs(r.stdout);
  const problems: Problem[] = [];
  for (const spec of ports) {
    const holders = listeners.filter((l) => l.port === spec.port);
    if (holders.length === 0) continue;
    const procs = holders.flatMap((h) => h.processes);
    const owners = spec.owners ?? DEFAULT_PORT_OWNERS[spec.port] ?? [];
    const ours = (p: { name: string }): boolean => owners.some((o) => ownerMatches(o, p.name));
    if (procs.length > 0 && procs.every(ours)) continue;
    const foreign = procs.filter((p) => !ours(p));
    const who =
      foreign.length > 0
        ? `by ${[...new Map(foreign.map((p) => [p.pid, `${p.name} (pid ${p.pid})`])).values()].join(', ')}`
        : 'by a process ss cannot name (not root, or in another container)';
    problems.push(
      problem(
        host.name,
        'error',
        'port',
        `Port ${spec.port} on ${host.name} is in use ${who}; ${spec.service} needs it (listening on ${holders.map((h) => h.address).join(', ')}).`,
        foreign.length > 0
          ? `Stop ${foreign[0]!.name} on ${host.name} (or move it to another port), or disable ${spec.service} in localrc.`
          : `Find it with "ss -ltnp 'sport = :${spec.port}'" on ${host.name} as root and stop it, or disable ${spec.service}.`,
      ),
    );
  }
  return problems;
}

// --- package manager lock

/** /proc/locks: "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF" -> {pid, inode}. "->" lines are waiters. */
export function parseProcLocks(text: string): { pid: number; inode: number }[] {
  const out: { pid: number; inode: number }[] = [];
  for (const line of text.split('\n')) {
    if (line.includes('->')) continue;
    const m = /^\d+:\s+\S+\s+\S+\s+\S+\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line.trim() + ' ');
    if (m) out.push({ pid: Number(m[1]), inode: Number(m[2]) });
  }
  return out;
}

const LOCK_FILES: Record<HostFacts['family'], readonly string[]> = {
  debian: ['/var/lib/dpkg/lock-frontend', '/var/lib/dpkg/lock', '/var/lib/apt/lists/lock', '/var/cache/apt/archives/lock'],
  rhel: ['/var/lib/rpm/.rpm.lock'],
};

export async function checkPackageLock(host: Host, facts: HostFacts, files: readonly string[] = LOCK_FILES[facts.family] ?? []): Promise<Problem[]> {
  // apt and rpm take fcntl locks: flock(1) cannot see them, and fuser is not on a minimal host.
  // /proc/locks names the holder's pid and the locked inode, which is all we need.
  if (files.length === 0) return [];
  const script =
    `for f in ${files.map(quote).join(' ')}; do [ -e "$f" ] && echo "lockfile $(stat -c %i "$f") $f"; done; ` +
    'echo ---; cat /proc/locks 2>/dev/null; true';
  const r = await host.run(script, { check: false, label: 'preflight: package manager lock' });
  const [fileText = '', locksText = ''] = r.stdout.split(/^---$/m);
  const inodes = new Map<number, string>();
  for (const line of fileText.split('\n')) {
    const m = /^lockfile (\d+) (.+)$/.exec(line.trim());
    if (m) inodes.set(Number(m[1]), m[2]!);
  }
  const held = parseProcLocks(locksText).filter((l) => inodes.has(l.inode));
  if (held.length === 0) return [];
  const first = held[0]!;
  const comm = await host.run(`cat /proc/${first.pid}/comm`, { check: false, label: 'preflight: lock holder' });
  const who = `${comm.stdout.trim() || 'a process'} (pid ${first.pid})`;
  return [
    problem(
      host.name,
      'error',
      'pkg-lock',
      `The package manager on ${host.name} is busy: ${who} holds ${inodes.get(first.inode)}.`,
      `Wait for ${who} to finish (an unattended upgrade?), then run stack.ts again.`,
    ),
  ];
}

// --- half-installed packages

/** dpkg --audit lists packages left half-installed or half-configured (a killed apt): every later install fails on them. */
export async function checkBrokenPackages(host: Host, facts: HostFacts): Promise<Problem[]> {
  if (facts.family !== 'debian') return [];
  const r = await host.run('dpkg --audit 2>&1', { check: false, label: 'preflight: dpkg --audit' });
  const out = r.stdout.trim();
  if (r.exitCode === 0 && out === '') return [];
  return [
    problem(
      host.name,
      'error',
      'pkg-broken',
      `dpkg on ${host.name} has unfinished packages:\n      ${out.split('\n').slice(0, 8).join('\n      ')}`,
      `Finish them on ${host.name} with "dpkg --configure -a" (then "apt-get -f install"), and run stack.ts again.`,
    ),
  ];
}

/** One screen: errors first, each with host, what and what to do. */
export function formatProblems(problems: readonly Problem[]): string {
  const sorted = [...problems].sort((a, b) => (a.severity === b.severity ? a.host.localeCompare(b.host) : a.severity === 'error' ? -1 : 1));
  return sorted.map((p) => `${p.severity === 'error' ? 'ERROR' : 'warning'} [${p.host}] ${p.message}\n    -> ${p.hint}`).join('\n');
}
