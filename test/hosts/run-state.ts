// What one run created, written to runs/<name>/state.json before each thing is created,
// so that stop(), an exit handler, or a later run's cleanupStale() can undo exactly that.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runsDir } from './paths.ts';
import { isAlive, isSameAlive, run, runAsync, sleepSync, type ProcId } from './proc.ts';

export interface RunState {
  readonly owner: ProcId;
  readonly prefix: string;
  readonly runDir: string;
  bridge?: string;
  /** The hosts' second network, when asked for (network.ts). */
  tunnelBridge?: string;
  readonly netns: string[];
  readonly mounts: string[];
  readonly hostPids: ProcId[];
  proxy?: ProcId;
}

export function saveState(s: RunState): void {
  writeFileSync(join(s.runDir, 'state.json'), JSON.stringify(s, null, 2));
}

function loadState(runDir: string): RunState | null {
  try {
    return JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as RunState;
  } catch {
    return null;
  }
}

export const mountedPaths = (): string[] =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4]!.replace(/\\040/g, ' '));

export const netnsList = (): string[] =>
  run('ip', ['netns', 'list'], { allowFail: true }).stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);

export const linkExists = (name: string): boolean => run('ip', ['link', 'show', 'dev', name], { allowFail: true }).status === 0;

function killAndWait(procs: readonly ProcId[], signal: NodeJS.Signals, waitMs: number): ProcId[] {
  const mine = procs.filter(isSameAlive);
  for (const p of mine) {
    try {
      process.kill(p.pid, signal);
    } catch {
      // already gone
    }
  }
  const end = Date.now() + waitMs;
  while (mine.some(isSameAlive) && Date.now() < end) sleepSync(10);
  return mine.filter(isSameAlive);
}

/** Kill every process inside a network namespace we made (only for leftovers of dead runs). */
function killNetnsProcesses(ns: string): void {
  const pids = run('ip', ['netns', 'pids', ns], { allowFail: true }).stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const end = Date.now() + 3000;
  while (pids.some(isAlive) && Date.now() < end) sleepSync(10);
}

/** One undo step; `slow` does the same without blocking, for stop() inside a test worker. */
interface Step {
  readonly what: string;
  readonly now: () => void;
  readonly slow?: () => Promise<void>;
}

/**
 * The steps that undo one run, in the order that lets each succeed: processes, proxy, mounts,
 * namespaces, bridge, run dir. Run best effort throughout; the runner returns what could not be undone.
 */
function teardownSteps(s: RunState, opts: { stale?: boolean }): Step[] {
  const steps: Step[] = [];
  // Killing a host's tini (the init of its PID namespace) makes the kernel end every process in it.
  steps.push({ what: 'kill hosts', now: () => {
    const left = killAndWait(s.hostPids, 'SIGKILL', 5000);
    if (left.length) throw new Error(`still running: ${left.map((p) => p.pid).join(' ')}`);
  } });
  if (opts.stale) for (const ns of s.netns) steps.push({ what: `kill processes in ${ns}`, now: () => killNetnsProcesses(ns) });
  steps.push({ what: 'stop apt proxy', now: () => {
    if (!s.proxy) return;
    if (killAndWait([s.proxy], 'SIGTERM', 2000).length && killAndWait([s.proxy], 'SIGKILL', 2000).length) {
      throw new Error(`apt-cacher-ng pid ${s.proxy.pid} does not die`);
    }
  } });
  const mounted = new Set(mountedPaths());
  for (const m of [...s.mounts].reverse()) {
    if (!mounted.has(m)) continue;
    steps.push({
      what: `umount ${m}`,
      now: () => {
        if (run('umount', [m], { allowFail: true }).status !== 0) run('umount', ['-l', m]);
      },
      slow: async () => {
        if ((await runAsync('umount', [m], { allowFail: true })).status !== 0) await runAsync('umount', ['-l', m]);
      },
    });
  }
  const nsNow = new Set(netnsList());
  for (const ns of s.netns) if (nsNow.has(ns)) steps.push({ what: `ip netns del ${ns}`, now: () => run('ip', ['netns', 'del', ns]) });
  if (s.bridge && linkExists(s.bridge)) steps.push({ what: `ip link del ${s.bridge}`, now: () => run('ip', ['link', 'del', 'dev', s.bridge!]) });
  if (s.tunnelBridge && linkExists(s.tunnelBridge)) steps.push({ what: `ip link del ${s.tunnelBridge}`, now: () => run('ip', ['link', 'del', 'dev', s.tunnelBridge!]) });
  // Never recurse into a live mount: that would delete inside it.
  const stillMounted = () => {
    const still = mountedPaths().filter((m) => m.startsWith(`${s.runDir}/`));
    if (still.length) throw new Error(`still mounted, not removing the run dir: ${still.join(' ')} (umount -l them, then rm -rf ${s.runDir})`);
  };
  steps.push({
    what: `remove ${s.runDir}`,
    now: () => {
      stillMounted();
      rmSync(s.runDir, { recursive: true, force: true });
    },
    // The hosts' upper dirs hold every installed package: removing them took 65-73 s after the
    // three-host and re-run files, and a test worker blocked that long fails the whole vitest run
    // ("Timeout calling onTaskUpdate").
    slow: async () => {
      stillMounted();
      await rm(s.runDir, { recursive: true, force: true });
    },
  });
  return steps;
}

/** Undoes what the run made, synchronously (an exit handler can do nothing else); returns what failed. */
export function teardown(s: RunState, opts: { stale?: boolean } = {}): string[] {
  const problems: string[] = [];
  for (const step of teardownSteps(s, opts)) {
    try {
      step.now();
    } catch (e) {
      problems.push(`${step.what}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** The same as teardown, with its slow steps not blocking the event loop (stop() in a test worker). */
export async function teardownAsync(s: RunState): Promise<string[]> {
  const problems: string[] = [];
  for (const step of teardownSteps(s, {})) {
    try {
      await (step.slow ?? step.now)();
    } catch (e) {
      problems.push(`${step.what}: ${(e as Error).message}`);
    }
  }
  return problems;
}

const ownerPidOf = (name: string, prefix: string): number | null => {
  const m = new RegExp(`^${prefix}(\\d+)(?:x\\d+)?(?:-h\\d+)?$`).exec(name);
  return m ? Number(m[1]) : null;
};
const ownerPidOfBridge = (name: string, prefix: string): number | null => {
  const m = new RegExp(`^${prefix}br(\\d+)(?:x\\d+)?t?$`).exec(name);
  return m ? Number(m[1]) : null;
};

/**
 * Remove what earlier runs with this prefix left behind when their process died without
 * stop(): hosts, proxy, overlay mounts, namespaces, bridges, run dirs. Runs whose owner
 * process is alive are left alone. Returns one line per thing removed.
 */
export function cleanupStale(prefix = 'stk'): string[] {
  const done: string[] = [];
  const dir = runsDir();
  const dead = (pid: number | null) => pid !== null && pid !== process.pid && !isAlive(pid);
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      if (ownerPidOf(name, prefix) === null) continue;
      const runDir = join(dir, name);
      const s = loadState(runDir);
      if (s ? isSameAlive(s.owner) || s.owner.pid === process.pid : !dead(ownerPidOf(name, prefix))) continue;
      const problems = teardown(s ?? { owner: { pid: 0, start: '' }, prefix, runDir, netns: [], mounts: [], hostPids: [] }, { stale: true });
      done.push(`run ${name}${problems.length ? ` (problems: ${problems.join('; ')})` : ''}`);
    }
  }
  // Leftovers without a state file (e.g. the run dir was removed by hand).
  for (const m of mountedPaths()) {
    const rel = m.startsWith(`${dir}/`) ? m.slice(dir.length + 1).split('/')[0]! : '';
    if (rel && dead(ownerPidOf(rel, prefix))) {
      run('umount', ['-l', m], { allowFail: true });
      done.push(`mount ${m}`);
    }
  }
  for (const ns of netnsList()) {
    if (!dead(ownerPidOf(ns, prefix)) || !/-h\d+$/.test(ns)) continue;
    killNetnsProcesses(ns);
    run('ip', ['netns', 'del', ns], { allowFail: true });
    done.push(`netns ${ns}`);
  }
  const links = run('ip', ['-o', 'link', 'show', 'type', 'bridge'], { allowFail: true }).stdout;
  for (const line of links.split('\n')) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    if (name && dead(ownerPidOfBridge(name, prefix))) {
      run('ip', ['link', 'del', 'dev', name], { allowFail: true });
      done.push(`bridge ${name}`);
    }
  }
  return done;
}
