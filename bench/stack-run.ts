// One timed ./stack.ts run for the benches: a work directory with a tiny image, a localrc for
// test hosts, and what the run recorded about itself (--timings, the run log, its output).

import { $ } from 'zx';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { testHostSettings, type TestHost, type TestHosts } from '../test/hosts/index.ts';
import type { TimingRecord } from '../lib/timing.ts';

const REPO = resolve(import.meta.dirname, '..');

export interface StackRun {
  readonly ok: boolean;
  readonly exitCode: number;
  /** Around the child: node start, config, SSH included. */
  readonly wallMs: number;
  /** The run's own total (its wall clock from first task to last). */
  readonly totalMs: number;
  readonly timings: readonly TimingRecord[];
  /** Every run log of the work directory, joined. */
  readonly log: string;
  /** What the run printed (its summary names the release). */
  readonly stdout: string;
  /** The last lines of the run's output, for a failure. */
  readonly tail: string;
}

export interface BenchWork {
  readonly dir: string;
  readonly image: string;
  remove(): void;
}

/**
 * A temporary directory and the image the run uploads: `image` (one that boots, kept elsewhere) or
 * else a 1 MB qcow2 made in the directory. Either way the image upload costs no download.
 */
export async function benchWork(name: string, image?: string): Promise<BenchWork> {
  const dir = mkdtempSync(join(tmpdir(), `stackts-bench-${name}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  if (image) return { dir, image, remove };
  writeFileSync(join(dir, 'seed.raw'), Buffer.alloc(1024 * 1024, 'bench '));
  const tiny = join(dir, 'bench.qcow2');
  await $`qemu-img convert -f raw -O qcow2 ${join(dir, 'seed.raw')} ${tiny}`.quiet();
  return { dir, image: tiny, remove };
}

/** The settings every fake-driver bench run shares, for one test host or the hosts of a HOSTS_FILE. */
export function benchLocalrc(th: TestHosts, work: BenchWork, where: TestHost | `HOSTS_FILE=${string}`, extra: readonly string[] = []): string {
  const hosts = typeof where === 'string' ? [where, ...testHostSettings(th)] : testHostSettings(th, where);
  return [...hosts, 'VIRT_DRIVER=fake', 'APT_UNSAFE_IO=True', `IMAGE_URLS=file://${work.image}`, ...extra, ''].join('\n');
}

export interface TimedStackOptions {
  /** The config file written in the work directory: localrc, or local.conf for one with [[post-config|...]] sections. */
  readonly configName?: string;
}

/** Runs ./stack.ts (stack) with `configText` as the work directory's config file and reads back what it recorded. */
export async function timedStack(work: BenchWork, configText: string, { configName = 'localrc' }: TimedStackOptions = {}): Promise<StackRun> {
  const config = join(work.dir, configName);
  writeFileSync(config, configText);
  const timingsFile = join(work.dir, 'timings.json');
  rmSync(timingsFile, { force: true });
  const started = Date.now();
  const r = await $({ cwd: work.dir, nothrow: true, quiet: true, env: { ...process.env, CI: 'true' } })`${join(REPO, 'stack.ts')} --config ${config} --verbose --timings ${timingsFile}`;
  const wallMs = Date.now() - started;
  let recorded: { totalMs: number; timings: TimingRecord[] } = { totalMs: NaN, timings: [] };
  try {
    recorded = JSON.parse(readFileSync(timingsFile, 'utf8')) as typeof recorded;
  } catch {
    // A run that stopped before its task tree wrote no timings: the exit code says why.
  }
  const logDir = join(work.dir, '.stack', 'logs');
  let log = '';
  try {
    log = readdirSync(logDir).map((f) => readFileSync(join(logDir, f), 'utf8')).join('\n');
  } catch {
    // no log directory: the run stopped before it opened its log
  }
  const exitCode = r.exitCode ?? 1;
  return { ok: exitCode === 0, exitCode, wallMs, totalMs: recorded.totalMs, timings: recorded.timings, log, stdout: r.stdout, tail: `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-40).join('\n') };
}
