// Ctrl-C / SIGTERM: stop cleanly and leave the run resumable. Running commands are ended by the
// cleanups (closing a host kills what it runs), locks released, the log closed; but a package
// transaction is never cut in half (that leaves dpkg half-configured): while one runs, the stop
// waits for it to finish or fail, then the cleanups run. A second signal while waiting is told so.

type Cleanup = () => Promise<void>;

const cleanups: Cleanup[] = [];
const critical = new Set<Promise<unknown>>();
let stopping: Promise<never> | undefined;
let say: (line: string) => void = (line) => process.stderr.write(`${line}\n`);

/** Run on interrupt, last registered first. Returns a function that unregisters it. */
export function onInterrupt(fn: Cleanup): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Work an interrupt must not cut short (a package transaction): the stop waits for it. */
export async function uninterruptible<T>(fn: () => Promise<T>): Promise<T> {
  const p = fn();
  critical.add(p);
  try {
    return await p;
  } finally {
    critical.delete(p);
  }
}

export const interrupted = (): boolean => stopping !== undefined;

const SIGNAL_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

async function stop(signal: NodeJS.Signals): Promise<never> {
  if (critical.size) {
    say(`${signal}: waiting for the package transaction to finish before stopping (dpkg must not be cut in half)...`);
    await Promise.allSettled([...critical]);
  }
  say(`${signal}: stopping; running commands are ended. ./stack.ts again resumes (finished steps are checked, interrupted ones redone).`);
  for (const fn of [...cleanups].reverse()) await fn().catch(() => undefined);
  process.exit(SIGNAL_CODES[signal] ?? 1);
}

/** Install the handlers once per process; `out` prints the notices (the run's logger). */
export function handleInterrupts(out?: (line: string) => void): void {
  if (out) say = out;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (stopping) {
        say(`${sig}: already stopping${critical.size ? ', waiting for the package transaction' : ''}.`);
        return;
      }
      stopping = stop(sig);
    });
  }
}
