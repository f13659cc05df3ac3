// The configure phase's data path: plugin.configFiles() -> local.conf's post-config merged in ->
// unified diff against the host's current file (plan) or an atomic write when it changed (stack).

import { createTwoFilesPatch } from 'diff';
import type { Config, PostConfigEntry } from './config/types.ts';
import { IniDoc } from './ini.ts';
import { InputError, StackError } from './errors.ts';
import { type ConfigFile, type ServicePlugin, type StackContext } from './plugin.ts';
import { maskOptions } from './mask-options.ts';
import { sh } from './shell.ts';

const targets = (entry: PostConfigEntry, file: ConfigFile): boolean =>
  entry.target === file.path || (file.variable !== undefined && entry.target === file.variable);

/** Apply [[post-config|$FILE]] entries of local.conf to the files a plugin wants, after its own values. */
export function withPostConfig(files: readonly ConfigFile[], postConfig: Config['postConfig']): ConfigFile[] {
  return files.map((file) => {
    const entries = postConfig.filter((e) => targets(e, file));
    if (!entries.length) return file;
    const doc = IniDoc.parse(file.content, { dialect: 'oslo' });
    for (const e of entries) doc.set(e.section, e.key, e.value);
    return { ...file, content: doc.toString() };
  });
}

/** Every file the enabled plugins write, post-config applied. Reads the host, writes nothing. */
export async function renderAll(ctx: StackContext, plugins: readonly ServicePlugin[]): Promise<Map<string, ConfigFile[]>> {
  // configFiles() only reads the host: every plugin's at once (each read is a round trip), kept in plugin order.
  const rendered = await Promise.all(plugins.map(async (p) => (p.configFiles ? ([p.name, withPostConfig(await p.configFiles(ctx), ctx.config.postConfig)] as const) : undefined)));
  return new Map(rendered.filter((r) => r !== undefined));
}

/** A post-config entry whose target no enabled plugin writes would silently do nothing: refuse it up front. */
export function unmatchedPostConfig(config: Config, files: readonly ConfigFile[]): InputError | undefined {
  const bad = config.postConfig.filter((e) => !files.some((f) => targets(e, f)));
  if (!bad.length) return undefined;
  const known = [...new Set(files.map((f) => (f.variable ? `$${f.variable} (${f.path})` : f.path)))].join(', ');
  return new InputError(
    bad.map((e) => `${e.origin}: [[post-config|${e.target.startsWith('/') ? e.target : '$' + e.target}]] names no file stack.ts writes`).join('\n'),
    `Files that can be targeted: ${known}`,
  );
}

/**
 * The unified diff a plan shows: current file on the host -> what stack would write. Secrets are
 * hidden by key on both sides (the host's file may hold passwords this run does not know) and by
 * value; a changed password still shows as a -/+ pair of *** lines.
 */
export function fileDiff(path: string, current: string | null, next: string, mask: (s: string) => string): string {
  if (current === next) return '';
  return mask(maskOptions(createTwoFilesPatch(current === null ? '/dev/null' : path, path, current ?? '', next, '', '', { context: 2 })));
}

/** Every file the plugins would change on this host, with its diff (masked); none when nothing changes. */
export async function planFileChanges(ctx: StackContext, plugins: readonly ServicePlugin[]): Promise<Array<{ path: string; diff: string }>> {
  const out: Array<{ path: string; diff: string }> = [];
  for (const f of [...(await renderAll(ctx, plugins)).values()].flat()) {
    const diff = fileDiff(f.path, await ctx.host.readFileIfExists(f.path), f.content, (t) => ctx.log.mask(t));
    if (diff) out.push({ path: f.path, diff });
  }
  return out;
}

/** The diffs `plan` prints for every file the plugins would write, masked; none when nothing changes. */
export async function planDiffs(ctx: StackContext, plugins: readonly ServicePlugin[]): Promise<string[]> {
  return (await planFileChanges(ctx, plugins)).map((c) => c.diff);
}

/**
 * Write a file only when its content (or nothing yet) differs: a re-run leaves mtimes alone. A file
 * whose content is right but whose mode or owner is not (a password file someone made 0644) is
 * corrected in place.
 */
export async function writeIfChanged(ctx: StackContext, file: ConfigFile): Promise<boolean> {
  const current = await ctx.host.readFileIfExists(file.path);
  if (current === file.content) {
    await fixModeAndOwner(ctx, file);
    return false;
  }
  await ctx.host.writeFile(file.path, file.content, { mode: file.mode, owner: file.owner });
  return true;
}

async function fixModeAndOwner(ctx: StackContext, file: ConfigFile): Promise<void> {
  const r = await ctx.host.run(sh('stat', '-c', '%a %U:%G', file.path), { check: false, label: `mode and owner of ${file.path}` });
  const [mode, owner] = r.stdout.trim().split(' ');
  if (r.exitCode !== 0 || mode === undefined) return;
  const want = file.mode.toString(8);
  if (Number.parseInt(mode, 8) !== file.mode) {
    ctx.log.warn(`${ctx.host.name}: ${file.path} had mode ${mode.padStart(4, '0')}; set it back to ${want.padStart(4, '0')}`);
    await ctx.host.run(sh('chmod', want, file.path));
  }
  if (file.owner && owner !== file.owner && !(file.owner.indexOf(':') < 0 && owner?.startsWith(`${file.owner}:`))) {
    ctx.log.warn(`${ctx.host.name}: ${file.path} was owned by ${owner}; set it back to ${file.owner}`);
    await ctx.host.run(sh('chown', '--', file.owner, file.path));
  }
}
