// What LocalHost and SshHost share after a command ends: one log record per command, the
// timed-out marker, and the CommandError thrown when check is on. Kept here so both hosts
// report a command the same way.

import type { Logger } from '../log-types.ts';
import { CommandError, type RunResult } from './types.ts';

/** Exit code reported for a command that was killed at its timeout (what coreutils' timeout uses). */
export const TIMEOUT_EXIT_CODE = 124;

/** What run() really returns: RunResult plus whether the command was killed at its timeout. */
export interface HostRunResult extends RunResult {
  readonly timedOut: boolean;
  /** The prompt the command was stopped at, when it waited for input (see input-wait.ts). */
  readonly waitingForInput?: string;
}

/** True when run() (with check: false) returned a command that was killed at its timeout. */
export const wasTimedOut = (result: RunResult): boolean => (result as Partial<HostRunResult>).timedOut === true;

/** The prompt run() (with check: false) stopped a command at, or undefined. */
export const waitedForInput = (result: RunResult): string | undefined => (result as Partial<HostRunResult>).waitingForInput;

/** Like execa's default and $(...) in sh: one trailing newline is not part of the value. */
export const stripFinalNewline = (text: string): string =>
  text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;

export interface Finished {
  readonly host: string;
  /** What is shown: the label when one was given, else the command. */
  readonly shown: string;
  readonly exitCode: number;
  readonly timedOut: boolean;
  /** Set when the command was stopped at this prompt. */
  readonly waitingForInput?: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly check: boolean;
  /** Logged instead of stdout, e.g. "(1234 bytes)" for a file read. */
  readonly stdoutForLog?: string;
}

/** Logs the command, then returns its result, or throws CommandError when check is on and it failed. */
export function finishCommand(log: Logger, f: Finished): HostRunResult {
  log.command({
    host: f.host,
    command: f.shown,
    exitCode: f.timedOut || f.waitingForInput !== undefined ? null : f.exitCode,
    stdout: f.stdoutForLog ?? f.stdout,
    stderr: f.stderr,
    durationMs: f.durationMs,
  });
  const result: HostRunResult = {
    command: f.shown,
    exitCode: f.exitCode,
    stdout: f.stdout,
    stderr: f.stderr,
    durationMs: f.durationMs,
    timedOut: f.timedOut,
    ...(f.waitingForInput !== undefined ? { waitingForInput: f.waitingForInput } : {}),
  };
  if (f.check && (f.timedOut || f.waitingForInput !== undefined || f.exitCode !== 0)) {
    // The error's text reaches the terminal; mask it here so no caller has to remember to.
    const shown: RunResult = {
      command: log.mask(result.command),
      exitCode: result.exitCode,
      stdout: log.mask(result.stdout),
      stderr: log.mask(result.stderr),
      durationMs: result.durationMs,
    };
    throw new CommandError(f.host, shown, f.timedOut, log.file, f.waitingForInput === undefined ? undefined : log.mask(f.waitingForInput));
  }
  return result;
}
