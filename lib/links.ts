// Verify's first step: find the broken link of the cloud, not a symptom three services away.
// Every daemon of the host first (a stopped one explains whatever fails after it), then each
// plugin's own links in plugin order (MariaDB before Keystone before the services that use
// both): the first failure is reported with the service at fault, its host, the link, and the
// lines of that service's log from the failure's time window (since this host last passed verify).

import path from 'node:path';
import { daemonStatus } from './daemon.ts';
import { findCause, linesSince } from './log-cause.ts';
import { StackError } from './errors.ts';
import { type ServicePlugin, type StackContext } from './plugin.ts';
import { sh } from './shell.ts';

/** Touched each time this host passes verify: the fault being looked for came after it. */
export const verifiedStampPath = (ctx: StackContext): string => path.posix.join(String(ctx.config.settings.STACK_STATE_DIR), 'verified-at');

/** The log window can reach back no further than this. */
const MAX_WINDOW_MS = 3_600_000;

/** When the failure's time window starts: when this host last passed verify, at most an hour ago. */
export async function windowStart(ctx: StackContext, now = new Date()): Promise<Date> {
  const r = await ctx.host.run(`stat -c %Y ${sh(verifiedStampPath(ctx))} 2>/dev/null`, { check: false, label: 'when verify last passed' });
  const passed = Number.parseInt(r.stdout.trim(), 10) * 1000;
  const earliest = now.getTime() - MAX_WINDOW_MS;
  // A second back: the stamp has whole seconds, the logs' lines of that second belong to the window.
  return new Date(Number.isFinite(passed) && passed - 1000 > earliest ? passed - 1000 : earliest);
}

/** The last `n` lines of a log written since `since` (masked); empty when there are none. */
export async function windowLines(ctx: StackContext, file: string, since: Date, n = 20): Promise<string> {
  // A * picks the newest matching file (RabbitMQ names its log after the node).
  const target = file.includes('*') ? `"$(ls -t ${file.split('*').map((p) => (p ? sh(p) : '')).join('*')} 2>/dev/null | head -n 1)"` : sh(file);
  const r = await ctx.host.run(`tail -n 500 ${target} 2>/dev/null`, { check: false, label: `tail ${file}` });
  const inWindow = linesSince(r.stdout, since).split('\n').filter((l) => l.trim() !== '');
  return ctx.log.mask(inWindow.slice(-n).join('\n'));
}

export interface BrokenLink {
  readonly service: string;
  readonly host: string;
  readonly link: string;
  /** What is wrong, as a sentence without the service's name ("is not running"). */
  readonly what: string;
  readonly hint: string;
  readonly log?: { file: string; lines: string };
}

/** A StackError that keeps which link broke, for verify --json. */
export class BrokenLinkError extends StackError {
  constructor(
    message: string,
    hint: string,
    logTail: { file: string; lines: string } | undefined,
    readonly broken: { readonly service: string; readonly host: string; readonly link: string },
  ) {
    super(message, hint, logTail);
  }
}

/** The one message shape of a broken link: service and host first, then the link by name. */
export function brokenLinkError(b: BrokenLink): BrokenLinkError {
  const cause = b.log?.lines ? findCause(b.log.lines) : undefined;
  return new BrokenLinkError(
    `${b.service} on ${b.host} ${b.what}.\n  Broken link: ${b.link}${cause ? `\n  Its log says: ${cause.line}` : ''}`,
    cause && !/ is not running|is stopped/.test(b.what) ? `${cause.hint} ${b.hint}` : b.hint,
    b.log ? { file: b.log.file, lines: b.log.lines || '(nothing logged there in this time window)' } : undefined,
    { service: b.service, host: b.host, link: b.link },
  );
}

/** How long a link that nothing answers waits for its daemon to be seen gone (uWSGI's master outlives its closed socket). */
const SHUTDOWN_SETTLE_MS = 5_000;
const SHUTDOWN_POLL_MS = 500;
/** A verdict that a daemon shutting down would give: its port closed or the connection cut. */
const UNREACHABLE = /nothing answers|connection refused|ECONNREFUSED|ECONNRESET|socket hang up|does not answer/i;

/** The first broken link on this host, or undefined when every link holds. */
export async function findBrokenLink(ctx: StackContext, plugins: readonly ServicePlugin[], since: Date): Promise<BrokenLinkError | undefined> {
  const stateDir = String(ctx.config.settings.STACK_STATE_DIR);
  const log = async (file: string | undefined) => (file ? { file, lines: await windowLines(ctx, file, since) } : undefined);
  const daemons = plugins.flatMap((p) => (p.daemons?.(ctx) ?? []).map((d) => ({ p, d })));
  /** The first daemon in plugin order that is not running, named as its broken link. */
  const stoppedDaemon = async (): Promise<BrokenLinkError | undefined> => {
    // Every daemon's status at once (one round trip on a loaded host), reported in plugin order.
    const running = await Promise.all(daemons.map(({ d }) => daemonStatus(ctx.host, ctx.facts, d, stateDir).then((st) => st.running)));
    const i = running.indexOf(false);
    if (i < 0) return undefined;
    const { p, d } = daemons[i]!;
    // Its own log, or where its output went when that log says nothing of this window (a
    // daemon killed, or one whose last words went to stderr).
    let lines = await log(d.ownLog ?? d.logFile);
    if (lines && !lines.lines && d.ownLog && d.logFile) {
      const output = await log(d.logFile);
      if (output?.lines) lines = output;
    }
    return brokenLinkError({
      service: d.name,
      host: ctx.host.name,
      link: d.link ?? `${p.name} -> ${d.name}`,
      what: 'is not running (stopped, or its process died)',
      hint: `./stack.ts starts it again; its log below (since ${since.toISOString()}) tells how it ended.`,
      log: lines,
    });
  };
  const stopped = await stoppedDaemon();
  if (stopped) return stopped;
  // Every link checked at once, each verdict read in plugin order: the first broken one in that
  // order is named (the cheapest, nearest cause), as when they ran one after another, and a no-change
  // re-run waits for the slowest check instead of their sum.
  const links = (await Promise.all(plugins.map(async (p) => (await p.links?.(ctx)) ?? []))).flat();
  const verdicts = links.map((l) =>
    Promise.resolve().then(() => l.check()).catch((err: unknown) => `cannot be checked: ${ctx.log.mask((err as Error).message.split('\n')[0] ?? '')}`),
  );
  for (const [i, l] of links.entries()) {
    const what = await verdicts[i];
    if (!what) continue;
    // A daemon killed a moment ago may still have had a live pid when its status was read while
    // its port was already closed: the stopped daemon is the cause, the refused link its symptom.
    for (let waited = 0; ; waited += SHUTDOWN_POLL_MS) {
      const gone = await stoppedDaemon();
      if (gone) return gone;
      if (daemons.length === 0 || !UNREACHABLE.test(what) || waited >= SHUTDOWN_SETTLE_MS) break;
      await new Promise((r) => setTimeout(r, SHUTDOWN_POLL_MS));
    }
    return brokenLinkError({ service: l.service, host: ctx.host.name, link: l.link, what, hint: l.hint, log: await log(l.log) });
  }
  return undefined;
}

/**
 * A functional check of verify, reported as the broken link when one shows up after it failed: a
 * daemon still shutting down passes the links step, and a few seconds later the check after it
 * fails on the symptom ("exited" with an older error, a refused connection) instead of the cause.
 */
export async function checkNamingTheLink(
  ctx: StackContext,
  plugins: readonly ServicePlugin[],
  check: () => Promise<void>,
  /** The links verdicts of this verify's hosts (running beside the check): a broken link they name wins. */
  linkVerdicts: readonly Promise<BrokenLinkError | undefined>[] = [],
): Promise<void> {
  try {
    await check();
  } catch (err) {
    const named = (await Promise.all(linkVerdicts)).find((b) => b !== undefined);
    if (named) throw named;
    const broken = await findBrokenLink(ctx, plugins, await windowStart(ctx)).catch(() => undefined);
    throw broken ?? err;
  }
}
