// Distro packages: the per-service lists in files/{debs,rpms}/, and one install transaction per
// host through apt-get or dnf/yum. The command lines are built by pure functions so `plan` can
// show them and unit tests can pin them; installPackages() only adds the host-side decisions
// (what is missing, whether apt's lists are stale, the temporary policy-rc.d).

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { watchAptStatus, withStatusFd } from './apt-progress.ts';
import { uninterruptible } from './interrupt.ts';
import { StackError } from './errors.ts';
import { quote, sh } from './shell.ts';
import type { Host, HostFacts, RunResult } from './host/types.ts';
import type { DistroFamily } from './host/types.ts';

/** The repository's files/ directory (package lists live in files/debs and files/rpms). */
export const DEFAULT_FILES_DIR = fileURLToPath(new URL('../files/', import.meta.url));

const listDir = (family: DistroFamily): string => (family === 'debian' ? 'debs' : 'rpms');

/** Names of the lists that exist for a family (every file in files/debs or files/rpms). */
export async function packageListNames(family: DistroFamily, filesDir = DEFAULT_FILES_DIR): Promise<string[]> {
  return (await fs.readdir(path.join(filesDir, listDir(family)))).filter((n) => !n.startsWith('.')).sort();
}

/** Parses a package list: one name per line, `#` starts a comment, blank lines ignored. */
export function parsePackageList(text: string, origin: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    for (const name of line.split(/\s+/)) {
      // Names go into a shell command line: refuse anything that is not a package name.
      if (!/^[A-Za-z0-9][A-Za-z0-9+._:-]*$/.test(name)) {
        throw new StackError(`${origin}:${i + 1}: "${name}" is not a package name`, 'Fix the package list file.');
      }
      if (!out.includes(name)) out.push(name);
    }
  });
  return out;
}

/** Reads files/debs/<listName> (debian family) or files/rpms/<listName> (rhel family). */
export async function readPackageList(listName: string, family: DistroFamily, filesDir = DEFAULT_FILES_DIR): Promise<string[]> {
  const file = path.join(filesDir, listDir(family), listName);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StackError(
        `no package list for "${listName}" on ${family} hosts: ${file} does not exist`,
        `Create ${file} with one package name per line.`,
      );
    }
    throw err;
  }
  return parsePackageList(text, file);
}

export interface InstallOptions {
  /** Install Recommends / weak dependencies (Debian: ~285 more packages, 530 MB for this set). */
  readonly recommends: boolean;
  /** dpkg without fsync (--force-unsafe-io): faster, fine for a throwaway host. apt only. */
  readonly unsafeIo: boolean;
  /** Do not refresh package lists / metadata (apt-get update, dnf metadata). */
  readonly offline: boolean;
  /** Called every few seconds during the apt transaction with apt's own progress. */
  readonly onProgress?: (line: string) => void;
  /** Called when apt's status moved on (a package further), not merely time passing. */
  readonly onAdvance?: () => void;
}

type PackageTool = 'apt' | 'dnf' | 'yum';

/** apt on the debian family; yum on the RHEL/CentOS 7 family (and older), dnf from 8 on. */
export function packageTool(facts: Pick<HostFacts, 'family' | 'version'>): PackageTool {
  if (facts.family === 'debian') return 'apt';
  const major = Number.parseInt(facts.version, 10);
  return Number.isFinite(major) && major < 8 ? 'yum' : 'dnf';
}

/** Seconds apt waits for another apt/dpkg (unattended-upgrades, a user's apt) to let go of the lock. */
export const DPKG_LOCK_TIMEOUT_S = 120;

const APT_ENV = 'DEBIAN_FRONTEND=noninteractive';
const APT_BASE = [
  'apt-get', '-y', '-q',
  '-o', `DPkg::Lock::Timeout=${DPKG_LOCK_TIMEOUT_S}`,
  // Keep a config file the user changed; take the packaged one where they did not.
  '-o', 'Dpkg::Options::=--force-confdef',
  '-o', 'Dpkg::Options::=--force-confold',
];

export const aptUpdateCommand = (): string => `${APT_ENV} ${sh(...APT_BASE, 'update')}`;

/** The exact install transaction, one shell line (pure: shown by `plan`, pinned by tests). */
export function installCommands(facts: HostFacts, pkgs: readonly string[], o: InstallOptions): string[] {
  if (pkgs.length === 0) return [];
  const tool = packageTool(facts);
  if (tool === 'apt') {
    const argv = [...APT_BASE];
    if (!o.recommends) argv.push('--no-install-recommends');
    if (o.unsafeIo) argv.push('-o', 'Dpkg::Options::=--force-unsafe-io');
    return [`${APT_ENV} ${sh(...argv, 'install', ...pkgs)}`];
  }
  const argv: string[] = [tool, '-y'];
  if (o.offline) argv.push('--cacheonly');
  // yum (RHEL 7) predates weak dependencies; it would only warn about the unknown option.
  if (tool === 'dnf' && !o.recommends) argv.push('--setopt=install_weak_deps=False');
  return [sh(...argv, 'install', ...pkgs)];
}

export function removeCommands(facts: HostFacts, pkgs: readonly string[], purge: boolean): string[] {
  if (pkgs.length === 0) return [];
  const tool = packageTool(facts);
  if (tool === 'apt') return [`${APT_ENV} ${sh(...APT_BASE, purge ? 'purge' : 'remove', ...pkgs)}`];
  // rpm has no purge: changed config files are kept as .rpmsave either way.
  return [sh(tool, '-y', 'remove', ...pkgs)];
}

/** One command that prints the requested packages that are not installed, one per line. */
export function missingPackagesCommand(facts: HostFacts, pkgs: readonly string[]): string {
  const words = pkgs.map(quote).join(' ');
  if (facts.family === 'debian') {
    // "ii" = installed and configured; half-installed/unpacked packages count as missing so apt finishes them.
    return `for p in ${words}; do s=$(dpkg-query -W -f='\${db:Status-Abbrev}' "$p" 2>/dev/null); case "$s" in ii*) ;; *) echo "$p" ;; esac; done`;
  }
  // --whatprovides: list names like python3-PyMySQL may be a Provides of the real package name.
  return `for p in ${words}; do rpm -q --whatprovides "$p" >/dev/null 2>&1 || echo "$p"; done`;
}

export async function missingPackages(host: Host, facts: HostFacts, pkgs: readonly string[]): Promise<string[]> {
  if (pkgs.length === 0) return [];
  const r = await host.run(missingPackagesCommand(facts, pkgs), { label: `check which of ${pkgs.length} packages are installed` });
  const missing = new Set(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean));
  return pkgs.filter((p) => missing.has(p));
}

/** Package lists older than this are refreshed before installing. */
export const APT_LISTS_MAX_AGE_S = 3600;

/** The stamp apt's periodic job (and Ubuntu's 15update-stamp) touch after a successful update. */
const APT_UPDATE_STAMP = '/var/lib/apt/periodic/update-success-stamp';

/**
 * Prints: now, the lists directory's mtime, the stamp's mtime (0 if none), and how many Packages
 * indexes exist. The list files themselves carry the mirror's Last-Modified time, not the time of
 * the update, so they say nothing about freshness; the directory changes when new indexes land.
 */
const APT_FRESHNESS_SCRIPT =
  `date +%s; stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0; stat -c %Y ${APT_UPDATE_STAMP} 2>/dev/null || echo 0; ` +
  `ls /var/lib/apt/lists 2>/dev/null | grep -c '_Packages' || true`;

/** Pure: whether apt-get update is due, from APT_FRESHNESS_SCRIPT's output. */
export function aptListsStale(output: string, maxAgeS = APT_LISTS_MAX_AGE_S): boolean {
  const [now, dir, stamp, count] = output.trim().split(/\s+/).map((n) => Number.parseInt(n, 10));
  if (now === undefined || !Number.isFinite(now) || !count) return true;
  const newest = Math.max(dir ?? 0, stamp ?? 0);
  return now - newest > maxAgeS;
}

const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const POLICY_MARK = '# stack.ts: temporary, during a package transaction';
const POLICY_SCRIPT = `#!/bin/sh\n${POLICY_MARK}\n# Exit 101 = "action forbidden": package scripts do not start daemons we have not configured yet.\nexit 101\n`;

/** Generous: dpkg on one core needs ~2-3 minutes for the whole OpenStack set (notes/debian-openstack.md). */
const INSTALL_TIMEOUT_MS = 45 * 60_000;
const UPDATE_TIMEOUT_MS = 10 * 60_000;

const NOT_FOUND = /Unable to locate package|has no installation candidate|No match for argument/;

/** The lines of a failed transaction that say why: apt's dependency report and every E: line, dnf's Error/Problem block. */
export function failureLines(r: Pick<RunResult, 'stdout' | 'stderr'>, max = 25): string {
  const out = r.stdout.split('\n');
  const err = r.stderr.split('\n').filter((l) => l.trim() !== '');
  const picked: string[] = [];
  const unmet = out.findIndex((l) => /unmet dependencies|Problem:|^Error:/.test(l));
  if (unmet >= 0) picked.push(...out.slice(unmet, unmet + max));
  // Warnings (W:) only when there is nothing else: an unsigned-repo warning is not why it failed.
  const serious = err.filter((l) => !/^(W|N): /.test(l));
  picked.push(...(serious.length > 0 ? serious : err));
  if (picked.length === 0) picked.push(...out.filter((l) => l.trim() !== ''));
  return picked.slice(-max).join('\n');
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('package installation aborted');
}

/**
 * Installs what is missing of pkgs in one transaction. A no-op (one query) when all are installed.
 * The signal is checked between steps: a running dpkg is never interrupted, that would leave the
 * host's package database half-configured.
 */
export async function installPackages(
  host: Host,
  facts: HostFacts,
  pkgs: readonly string[],
  o: InstallOptions,
  signal?: AbortSignal,
): Promise<void> {
  throwIfAborted(signal);
  const missing = await missingPackages(host, facts, pkgs);
  if (missing.length === 0) return;
  throwIfAborted(signal);
  if (packageTool(facts) === 'apt') await aptInstall(host, facts, missing, o, signal);
  else await rpmInstall(host, facts, missing, o);
}

async function aptUpdate(host: Host): Promise<void> {
  const r = await host.run(aptUpdateCommand(), { check: false, timeoutMs: UPDATE_TIMEOUT_MS, label: 'apt-get update' });
  if (r.exitCode !== 0) {
    throw new StackError(
      `apt-get update failed on ${host.name}`,
      'Check /etc/apt/sources.list(.d) and the network or proxy to the mirror on that host; or run with offline package installation if its lists are already current.',
      { file: 'apt-get update', lines: failureLines(r) },
    );
  }
  await host.run(`mkdir -p ${APT_UPDATE_STAMP.replace(/\/[^/]*$/, '')} && touch ${APT_UPDATE_STAMP}`, { check: false });
}

async function aptInstall(host: Host, facts: HostFacts, pkgs: readonly string[], o: InstallOptions, signal?: AbortSignal): Promise<void> {
  let updated = false;
  if (!o.offline) {
    // apt-get update writes no status stream: the ticker says what is going on meanwhile.
    const watch = o.onProgress ? watchAptStatus(host, o.onProgress, { initial: 'refreshing the package lists (apt-get update)' }) : undefined;
    try {
      const fresh = await host.run(APT_FRESHNESS_SCRIPT, { check: false, label: 'age of apt package lists' });
      if (aptListsStale(fresh.stdout)) {
        await aptUpdate(host);
        updated = true;
      }
    } finally {
      await watch?.stop();
    }
  }
  throwIfAborted(signal);
  const ownPolicy = await placePolicyRcD(host);
  try {
    const line = o.onProgress ? withStatusFd(installCommands(facts, pkgs, o)[0]!) : installCommands(facts, pkgs, o)[0]!;
    const label = `apt-get install ${pkgs.length} packages`;
    const install = async () => {
      const watch = o.onProgress ? watchAptStatus(host, o.onProgress, { onAdvance: o.onAdvance }) : undefined;
      try {
        // An interrupt waits for the transaction: a dpkg killed halfway leaves the host broken.
        return await uninterruptible(() => host.run(line, { check: false, timeoutMs: INSTALL_TIMEOUT_MS, label }));
      } finally {
        await watch?.stop();
      }
    };
    let r = await install();
    if (r.exitCode !== 0 && !updated && !o.offline && NOT_FOUND.test(r.stdout + r.stderr)) {
      // Lists that looked fresh can still predate a new package or a security update's version.
      await aptUpdate(host);
      r = await install();
    }
    if (r.exitCode !== 0) {
      const notFound = NOT_FOUND.test(r.stdout + r.stderr);
      throw new StackError(
        `apt-get could not install packages on ${host.name} (exit code ${r.exitCode})`,
        notFound
          ? o.offline
            ? 'A package is unknown to the host\'s package lists; offline installation skips apt-get update: run it on the host, or install without offline.'
            : 'A package is unknown to the host\'s apt sources even after apt-get update: check that the sources include the release that ships it (Debian bookworm main for OpenStack Zed).'
          : 'Read apt\'s lines below: a broken or held dependency must be fixed on the host (apt-get -f install, apt-mark unhold, or a missing source) before stack.ts can go on.',
        { file: `apt-get install on ${host.name}`, lines: failureLines(r) },
      );
    }
  } finally {
    if (ownPolicy) await host.run(sh('rm', '-f', POLICY_RC_D), { check: false, label: `remove temporary ${POLICY_RC_D}` });
  }
}

/**
 * Puts a policy-rc.d that forbids service starts in place for the transaction, on both init
 * systems: without systemd invoke-rc.d would only block by default, with it the postinsts would
 * start keystone/nova-api/... on their packaged defaults (all interfaces, sqlite) before stack.ts
 * has configured them. Returns true when the file is ours to remove afterwards (also when an
 * earlier interrupted run of ours left it behind); a policy the host already had is left alone.
 */
async function placePolicyRcD(host: Host): Promise<boolean> {
  const existing = await host.readFileIfExists(POLICY_RC_D);
  if (existing !== null) return existing.includes(POLICY_MARK);
  await host.writeFile(POLICY_RC_D, POLICY_SCRIPT, { mode: 0o755 });
  return true;
}

async function rpmInstall(host: Host, facts: HostFacts, pkgs: readonly string[], o: InstallOptions): Promise<void> {
  const tool = packageTool(facts);
  const r = await host.run(installCommands(facts, pkgs, o)[0]!, { check: false, timeoutMs: INSTALL_TIMEOUT_MS, label: `${tool} install ${pkgs.length} packages` });
  if (r.exitCode !== 0) {
    throw new StackError(
      `${tool} could not install packages on ${host.name} (exit code ${r.exitCode})`,
      NOT_FOUND.test(r.stdout + r.stderr)
        ? 'A package is in no enabled repository: enable the OpenStack repository (RDO: dnf install centos-release-openstack-<release>) and CRB/EPEL as the release needs.'
        : `Read ${tool}'s lines below: the dependency problem must be fixed on the host before stack.ts can go on.`,
      { file: `${tool} install on ${host.name}`, lines: failureLines(r) },
    );
  }
}
