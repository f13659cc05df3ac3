// The errors stack.ts raises on purpose, and the one place that turns a failure into the
// process's exit code. At the bottom of lib/: every floor may import it, it imports nothing.
//
// Exit codes (README "Commands"): 0 ok, 1 a step failed, 2 bad input (command line, config file,
// unreachable host, a preflight finding, another run holding the lock). 130/143 after a signal
// are lib/interrupt.ts's, not a failure's.

/** A failure the user can act on: what broke, where, and what to do. Rendered without a stack trace. */
export class StackError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    /** Lines from a service log that explain the failure (already masked). */
    readonly logTail?: { file: string; lines: string },
  ) {
    super(message);
    this.name = 'StackError';
  }
}

/**
 * A refusal before anything changed (bad input, a host or source that cannot work): exit code 2,
 * like a config error, so a script can tell "fix your input" from "a step failed" (exit 1).
 */
export class InputError extends StackError {
  readonly exitCode = EXIT_INPUT;
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'InputError';
  }
}

export const EXIT_FAILED = 1;
export const EXIT_INPUT = 2;

/**
 * When the error stopped the run: `setup` is everything before the first task (the command line,
 * the config file, reaching and probing the hosts, taking the locks), where nothing was changed
 * and any failure is the input's; `run` is the task tree and what follows it.
 */
export type FailedAt = 'setup' | 'run';

const isInputError = (err: unknown): boolean =>
  err instanceof InputError || (err instanceof Error && err.name === 'InputError');

/** The process exit code for a failed command: the one place that decides it. */
export const exitCodeOf = (err: unknown, at: FailedAt = 'run'): 1 | 2 =>
  at === 'setup' || isInputError(err) ? EXIT_INPUT : EXIT_FAILED;
