// A refusal before anything changed (bad input, a host or source that cannot work): exit code 2,
// like a config error, so a script can tell "fix your input" from "a step failed" (exit 1).

import { StackError } from './plugin.ts';

export class InputError extends StackError {
  readonly exitCode = 2;
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'InputError';
  }
}

/** The process exit code for a failed run. */
export const exitCodeOf = (err: unknown): 1 | 2 => (err instanceof InputError ? 2 : 1);
