// Installed-packages layers: a test host can start with a package list already installed, so that
// stack.ts's packages step finds nothing missing. Each layer is made once on a throwaway test host
// (the same base, the same apt proxy, the same apt options as the hosts that use it) and kept in
// the cache keyed by the suite, the package list and the exact versions apt resolves it to now
// (layer-cache.ts). One end-to-end file per release still installs on a fresh host: that is the
// proof of the real package path; the other files may start from a layer.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readPackageList } from '../../lib/packages.ts';
import { APT_CONF_PATH, forgetHostKeysAndDownloads } from './base-rootfs.ts';
import { hostDirs } from './host-process.ts';
import { claimLayer, newestLayerLike, type LayerClaim, type LayerKey } from './layer-cache.ts';
import { runAsync, seconds, tail } from './proc.ts';
import type { TestHost, TestHosts } from './index.ts';

/** What a host should start with: the installed state of these files/debs lists. */
export interface LayerSpec {
  /** Lowercase, e.g. "controller"; names the layer in the cache. */
  readonly label: string;
  /** Names of package lists in files/debs (what stack.ts's plugins install). */
  readonly lists: readonly string[];
}

/** The package names of a spec's lists, each once, in list order. */
export async function specPackages(spec: LayerSpec): Promise<string[]> {
  return [...new Set((await Promise.all(spec.lists.map((l) => readPackageList(l, 'debian')))).flat())];
}

/** apt-get -s's plan as "name version" lines: the part of a layer's key that a new upload changes. */
export function parseSimulatedInstall(out: string): string[] {
  return out
    .split('\n')
    .map((l) => /^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) /.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}`)
    .sort();
}

// Paths a host start writes for itself (writeHostFiles): left in a layer they would give every
// host the maker's identity.
const HOST_OWN = ['etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'etc/machine-id', APT_CONF_PATH, 'root/.ssh', 'var/log/sshd.log'];

function stripHostIdentity(dir: string): void {
  for (const p of HOST_OWN) rmSync(join(dir, p), { recursive: true, force: true });
  forgetHostKeysAndDownloads(dir);
  // apt's binary caches of the lists, which forgetHostKeysAndDownloads took out.
  for (const f of ['pkgcache.bin', 'srcpkgcache.bin']) rmSync(join(dir, 'var/cache/apt', f), { force: true });
}

const APT_ENV = 'DEBIAN_FRONTEND=noninteractive';
const APT_GET = 'apt-get -q -o Dpkg::Use-Pty=0';
const APT = `${APT_ENV} ${APT_GET}`;

type Exec = (h: TestHost, cmd: string, timeoutMs?: number) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

// A mirror that stopped answering held one CI run's update for its whole 600 s: apt waits 120 s
// on a silent connection and tries each file again. Here a silent connection gives up after 30 s,
// one try of the update after 140 s (timeout(1) on the host, so that no apt-get is left holding
// the lists' lock for the next try), and the update is tried twice; it takes ~2 s when the mirror
// answers.
const UPDATE_TRY_S = 140;
const UPDATE_TRIES = 2;
const updateCommand = (tryS: number) =>
  `${APT_ENV} timeout -k 5 ${tryS} ${APT_GET} -o Acquire::http::Timeout=30 -o Acquire::Retries=2 update`;

/** apt-get update on `h`, tried again once; undefined when it worked, else what went wrong. */
export async function aptUpdate(exec: Exec, h: TestHost, tries = UPDATE_TRIES, tryS = UPDATE_TRY_S): Promise<string | undefined> {
  const failures: string[] = [];
  for (let n = 1; n <= tries; n++) {
    const t0 = Date.now();
    const r = await exec(h, updateCommand(tryS), (tryS + 15) * 1000);
    if (r.exitCode === 0) return undefined;
    const how = r.exitCode === 124 || r.exitCode === 137 ? `no end in ${tryS} s (stopped)` : `exit ${r.exitCode} after ${seconds(Date.now() - t0)}`;
    failures.push(`try ${n}: ${how}\n${(r.stdout + r.stderr).trim().split('\n').slice(-12).join('\n')}`);
  }
  return `apt-get update on ${h.name} failed ${tries} times (the mirror or the apt proxy did not answer):\n${failures.join('\n')}`;
}

/**
 * The layer directory of each spec, made on `maker` (a started run with one host per spec) where
 * it is not cached yet. Locks are taken in name order so that two runs needing overlapping sets
 * never wait on each other in a circle.
 */
export async function provideLayers(
  maker: TestHosts,
  specs: readonly LayerSpec[],
  exec: Exec,
  log: (line: string) => void,
): Promise<string[]> {
  if (maker.hosts.length < specs.length) throw new Error(`layers: ${specs.length} specs need as many maker hosts, not ${maker.hosts.length}`);
  const base = baseOf(maker);
  // Each spec's key, or the cached layer that stands in for it when the mirror gave no key.
  const known = await Promise.all(
    specs.map(async (spec, i): Promise<{ key: LayerKey } | { dir: string }> => {
      const h = maker.hosts[i]!;
      const packages = await specPackages(spec);
      const update = await aptUpdate(exec, h);
      if (update) {
        // No list today: the last layer made for this package list stands in (it needs no mirror to
        // be used); without one there is nothing to test on.
        const stand = newestLayerLike({ suite: maker.suite, label: spec.label, base, packages });
        if (!stand) throw new Error(`layers: ${update}\nNo layer of ${spec.label} (${maker.suite}) is cached to use instead.\n${proxyLogs(maker)}`);
        log(`layers: ${update.split('\n')[0]}; using the layer of the same package list made ${stand.made}: ${stand.dir}`);
        return { dir: stand.dir };
      }
      const sim = await exec(h, `${APT} install -s --no-install-recommends ${packages.join(' ')}`, 300_000);
      if (sim.exitCode !== 0) throw new Error(`layers: apt-get -s install on ${h.name} failed:\n${sim.stderr.slice(-2000)}`);
      return { key: { suite: maker.suite, label: spec.label, base, packages, versions: parseSimulatedInstall(sim.stdout) } };
    }),
  );
  const dirs = known.map((k) => ('dir' in k ? k.dir : undefined)) as string[];
  const keys = known.map((k) => ('key' in k ? k.key : undefined));
  const order = keys
    .map((k, i) => ({ k, i }))
    .filter((o): o is { k: LayerKey; i: number } => o.k !== undefined)
    .sort((a, b) => a.k.label.localeCompare(b.k.label));
  const toMake: { i: number; claim: LayerClaim }[] = [];
  try {
    for (const { k, i } of order) {
      const got = await claimLayer(k);
      if ('dir' in got) dirs[i] = got.dir;
      else toMake.push({ i, claim: got.claim });
    }
    const made = await Promise.allSettled(
      toMake.map(async ({ i, claim }) => {
        const h = maker.hosts[i]!;
        const t0 = Date.now();
        const key = keys[i]!;
        log(`layers: installing ${key.packages.length} packages (${key.versions.length} with dependencies) on ${h.name} for layer ${specs[i]!.label} (${maker.suite})`);
        const r = await exec(h, `${APT} install -y --no-install-recommends ${key.packages.join(' ')} && apt-get clean`, 1_800_000);
        if (r.exitCode !== 0) throw new Error(`layers: apt-get install on ${h.name} failed (exit ${r.exitCode}):\n${(r.stdout + r.stderr).slice(-3000)}`);
        // The host is idle (no init starts daemons on install): its upper dir is the installed state.
        await runAsync('cp', ['-a', `${hostDirs(maker.run.runDir, h.name).upper}/.`, claim.tmpDir], { timeoutMs: 600_000 });
        stripHostIdentity(claim.tmpDir);
        dirs[i] = await claim.commit();
        log(`layers: made ${dirs[i]} in ${seconds(Date.now() - t0)}`);
      }),
    );
    const failed = made.find((m) => m.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (e) {
    // Every claim not made into a layer is given back: its partial tree goes, its lock is freed.
    await Promise.all(toMake.filter((t) => dirs[t.i] === undefined).map((t) => t.claim.abandon()));
    throw e;
  }
  return dirs;
}

/** The end of the apt proxy's logs: the run dir that holds them goes with the maker's stop. */
function proxyLogs(maker: TestHosts): string {
  const dir = join(maker.run.runDir, 'acng-log');
  return ['apt-cacher.err', 'apt-cacher.log']
    .filter((f) => existsSync(join(dir, f)))
    .map((f) => `apt proxy's ${f}:\n${tail(join(dir, f), 15)}`)
    .join('\n');
}

/** The base root filesystem the maker's hosts overlay: read back from its mount. */
function baseOf(maker: TestHosts): string {
  const b = maker.lowerDirs[0]?.at(-1);
  if (!b) throw new Error('layers: the maker run has no base lower dir');
  return b.split('/').pop()!;
}
