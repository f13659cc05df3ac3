// The last lines of a service's log on its host, always masked: what explains a failure. One
// helper for every service: its own log file (or the newest *.log of a directory), else what its
// daemon wrote (the unit's journal on systemd, the file stack.ts sends a daemon's output to).

import { daemonLogTail, type DaemonSpec } from './daemon.ts';
import type { StackContext } from './plugin.ts';
import { quote } from './shell.ts';

export interface LogTail {
  /** Which log the lines are from, as the user can look it up. */
  readonly file: string;
  /** Masked. */
  readonly lines: string;
}

export interface LogSource {
  /** The service's own log file. */
  readonly file?: string;
  /** Else a directory whose newest *.log is the service's (RabbitMQ names its log after the node). */
  readonly newestIn?: string;
  /** When that says nothing: the daemon's journal or output file. */
  readonly daemon?: DaemonSpec;
  /** How many lines; 30 unless told. */
  readonly lines?: number;
}

/** The tail of a service's log, masked, and where it is from. */
export async function serviceLogTail(ctx: StackContext, src: LogSource): Promise<LogTail> {
  const n = src.lines ?? 30;
  if (src.file) {
    const r = await ctx.host.run(`tail -n ${n} ${quote(src.file)} 2>/dev/null`, { check: false, label: `tail ${src.file}` });
    if (r.stdout.trim() || !src.daemon) return { file: src.file, lines: ctx.log.mask(r.stdout) };
  } else if (src.newestIn) {
    const r = await ctx.host.run(`f=$(ls -t ${src.newestIn}/*.log 2>/dev/null | head -n 1); [ -n "$f" ] && echo "$f" && tail -n ${n} "$f"`, {
      check: false,
      label: `tail the newest log in ${src.newestIn}`,
    });
    const [file, ...lines] = r.stdout.split('\n');
    if (file && lines.join('').trim()) return { file, lines: ctx.log.mask(lines.join('\n')) };
  }
  if (!src.daemon) return { file: src.newestIn ?? 'log', lines: '' };
  const d = await daemonLogTail(ctx.host, ctx.facts, src.daemon, String(ctx.config.settings.STACK_STATE_DIR), n);
  return { file: d.file, lines: ctx.log.mask(d.lines) };
}

/** Only the lines (masked) of one log file; '' when there is no file. */
export async function logTail(ctx: StackContext, file: string | undefined, lines = 30): Promise<string> {
  return file ? (await serviceLogTail(ctx, { file, lines })).lines : '';
}
