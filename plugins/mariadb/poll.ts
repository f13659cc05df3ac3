// Wait for a daemon to answer, by asking it the way its clients will. Shared by the
// infrastructure plugins (mariadb, rabbitmq, memcached); their "started" is "answers".

export interface PollResult {
  readonly ok: boolean;
  /** Why the last probe failed, for the error message. */
  readonly detail?: string;
}

export interface PollOptions {
  readonly timeoutMs: number;
  /** Pause between probes. */
  readonly intervalMs?: number;
}

/** Runs probe until it reports ok or the time is up; returns the last result. Never throws for a failed probe. */
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
    if (last.ok || elapsedMs + interval > opts.timeoutMs) return { ...last, tries, elapsedMs };
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
