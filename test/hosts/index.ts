// Throwaway Debian hosts for end-to-end tests: each one an overlay of a cached Debian root
// filesystem, in its own network, mount, UTS and PID namespaces, reachable over SSH from
// this machine, with apt going through an apt-cacher-ng on the hosts' bridge.
// See README.md beside this file.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseRecipe, DEFAULT_SUITE, ensureBaseRootfs, SUITES, type Suite } from './base-rootfs.ts';
import { startAptProxy } from './apt-proxy.ts';
import { hostDirs, mountOverlay, startHostProcess, writeHostFiles } from './host-process.ts';
import { tryLockFile, type HeldLock } from './lock.ts';
import { createNetwork, planNetwork, usedSlots } from './network.ts';
import { cacheDir, locksDir, runsDir } from './paths.ts';
import { procId, run, seconds, tcpAccepts, waitFor } from './proc.ts';
import { cleanupStale, saveState, teardown, teardownAsync, type RunState } from './run-state.ts';
import { ensureMachinePackages } from './machine-packages.ts';
import { provideLayers, type LayerSpec } from './package-layers.ts';
import { trustForThisProcess } from '../fixtures/known-hosts.ts';

export { ensureBaseRootfs, SUITES, type Suite } from './base-rootfs.ts';
export { cleanupStale } from './run-state.ts';
export type { LayerSpec } from './package-layers.ts';

export interface TestHost {
  name: string;
  address: string;
  sshPort: 22;
  user: 'root';
  keyPath: string;
  /** "root@10.99.0.11" */
  target: string;
  /** The host's / as seen from this machine (its merged overlay). */
  rootDir: string;
  /** Its eth1 address on the hosts' second network, when started with tunnelNetwork. */
  tunnelAddress?: string;
}

/** What this run made, for tests that check the harness itself. */
export interface RunInfo {
  readonly runDir: string;
  readonly bridge: string;
  readonly netns: readonly string[];
  /** tini of each host, then the apt proxy. */
  readonly pids: readonly number[];
  readonly mounts: readonly string[];
}

export interface TestHosts {
  hosts: TestHost[];
  /** The Debian release every host of this run runs. */
  suite: Suite;
  keyPath: string;
  /** known_hosts lines for every host: strict host key checking works. */
  knownHostsPath: string;
  proxyUrl: string;
  /** Seconds per start-up step: base, network, proxy, hosts, ssh. */
  timings: Record<string, number>;
  run: RunInfo;
  /** Each host's overlay lower dirs, top first: its package layer (if any), then the base. */
  lowerDirs: readonly (readonly string[])[];
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Up to six hosts (10.99.N.11-16); the fan-out bench takes them all. */
  count: 1 | 2 | 3 | 4 | 5 | 6;
  /** The Debian release of the hosts: bookworm (12, default) or trixie (13). */
  suite?: Suite;
  /** 1-4 lowercase letters, starts the names of every namespace, bridge and run dir. Default "stk". */
  prefix?: string;
  log?: (line: string) => void;
  /**
   * Per host (by index), the package lists it starts with already installed, from a cached layer
   * (package-layers.ts); a host without one starts from the bare base and stack.ts installs everything.
   */
  layers?: readonly (LayerSpec | undefined)[];
  /** Give each host an eth1 on a second network of their own (10.98.N.0/24): a NIC for Open vSwitch's tunnels. */
  tunnelNetwork?: boolean;
}

const active = new Set<RunState>();
let runCounter = 0;

export async function startTestHosts(opts: StartOptions): Promise<TestHosts> {
  const prefix = opts.prefix ?? 'stk';
  const log = opts.log ?? (() => {});
  const suite = opts.suite ?? DEFAULT_SUITE;
  if (!SUITES.includes(suite)) throw new Error(`startTestHosts: suite "${suite}" must be one of ${SUITES.join(', ')}`);
  if (!/^[a-z]{1,4}$/.test(prefix)) throw new Error(`startTestHosts: prefix "${prefix}" must be 1-4 lowercase letters (Linux interface names are at most 15 characters)`);
  if (![1, 2, 3, 4, 5, 6].includes(opts.count)) throw new Error(`startTestHosts: count must be 1 to 6, not ${opts.count}`);
  if (process.getuid?.() !== 0) throw new Error('startTestHosts: test hosts need root (network namespaces, mounts); run the e2e tests as root');
  await ensureMachinePackages(['iproute2', 'openssh-client', 'util-linux'], log);

  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (what: string) => {
    const now = Date.now();
    timings[what] = (now - t) / 1000;
    log(`test hosts: ${what} ${seconds(now - t)}`);
    t = now;
  };

  for (const line of cleanupStale(prefix)) log(`test hosts: removed leftover of a dead run: ${line}`);
  const base = await ensureBaseRootfs(log, suite);
  lap('base rootfs');
  const layerOf = await hostLayers(opts, suite, log);
  if (layerOf.size) lap('package layers');

  const { slot, lock } = await takeSlot();
  const runId = runCounter === 0 ? String(process.pid) : `${process.pid}x${runCounter}`;
  runCounter++;
  const runDir = join(runsDir(), `${prefix}${runId}`);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const owner = procId(process.pid)!;
  const state: RunState = { owner, prefix, runDir, netns: [], mounts: [], hostPids: [] };
  saveState(state);
  active.add(state);
  installExitHandlers();

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const t0 = Date.now();
      // Still in `active` while it runs: a worker that exits meanwhile tears down the rest itself.
      const problems = await teardownAsync(state);
      active.delete(state);
      lock.release();
      log(`test hosts: teardown ${seconds(Date.now() - t0)}`);
      if (problems.length) throw new Error(`test hosts: teardown left things behind:\n  ${problems.join('\n  ')}\nclean up by hand: see test/hosts/README.md`);
    })();
    return stopped;
  };

  try {
    const keyPath = join(runDir, 'id_ed25519');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `stack-ts-test-${runId}`, '-f', keyPath]);
    const plan = planNetwork(prefix, runId, slot, opts.count, opts.tunnelNetwork ?? false);
    createNetwork(plan, state);
    lap('network');

    const proxy = await startAptProxy({
      runDir,
      cacheDir: join(cacheDir(), `acng-${slot}`),
      address: plan.gateway,
      mirror: baseRecipe(suite).mirror,
      onSpawn: (p) => {
        state.proxy = p;
        saveState(state);
      },
      log,
    });
    lap('apt proxy');

    const names = plan.hosts.map((_, i) => `h${i + 1}`);
    const etcHosts = [
      '127.0.0.1 localhost',
      '::1 localhost ip6-localhost ip6-loopback',
      ...plan.hosts.map((h, i) => `${h.address} ${names[i]}`),
      '',
    ].join('\n');
    const pubKey = readFileSync(`${keyPath}.pub`, 'utf8');
    const knownHosts: string[] = [];
    const hosts: TestHost[] = [];
    const lowerDirs: string[][] = [];
    for (const [i, h] of plan.hosts.entries()) {
      const name = names[i]!;
      const d = hostDirs(runDir, name);
      state.mounts.push(d.root);
      saveState(state);
      const lowers = [...(layerOf.has(i) ? [layerOf.get(i)!] : []), base];
      lowerDirs.push(lowers);
      mountOverlay(lowers, d);
      const hostKey = writeHostFiles(d.root, { name, etcHosts, proxyUrl: proxy.url, authorizedKey: pubKey });
      knownHosts.push(`${h.address} ${hostKey}`);
      hosts.push({ name, address: h.address, sshPort: 22, user: 'root', keyPath, target: `root@${h.address}`, rootDir: d.root, ...(h.tunnel ? { tunnelAddress: h.tunnel.address } : {}) });
    }
    const knownHostsPath = join(runDir, 'known_hosts');
    writeFileSync(knownHostsPath, `${knownHosts.join('\n')}\n`);
    // stack.ts and SshHost check host keys: trust these for this test process ($SSH_KNOWN_HOSTS).
    trustForThisProcess(knownHosts);
    lap('overlays');

    await Promise.all(
      hosts.map(async (h, i) => {
        const p = await startHostProcess({ netns: plan.hosts[i]!.netns, name: h.name, root: h.rootDir, consoleLog: join(runDir, `${h.name}.console.log`) });
        state.hostPids.push(p.init);
        saveState(state);
      }),
    );
    lap('host start');

    const th: TestHosts = {
      hosts,
      suite,
      keyPath,
      knownHostsPath,
      proxyUrl: proxy.url,
      timings,
      run: {
        runDir,
        bridge: plan.bridge,
        netns: plan.hosts.map((h) => h.netns),
        pids: [...state.hostPids.map((p) => p.pid), proxy.proc.pid],
        mounts: [...state.mounts],
      },
      lowerDirs,
      stop,
    };
    await Promise.all(hosts.map((h) => waitForSsh(th, h)));
    lap('ssh ready');
    return th;
  } catch (e) {
    await stop().catch((e2: Error) => log(e2.message));
    throw e;
  }
}

/**
 * Host index -> its package layer's directory. The layers are resolved (and made, where the cache
 * lacks them) on a throwaway run of one host per distinct layer, which is gone before the caller's
 * hosts start.
 */
async function hostLayers(opts: StartOptions, suite: Suite, log: (line: string) => void): Promise<Map<number, string>> {
  const wanted = (opts.layers ?? []).slice(0, opts.count);
  const specs = [...new Map(wanted.filter((s): s is LayerSpec => !!s).map((s) => [s.label, s])).values()];
  const out = new Map<number, string>();
  if (!specs.length) return out;
  const maker = await startTestHosts({ count: specs.length as 1 | 2 | 3, suite, prefix: 'lyr', log });
  let dirs: string[];
  try {
    dirs = await provideLayers(maker, specs, (h, cmd, ms) => sshExec(maker, h, cmd, ms), log);
  } finally {
    await maker.stop();
  }
  wanted.forEach((s, i) => {
    if (s) out.set(i, dirs[specs.findIndex((x) => x.label === s.label)]!);
  });
  return out;
}

/** Claim a free 10.99.N.0/24 for this run; N also picks the apt proxy's cache dir. */
async function takeSlot(): Promise<{ slot: number; lock: HeldLock }> {
  mkdirSync(locksDir(), { recursive: true });
  const used = usedSlots();
  for (let slot = 0; slot < 100; slot++) {
    if (used.has(slot)) continue;
    const lock = await tryLockFile(join(locksDir(), `slot-${slot}.lock`));
    if (lock) return { slot, lock };
  }
  throw new Error('no free subnet 10.99.0-99.0/24 for test hosts: too many runs at once, or leftovers (ip -br addr | grep 10.99.)');
}

async function waitForSsh(th: TestHosts, h: TestHost): Promise<void> {
  await waitFor(
    async () => ((await tcpAccepts(h.address, 22, 300)) ? true : undefined),
    15_000,
    () => new Error(`test host ${h.name}: nothing accepts on ${h.address}:22 after 15 s; see ${h.rootDir}/var/log/sshd.log`),
  );
  const r = await sshExec(th, h, 'hostname');
  if (r.exitCode !== 0 || r.stdout.trim() !== h.name) {
    throw new Error(`test host ${h.name}: ssh ${h.target} hostname gave exit ${r.exitCode}, "${r.stdout.trim()}" ${r.stderr.trim()}`);
  }
}

export interface SshResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Argument list for the OpenSSH client to reach a host, with strict host key checking. */
export function sshArgs(th: Pick<TestHosts, 'keyPath' | 'knownHostsPath'>, h: TestHost): string[] {
  return [
    '-i', th.keyPath,
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${th.knownHostsPath}`,
    '-o', 'ConnectTimeout=5',
    '-o', 'LogLevel=ERROR',
    '-p', String(h.sshPort),
    h.target,
  ];
}

/**
 * The localrc lines that point stack.ts at this run's test hosts: TARGET_HOST=`h`, then the key and
 * the known_hosts file (strict host key checking). Without `h`, a HOSTS_FILE names the hosts and
 * only the key and known_hosts lines are wanted.
 */
export function testHostSettings(th: Pick<TestHosts, 'keyPath' | 'knownHostsPath'>, h?: Pick<TestHost, 'target'>): string[] {
  return [...(h ? [`TARGET_HOST=${h.target}`] : []), `SSH_KEY=${th.keyPath}`, `SSH_KNOWN_HOSTS=${th.knownHostsPath}`];
}

/** Run a shell command on a host over SSH (the openssh client); never throws on a non-zero exit. */
export function sshExec(th: Pick<TestHosts, 'keyPath' | 'knownHostsPath'>, h: TestHost, command: string, timeoutMs = 300_000): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshArgs(th, h), command], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ exitCode: code ?? (signal ? 255 : 0), stdout, stderr }));
  });
}

// An aborted test process (Ctrl-C, a killed worker) still takes its hosts down.
let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const cleanAll = () => {
    for (const s of [...active]) {
      active.delete(s);
      teardown(s);
    }
  };
  process.on('exit', cleanAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      cleanAll();
      // Then die of the signal as we would have without this handler, unless others handle it.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}
