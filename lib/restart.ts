// A daemon that is already running keeps the settings it started with: when a re-run changed
// its config file (another bind address, say), it has to be restarted for the change to count.
// The digest of the files it was last started with is kept on the host next to stack.ts's pidfiles.

import { createHash } from 'node:crypto';
import path from 'node:path';
import { daemonStatus, startDaemon, stopDaemon, type DaemonSpec } from './daemon.ts';
import type { StackContext } from './plugin.ts';
import { sh } from './shell.ts';

export const configStampPath = (stateDir: string, spec: DaemonSpec): string => path.posix.join(stateDir, 'run', `${spec.name}.config-sha256`);

/** What a daemon's stamp holds: its config files' paths and contents, and its command line where it is one of ours. */
export function configDigest(files: readonly { path: string; content: string | null }[], argv?: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.path}\0${f.content ?? ''}\0`);
  // API_WORKERS, say, is a uWSGI flag: a changed command line restarts the daemon as a changed file does.
  if (argv) h.update(`argv\0${JSON.stringify(argv)}\0`);
  return h.digest('hex');
}

async function digestOf(ctx: StackContext, files: readonly string[], spec: DaemonSpec): Promise<string> {
  const read = await Promise.all(files.map(async (path) => ({ path, content: await ctx.host.readFileIfExists(path) })));
  return configDigest(read, spec.argv);
}

/**
 * Start the daemon; if it already runs with other config files than it was last started with
 * (or than stack.ts has ever seen it start with), restart it. Returns what was done.
 * Call markStarted() once the daemon answers.
 */
export async function startOrRestart(
  ctx: StackContext,
  spec: DaemonSpec,
  configFiles: readonly string[],
  /** Restart a running daemon even with unchanged files, for this reason (said in the log). */
  restartBecause?: string,
): Promise<{ action: 'started' | 'restarted' | 'running'; markStarted: () => Promise<void> }> {
  const stateDir = String(ctx.config.settings.STACK_STATE_DIR);
  const stamp = configStampPath(stateDir, spec);
  const digest = await digestOf(ctx, configFiles, spec);
  const markStarted = async (): Promise<void> => {
    await ctx.host.run(sh('install', '-d', '-m', '755', path.posix.dirname(stamp)), { label: 'state directory' });
    await ctx.host.writeFile(stamp, `${digest}\n`, { mode: 0o600 });
  };
  const status = await daemonStatus(ctx.host, ctx.facts, spec, stateDir);
  if (!status.running) {
    await startDaemon(ctx.host, ctx.facts, spec, stateDir);
    return { action: 'started', markStarted };
  }
  const previous = ((await ctx.host.readFileIfExists(stamp)) ?? '').trim();
  // Its stamp already holds this digest: nothing to write (two round trips per daemon of a re-run).
  if (previous === digest && !restartBecause) return { action: 'running', markStarted: async () => undefined };
  ctx.log.info(`${ctx.host.name}: restarting ${spec.name}: ${previous === digest ? restartBecause : 'its configuration changed since it was started'}`);
  await stopDaemon(ctx.host, ctx.facts, spec, stateDir);
  await startDaemon(ctx.host, ctx.facts, spec, stateDir);
  return { action: 'restarted', markStarted };
}
