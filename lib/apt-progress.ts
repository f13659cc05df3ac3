// Progress of a long apt transaction from apt's own status stream (APT::Status-Fd): apt writes
// "dlstatus:..." while downloading and "pmstatus:PKG:PERCENT:WHAT" while dpkg works. The stream
// goes to a file on the host, and a poller turns its last line into one progress line every few
// seconds, so a 4-minute install never looks like a hang (seed 004).

import type { Host } from './host/types.ts';
import { quote } from './shell.ts';

/** Where the install's status stream goes on the host (tmpfs; removed afterwards). */
export const APT_STATUS_FILE = '/run/stack-ts-apt-status';

/** Appended to the apt-get line: its status stream (fd 3) into the file. */
export const withStatusFd = (aptLine: string, file = APT_STATUS_FILE): string => `${aptLine} -o APT::Status-Fd=3 3>${quote(file)}`;

const clock = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

/**
 * One status line -> what to show. "pmstatus:keystone:62.5:Unpacking keystone (2:22.0.0-2)" ->
 * "installing 62% (Unpacking keystone (2:22.0.0-2))". Unknown or empty -> undefined.
 */
export function describeAptStatus(line: string): string | undefined {
  const m = /^(dlstatus|pmstatus|pmerror|pmconffile|media-change):([^:]*):([\d.]+)?:?(.*)$/.exec(line.trim());
  if (!m) return undefined;
  const [, kind, , pct, what] = m;
  const p = pct !== undefined ? `${Math.floor(Number(pct))}%` : '';
  if (kind === 'dlstatus') return `downloading ${p} (${what})`.trim();
  if (kind === 'pmstatus') return `installing ${p} (${what})`.trim();
  if (kind === 'pmerror') return `dpkg error: ${what}`;
  return undefined;
}

export interface AptWatch {
  stop(): Promise<void>;
}

/**
 * Every intervalMs, read the status file's last line and report it with the time elapsed; a
 * line is reported each interval even when apt said nothing new (a long postinst), so the run
 * visibly lives. Polls never overlap.
 */
export function watchAptStatus(
  host: Host,
  report: (line: string) => void,
  opts: { intervalMs?: number; file?: string; initial?: string; onAdvance?: () => void } = {},
): AptWatch {
  const file = opts.file ?? APT_STATUS_FILE;
  const started = Date.now();
  let last = opts.initial ?? 'starting apt-get';
  let polling: Promise<void> = Promise.resolve();
  let stopped = false;
  const poll = async (): Promise<void> => {
    const r = await host.run(`tail -n 1 ${quote(file)} 2>/dev/null`, { check: false, timeoutMs: 10_000, label: 'apt progress' }).catch(() => undefined);
    const now = r ? describeAptStatus(r.stdout.split('\n').pop() ?? '') : undefined;
    // Only a new status is an advance: the elapsed time in the reported line changes anyway.
    if (now && now !== last) opts.onAdvance?.();
    if (now) last = now;
    if (!stopped) report(`${last}, ${clock(Date.now() - started)}`);
  };
  const timer = setInterval(() => {
    polling = polling.then(poll);
  }, opts.intervalMs ?? 5000);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await polling;
      await host.run(`rm -f ${quote(file)}`, { check: false, label: 'remove apt progress file' });
    },
  };
}
