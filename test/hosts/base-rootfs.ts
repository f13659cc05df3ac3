// The shared, read-only Debian root filesystem every test host overlays. Built once per Debian
// suite with debootstrap, cached as a directory named by the suite and a hash of its recipe, so
// bases of both suites coexist and changing the recipe (or bumping RECIPE_VERSION) builds a new
// one next to the old.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, renameSync, writeFileSync, unlinkSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { lockFile } from './lock.ts';
import { cacheDir, locksDir } from './paths.ts';
import { entriesForSuite, machineAptEntries, mainMirror, renderSources } from './apt-sources.ts';
import { runLogged, seconds } from './proc.ts';
import { ensureMachinePackages } from './machine-packages.ts';

const RECIPE_VERSION = 'stack-ts-test-base-3';
/** The Debian releases test hosts can run: bookworm (12, OpenStack Zed) and trixie (13, 2025.1 Epoxy). */
export const SUITES = ['bookworm', 'trixie'] as const;
export type Suite = (typeof SUITES)[number];
export const DEFAULT_SUITE: Suite = 'bookworm';
/** The release this machine's own apt sources name; other suites are read from the same mirrors. */
const MACHINE_SUITE = 'bookworm';
export const DEFAULT_PROXY = 'http://10.99.0.1:3142';
const PACKAGES = ['openssh-server', 'iproute2', 'iputils-ping', 'procps', 'ca-certificates', 'tini', 'curl', 'python3'];

/** apt settings inside a host; the proxy is the only way out of a host's network namespace. */
export function aptConf(proxyUrl: string): string {
  return [
    `Acquire::http::Proxy "${proxyUrl}";`,
    // The mirror may be a dated snapshot whose Release files are past their Valid-Until.
    'Acquire::Check-Valid-Until "false";',
    'Acquire::Languages "none";',
    '',
  ].join('\n');
}
export const APT_CONF_PATH = 'etc/apt/apt.conf.d/90stack-test-proxy';

// Each host gets its own ed25519 host key at start (fast to make); only that key is served.
const SSHD_CONF = ['HostKey /etc/ssh/ssh_host_ed25519_key', 'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'UseDNS no', ''].join('\n');
// Throwaway hosts: skip fsync in dpkg, it halves package install time.
const DPKG_CONF = 'force-unsafe-io\n';

export interface BaseRecipe {
  readonly version: string;
  readonly suite: string;
  readonly mirror: string;
  readonly packages: readonly string[];
  readonly sources: string;
  readonly files: Readonly<Record<string, string>>;
}

export function baseRecipe(suite: Suite = DEFAULT_SUITE): BaseRecipe {
  if (!SUITES.includes(suite)) throw new Error(`test hosts: suite "${suite}" is not one of ${SUITES.join(', ')}`);
  const entries = entriesForSuite(machineAptEntries(), suite, MACHINE_SUITE);
  const mirror = (process.env.STACK_TEST_MIRROR ?? mainMirror(entries, suite)).replace(/\/+$/, '');
  const sources = process.env.STACK_TEST_MIRROR
    ? renderSources([{ uri: mirror, suites: [suite, `${suite}-updates`], components: ['main'] }])
    : renderSources(entries);
  return {
    version: RECIPE_VERSION,
    suite,
    mirror,
    packages: PACKAGES,
    sources,
    files: {
      [APT_CONF_PATH]: aptConf(DEFAULT_PROXY),
      'etc/ssh/sshd_config.d/stack-test.conf': SSHD_CONF,
      'etc/dpkg/dpkg.cfg.d/stack-test-unsafe-io': DPKG_CONF,
      'etc/apt/sources.list.d/debian.sources': sources,
    },
  };
}

export function recipeHash(r: BaseRecipe): string {
  return createHash('sha256').update(JSON.stringify(r)).digest('hex').slice(0, 16);
}

/** Where the base of a recipe lives: base-<suite>-<hash>. */
export function baseDir(r: BaseRecipe): string {
  return join(cacheDir(), `base-${r.suite}-${recipeHash(r)}`);
}

/** The finished base of a recipe, if one is cached. */
export function findBase(r: BaseRecipe): string | undefined {
  // Bases built before the suite was part of the name are found by their hash: it covers the suite.
  const legacy = join(cacheDir(), `base-${recipeHash(r)}`);
  return [baseDir(r), legacy].find((d) => existsSync(join(d, 'etc/os-release')));
}

const inProcess = new Map<Suite, Promise<string>>();

/**
 * Path of the cached base root filesystem of `suite` (a directory), building it first if needed.
 * Safe to call from several test files at once: one builds, the others wait for it.
 */
export function ensureBaseRootfs(log: (line: string) => void = () => {}, suite: Suite = DEFAULT_SUITE): Promise<string> {
  let p = inProcess.get(suite);
  if (!p) {
    p = ensure(log, suite).finally(() => inProcess.delete(suite));
    inProcess.set(suite, p);
  }
  return p;
}

async function ensure(log: (line: string) => void, suite: Suite): Promise<string> {
  const recipe = baseRecipe(suite);
  const dir = baseDir(recipe);
  const cached = findBase(recipe);
  if (cached) return cached;

  mkdirSync(locksDir(), { recursive: true });
  const lock = await lockFile(join(locksDir(), 'base.lock'), 20 * 60_000);
  try {
    const built = findBase(recipe); // another run built it while we waited
    if (built) return built;
    await ensureMachinePackages(['debootstrap'], log);
    // Whatever half-built trees exist are from builds that died: we hold the lock.
    for (const f of readdirSync(cacheDir())) if (/^base-.*\.tmp$/.test(f)) rmSync(join(cacheDir(), f), { recursive: true, force: true });

    const tmp = `${dir}.tmp`;
    const logFile = `${dir}.build.log`;
    writeFileSync(logFile, '');
    log(`base rootfs: building ${dir} (${suite}) with debootstrap from ${recipe.mirror} (first time only, ~40-90 s; log ${logFile})`);
    const t0 = Date.now();
    const debs = join(cacheDir(), 'debootstrap-debs');
    mkdirSync(debs, { recursive: true });
    await runLogged(
      'debootstrap',
      ['--variant=minbase', `--include=${recipe.packages.join(',')}`, `--cache-dir=${debs}`, recipe.suite, tmp, recipe.mirror],
      logFile,
    );
    finishBase(tmp, recipe);
    rmSync(dir, { recursive: true, force: true }); // a broken leftover (no os-release) would block the rename
    renameSync(tmp, dir);
    log(`base rootfs: built in ${seconds(Date.now() - t0)}`);
    unlinkSync(logFile);
    pruneOldBases(dir, suite, log);
    return dir;
  } finally {
    lock.release();
  }
}

/**
 * Take out of a tree that test hosts will share what belongs to the host it was made on, or goes
 * stale: ssh host keys (each host makes its own; an existing one even makes ssh-keygen ask before
 * overwriting), apt's package lists (each host's apt-get update fetches fresh ones through the
 * proxy) and downloaded packages. A path the tree does not have is skipped.
 */
export function forgetHostKeysAndDownloads(root: string): void {
  const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
  for (const f of list(join(root, 'etc/ssh'))) if (f.startsWith('ssh_host_')) unlinkSync(join(root, 'etc/ssh', f));
  for (const sub of ['var/lib/apt/lists', 'var/cache/apt/archives']) {
    for (const f of list(join(root, sub))) if (f !== 'partial' && f !== 'lock') rmSync(join(root, sub, f), { recursive: true, force: true });
  }
}

/** Make the debootstrapped tree generic: no host identity, apt through the proxy. */
function finishBase(root: string, recipe: BaseRecipe): void {
  forgetHostKeysAndDownloads(root);
  writeFileSync(join(root, 'etc/machine-id'), '');
  rmSync(join(root, 'etc/apt/sources.list'), { force: true });
  for (const [path, text] of Object.entries(recipe.files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  if (!existsSync(join(root, 'usr/bin/tini'))) throw new Error(`base rootfs ${root}: /usr/bin/tini missing after debootstrap`);
  // Sanity: the recipe's sources landed.
  readFileSync(join(root, 'etc/apt/sources.list.d/debian.sources'), 'utf8');
}

/**
 * Remove bases of older recipes of the same suite that no overlay on this machine uses any more
 * (~250 MB each). Another suite's base is never an older recipe of this one: both stay.
 */
export function staleBases(names: readonly string[], keep: string, suite: Suite): string[] {
  return names.filter((f) => f !== keep && new RegExp(`^base-${suite}-[0-9a-f]+$`).test(f));
}

function pruneOldBases(keep: string, suite: Suite, log: (line: string) => void): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const f of staleBases(readdirSync(cacheDir()), basename(keep), suite)) {
    const path = join(cacheDir(), f);
    if (mounts.includes(path)) continue;
    rmSync(path, { recursive: true, force: true });
    log(`base rootfs: removed ${path} (older recipe)`);
  }
}
