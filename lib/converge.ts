// Convergent re-runs: a step records, on the host, the fingerprint of its inputs together with
// the state it left (a schema's tables and version, say). A re-run skips the step only when the
// inputs are the same AND the state observed now is still the one it left: a dropped table, an
// emptied database or a sync killed halfway (no stamp, or another state) redoes it.
// The stamp holds only a hash (inputs may include secrets).

import path from 'node:path';
import { fingerprintOf } from './checkpoint.ts';
import type { StackContext } from './plugin.ts';
import { sh } from './shell.ts';
import { partSkipped } from './step-notes.ts';

export const stampPath = (ctx: StackContext, key: string): string =>
  path.posix.join(String(ctx.config.settings.STACK_STATE_DIR), 'converge', `${key.replace(/[^A-Za-z0-9_.-]+/g, '_')}.sha256`);

export interface ConvergeStep {
  /** Stable name, e.g. "nova-manage db sync". */
  readonly key: string;
  /** What the step's result depends on: command, package version, target. */
  readonly inputs: readonly unknown[];
  /** Reads the state the step produces (cheap, read-only). */
  observe(): Promise<unknown>;
  run(): Promise<void>;
}

/** Run the step unless its stamp still matches; returns what happened. */
export async function converge(ctx: StackContext, step: ConvergeStep): Promise<'unchanged' | 'done'> {
  const stamp = stampPath(ctx, step.key);
  const recorded = ((await ctx.host.readFileIfExists(stamp)) ?? '').trim();
  if (recorded && recorded === fingerprintOf(step.inputs, await step.observe())) {
    ctx.log.info(`${ctx.host.name}: ${step.key}: unchanged since its last run, and its result is still in place; skipped`);
    partSkipped(`${step.key} unchanged`);
    return 'unchanged';
  }
  // Forget the old stamp first: a run killed during the step must redo it, not trust it.
  if (recorded) await ctx.host.run(sh('rm', '-f', stamp), { label: `forget ${step.key}` });
  await step.run();
  await ctx.host.run(sh('install', '-d', '-m', '700', path.posix.dirname(stamp)), { label: 'state directory' });
  await ctx.host.writeFile(stamp, `${fingerprintOf(step.inputs, await step.observe())}\n`, { mode: 0o600 });
  return 'done';
}

/** The installed version of a package (empty when not installed): an input of steps its code runs. */
export async function packageVersion(ctx: StackContext, pkg: string): Promise<string> {
  const r = await ctx.host.run(`dpkg-query -W -f='\${Version}' ${sh(pkg)} 2>/dev/null || rpm -q --qf '%{VERSION}-%{RELEASE}' ${sh(pkg)} 2>/dev/null`, {
    check: false,
    label: `version of ${pkg}`,
  });
  return r.exitCode === 0 ? r.stdout.trim() : '';
}
