// Verify's proof that a guest really booted: after the test server is ACTIVE, its serial console
// (os-getConsoleOutput, which libvirt answers from the log virtlogd writes) is read until the
// guest's own boot marker appears. ACTIVE alone only says that QEMU was started.

import { StackError } from '../../lib/errors.ts';

/** VERIFY_CONSOLE_PATTERN as a RegExp; a bad one is the user's input, reported with its name. */
export function consolePattern(source: string): RegExp {
  try {
    return new RegExp(source, 'm');
  } catch (err) {
    throw new StackError(`VERIFY_CONSOLE_PATTERN=${source} is not a valid regular expression: ${(err as Error).message}`, 'Fix it in your localrc (the default, login:, matches CirrOS).');
  }
}

/** The console's last n non-empty lines, control characters removed (a guest writes escapes). */
export function consoleTail(output: string, n = 15): string {
  return output
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]/g, '')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
    .slice(-n)
    .join('\n');
}

export interface BootWatch {
  /** The console's current text. */
  readonly read: () => Promise<string>;
  /** Throws when the thing the guest depends on died (nova-compute): no point waiting. */
  readonly check?: () => Promise<void>;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export type BootResult = { readonly seen: true; readonly line: string } | { readonly seen: false; readonly lastOutput: string };

/** Polls the console until the pattern shows up; never throws for a slow guest, it says so. */
export async function waitForBootMarker(pattern: RegExp, w: BootWatch): Promise<BootResult> {
  const now = w.now ?? Date.now;
  const sleep = w.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + w.timeoutMs;
  let last = '';
  for (;;) {
    await w.check?.();
    last = await w.read().catch((err: Error) => `${last}\n(console not readable: ${err.message})`);
    const m = pattern.exec(last);
    if (m) {
      const line = last.slice(last.lastIndexOf('\n', m.index) + 1).split('\n')[0]!.trim();
      return { seen: true, line };
    }
    if (now() >= deadline) return { seen: false, lastOutput: last };
    await sleep(w.intervalMs ?? 2000);
  }
}
