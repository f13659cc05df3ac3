// Turns whatever stopped the run into text for the person at the terminal: what failed, where,
// the lines that explain it, what to do, and where the full log is. No stack trace unless --debug.

import { printable } from './printable.ts';
import { CommandError } from './host/types.ts';
import { StackError } from './errors.ts';

export interface RenderOptions {
  /** --debug: append the stack of errors we did not anticipate. */
  readonly debug?: boolean;
}

const TAIL_LINES = 20;

const tail = (text: string, n = TAIL_LINES): string[] => {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.length === 1 && lines[0] === '' ? [] : lines.slice(-n);
};

const indented = (lines: readonly string[]): string[] => lines.map((l) => `    ${l}`);

interface IssueLike {
  readonly origin: string;
  readonly message: string;
  readonly hint?: string;
}

const isIssueList = (err: unknown): err is { issues: IssueLike[] } =>
  typeof err === 'object' &&
  err !== null &&
  Array.isArray((err as { issues?: unknown }).issues) &&
  (err as { issues: unknown[] }).issues.every(
    (i) => typeof i === 'object' && i !== null && typeof (i as IssueLike).message === 'string',
  );

/** CommandError is checked by shape too: a second copy of the module (tests, tsx reloads) breaks instanceof. */
const isCommandError = (err: unknown): err is CommandError =>
  err instanceof CommandError ||
  (err instanceof Error && err.name === 'CommandError' && typeof (err as CommandError).result === 'object');

const isStackError = (err: unknown): err is StackError =>
  err instanceof StackError || (err instanceof Error && err.name === 'StackError');

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

function renderCommandError(err: CommandError, logFile: string | undefined): string[] {
  const r = err.result;
  const head = err.waitingForInput !== undefined
    ? `Command stopped on ${err.host}, waiting for input (it asked "${err.waitingForInput}" and stack.ts has nothing more to give it): ${r.command}`
    : err.timedOut
    ? `Command timed out on ${err.host} after ${seconds(r.durationMs)}: ${r.command}`
    : `Command failed on ${err.host} (exit ${r.exitCode}): ${r.command}`;
  const lines = [head];
  const stderr = tail(r.stderr);
  const shown = stderr.length > 0 ? { name: 'stderr', lines: stderr } : { name: 'stdout', lines: tail(r.stdout) };
  if (shown.lines.length > 0) lines.push(`Last lines of its ${shown.name}:`, ...indented(shown.lines));
  const file = err.logFile ?? logFile;
  if (file) lines.push(`Full log: ${file}`);
  return lines;
}

function renderStackError(err: StackError, logFile: string | undefined): string[] {
  const lines = [err.message];
  if (err.logTail && err.logTail.lines.trim()) {
    lines.push(`Last lines of ${err.logTail.file}:`, ...indented(tail(err.logTail.lines)));
  }
  if (err.hint) lines.push(`What to do: ${err.hint}`);
  if (logFile) lines.push(`Full log: ${logFile}`);
  return lines;
}

function renderIssues(err: { issues: IssueLike[] }): string[] {
  const n = err.issues.length;
  const lines = [`The configuration has ${n} problem${n === 1 ? '' : 's'}:`];
  for (const i of err.issues) {
    lines.push(`  ${i.origin ? `${i.origin}: ` : ''}${i.message}`);
    if (i.hint) lines.push(`      ${i.hint}`);
  }
  return lines;
}

function render(err: unknown, logFile: string | undefined, debug: boolean, depth: number): string[] {
  if (isCommandError(err)) return renderCommandError(err, logFile);
  if (isStackError(err)) return renderStackError(err, logFile);
  if (isIssueList(err)) return renderIssues(err);
  if (!(err instanceof Error)) return [String(err)];
  const lines = [err.message || err.name];
  // A wrapper ("starting nova-api: ...") whose cause is one of ours: show both.
  if (err.cause !== undefined && depth < 3) {
    lines.push('Caused by:', ...render(err.cause, logFile, debug, depth + 1).map((l) => `  ${l}`));
  } else if (logFile && depth === 0) {
    lines.push(`Full log: ${logFile}`);
  }
  if (debug && err.stack) lines.push(...err.stack.split('\n').slice(1));
  return lines;
}

/**
 * The text shown when a run stops. `mask` is the run logger's mask: the result never carries a
 * secret even if an error message quoted one.
 */
export function renderError(
  err: unknown,
  logFile?: string,
  mask: (text: string) => string = (t) => t,
  opts: RenderOptions = {},
): string {
  // Messages quote values from files and hosts: their control bytes are shown escaped.
  return mask(printable(render(err, logFile, opts.debug ?? false, 0).join('\n')));
}
