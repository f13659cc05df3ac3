// `clean`: every plugin removes what it made, then the run checks that nothing is left (processes,
// databases, configs, state) and says what is. One plugin's failure does not stop the others:
// the more is removed the better, and the report names everything that stayed.

import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { daemonStatus } from './daemon.ts';
import { OWN_MARK, removeOwnDirsCommand } from './own-dirs.ts';
import { removeCommands } from './packages.ts';
import { StackError } from './errors.ts';
import { type ServicePlugin, type StackContext } from './plugin.ts';
import { sh } from './shell.ts';
import { stopPlugin } from './stop-plugin.ts';
import type { TaskNode } from './tasks.ts';

/** Record something clean could not remove; the last step reports them all and fails the run. */
export function leftBehind(ctx: StackContext, what: string): void {
  ctx.cloud.leftBehind.push(what);
}

export const leftOf = (ctx: StackContext): readonly string[] => ctx.cloud.leftBehind;

const firstLine = (err: unknown): string => ((err as Error)?.message ?? String(err)).split('\n')[0] ?? '';

/** The files beside the config a stack wrote (they hold passwords): clean removes them, the run logs stay. */
export const OUTPUT_FILES = ['openrc-admin', 'openrc-demo', 'clouds.yaml'];

export function cleanTasks(ctx: StackContext, plugins: readonly ServicePlugin[], opts: { purge: boolean; outputsDir: string }): TaskNode[] {
  const s = ctx.config.settings;
  const host = ctx.host.name;
  const leaves: TaskNode[] = [...plugins].reverse().map((p) => ({
    id: `${host}/${p.name}/clean`,
    title: 'clean',
    host,
    service: p.name,
    phase: 'clean',
    run: async () => {
      try {
        if (p.clean) await p.clean(ctx);
        else await stopPlugin(ctx, p);
      } catch (err) {
        leftBehind(ctx, `${p.name}: ${ctx.log.mask(firstLine(err))}`);
      }
    },
  }));
  leaves.push({
    id: `${host}/clean/left`,
    title: 'remove state, check nothing is left',
    host,
    service: 'clean',
    phase: 'clean',
    timeoutMs: s.COMMAND_TIMEOUT * 1000,
    run: async () => {
      const dirs = [s.STACK_STATE_DIR, s.LOGDIR];
      const paths = [...dirs, '/etc/openstack/clouds.yaml'];
      // Only the directories stack.ts made (marked); any other is named, never removed.
      const foreign = await ctx.host.run(removeOwnDirsCommand(dirs), { check: false, label: 'remove state and logs' });
      for (const d of foreign.stdout.split('\n').filter(Boolean)) {
        leftBehind(ctx, `${d} on ${host}: not removed, stack.ts did not make it (no ${OWN_MARK} in it); remove it yourself if only stack.ts used it`);
      }
      await ctx.host.run(sh('rm', '-f', '--', '/etc/openstack/clouds.yaml'), { check: false, label: 'remove clouds.yaml' });
      for (const f of OUTPUT_FILES) await rm(join(opts.outputsDir, f), { force: true });
      if (opts.purge) {
        const pkgs = [...new Set((await Promise.all(plugins.map((p) => p.packages(ctx)))).flat())];
        for (const cmd of removeCommands(ctx.facts, pkgs, true)) await ctx.host.run(cmd, { timeoutMs: s.COMMAND_TIMEOUT * 1000 });
      }
      for (const p of plugins) {
        for (const d of p.daemons?.(ctx) ?? []) {
          const st = await daemonStatus(ctx.host, ctx.facts, d, s.STACK_STATE_DIR).catch(() => ({ running: false, pid: undefined }));
          if (st.running) leftBehind(ctx, `process ${d.name}${st.pid ? ` (pid ${st.pid})` : ''} still runs`);
        }
      }
      for (const path of paths) if (!foreign.stdout.split('\n').includes(path) && (await ctx.host.exists(path))) leftBehind(ctx, `${path} on ${host}`);
      for (const f of OUTPUT_FILES) if (existsSync(join(opts.outputsDir, f))) leftBehind(ctx, join(opts.outputsDir, f));
      const left = leftOf(ctx);
      if (left.length) {
        throw new StackError(
          `clean could not remove everything on ${host}; left:\n${left.map((l) => `  - ${l}`).join('\n')}`,
          'Each line says what stayed and why; fix that (or remove it by hand) and run ./stack.ts clean again.',
        );
      }
    },
  });
  return [{ id: host, title: `${host}: clean`, host, children: leaves }];
}
