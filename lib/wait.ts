// Readiness: a service is up when it answers HTTP, not when its port is open (uwsgi binds the
// socket seconds before the app can serve, and a proxy in front answers 502/503 meanwhile).

import http from 'node:http';
import https from 'node:https';
import { findCause } from './log-cause.ts';
import { StackError } from './errors.ts';

export interface WaitForHttpOptions {
  /** Shown in the error: "glance-api did not answer ...". Default: the URL's host:port. */
  readonly name?: string;
  readonly timeoutMs: number;
  /** Which statuses mean "up". Default: any status below 500 (see defaultOkStatus). */
  readonly okStatus?: (status: number) => boolean;
  /** Pause between attempts. Default FAST_POLL_MS. */
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
  /** Called once on timeout; returns the service log's last lines, shown with the error. */
  readonly onTimeout?: () => Promise<string>;
  /** What onTimeout's lines are the tail of, for the error. Default "log". */
  readonly logFile?: string;
  /**
   * Whether the service's process still runs (its pid watched). Asked about once a second: a
   * daemon that died while starting is reported within seconds, with its log's cause, instead of
   * after the whole timeout.
   */
  readonly alive?: () => Promise<boolean>;
}

/**
 * An API that answers 401 or 404 is up. No 5xx is: 502/503/504 come from something in front of a
 * service that is not there yet, and uwsgi answers 500 while (or because) the app failed to load;
 * the last status is named in the timeout error, so a 500 that never goes away is still explained.
 */
export const defaultOkStatus = (status: number): boolean => status > 0 && status < 500;

/**
 * How often a wait asks again where asking is cheap: one request to an API of the cloud, or one
 * short command over the open SSH connection. A condition that has come true is seen within this;
 * a one-second interval lost half a second on average in every such wait on the run's path.
 */
export const FAST_POLL_MS = 250;

/**
 * verify's test server: its few waits (ACTIVE, its port bound, gone again) are most of a no-change
 * re-run, and ask a cloud that has nothing else to do by then. Not for waits during a first run's
 * starts, where each ask takes CPU from the services being waited for.
 */
export const TEST_SERVER_POLL_MS = 100;

/** Longest single attempt: a service that accepted the connection but hangs is retried, not waited on forever. */
const ATTEMPT_TIMEOUT_MS = 5000;

/** One GET: resolves with the status, or with a short reason why there was none. */
function probe(url: URL, timeoutMs: number): Promise<{ status: number } | { error: string }> {
  return new Promise((resolve) => {
    const lib = url.protocol === 'https:' ? https : http;
    // agent: false - a fresh connection each time, no keep-alive socket to a half-started server.
    const req = lib.get(url, { agent: false, timeout: timeoutMs, headers: { Accept: 'application/json' } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
      req.destroy();
    });
    req.on('timeout', () => {
      req.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      resolve({ error: err.code === 'ECONNREFUSED' ? 'connection refused' : err.code ?? err.message });
    });
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const abortError = (signal: AbortSignal): Error =>
  signal.reason instanceof Error ? signal.reason : new Error('waiting for the service was aborted');

/** Polls url until it answers with an ok status; resolves with that status. */
export async function waitForHttp(url: string, opts: WaitForHttpOptions): Promise<number> {
  const target = new URL(url);
  const ok = opts.okStatus ?? defaultOkStatus;
  const interval = opts.intervalMs ?? FAST_POLL_MS;
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  let last = 'no attempt';
  let nextAliveCheck = started + 1000;
  for (;;) {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    if (opts.alive && Date.now() >= nextAliveCheck) {
      nextAliveCheck = Date.now() + 1000;
      if (!(await opts.alive().catch(() => true))) throw await diedError(url, opts, Date.now() - started);
    }
    const remaining = deadline - Date.now();
    const r = await probe(target, Math.max(100, Math.min(ATTEMPT_TIMEOUT_MS, remaining)));
    if ('status' in r) {
      if (ok(r.status)) return r.status;
      last = `HTTP ${r.status}`;
    } else {
      last = r.error;
    }
    if (Date.now() + interval >= deadline) break;
    await sleep(interval, opts.signal);
  }
  const name = opts.name ?? target.host;
  const secs = Math.round(opts.timeoutMs / 1000);
  let lines = '';
  if (opts.onTimeout) {
    try {
      lines = await opts.onTimeout();
    } catch (err) {
      lines = `(could not read the log: ${(err as Error).message})`;
    }
  }
  const cause = findCause(lines);
  throw new StackError(
    `${name} did not answer at ${url} within ${secs} s (last attempt: ${last})${cause ? `; its log says: ${cause.line}` : ''}`,
    cause ? cause.hint : last === 'connection refused'
      ? `Nothing listens there: the service exited or binds another address or port. Its log${opts.logFile ? ` (${opts.logFile})` : ''} says which.`
      : `It accepts connections but does not answer as a working API: its log${opts.logFile ? ` (${opts.logFile})` : ''} says why.`,
    lines.trim() !== '' ? { file: opts.logFile ?? 'log', lines } : undefined,
  );
}

/** The service's process is gone: say so at once, with the cause its log names. */
async function diedError(url: string, opts: WaitForHttpOptions, elapsedMs: number): Promise<StackError> {
  const name = opts.name ?? new URL(url).host;
  let lines = '';
  if (opts.onTimeout) lines = await opts.onTimeout().catch((err: Error) => `(could not read the log: ${err.message})`);
  const cause = findCause(lines);
  return new StackError(
    `${name} exited while starting (after ${(elapsedMs / 1000).toFixed(0)} s, before it answered at ${url})${cause ? `; its log says: ${cause.line}` : ''}`,
    cause?.hint ?? `Its log${opts.logFile ? ` (${opts.logFile})` : ''} says why (a config error, a port in use, a missing directory or permission).`,
    lines.trim() !== '' ? { file: opts.logFile ?? 'log', lines } : undefined,
  );
}

// The general loop: ask probe until it says ok or the time is up (the infrastructure plugins'
// "started" is "answers the way its clients will ask").

export interface PollResult {
  readonly ok: boolean;
  /** Why the last probe failed, for the error message. */
  readonly detail?: string;
  /** The answer will not change (what was waited for is gone): stop now, not at the timeout. */
  readonly final?: boolean;
}

export interface PollOptions {
  readonly timeoutMs: number;
  /** Pause between probes. */
  readonly intervalMs?: number;
}

/** Runs probe until it reports ok or final, or the time is up; returns the last result. Never throws for a failed probe. */
export async function pollUntil(probe: () => Promise<PollResult>, opts: PollOptions): Promise<PollResult & { tries: number; elapsedMs: number }> {
  const start = Date.now();
  const interval = opts.intervalMs ?? 1000;
  let tries = 0;
  for (;;) {
    tries++;
    let last: PollResult;
    try {
      last = await probe();
    } catch (err) {
      last = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    const elapsedMs = Date.now() - start;
    if (last.ok || last.final || elapsedMs + interval > opts.timeoutMs) return { ...last, tries, elapsedMs };
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** The last n non-empty lines of a text. */
export const lastLines = (text: string, n: number): string =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-n)
    .join('\n');

/** Like Promise.all, but waits for every promise before it throws the first rejection in their order. */
export async function settledInOrder<T extends readonly unknown[]>(ps: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const out = await Promise.allSettled(ps);
  const failed = out.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
  return out.map((o) => (o as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}
