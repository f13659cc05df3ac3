// The run's logger: a 0600 log file that records everything (commands in full), a terminal
// stream that shows what the person asked to see, and one mask() every byte passes through.

import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { CommandRecord, Logger } from './log-types.ts';

export interface LoggerOptions {
  /** Log file for this run; created 0600 with its parent directories. None: terminal only. */
  readonly file?: string;
  /** --debug: every command (with its output) and every debug() message reaches the terminal too. */
  readonly debug: boolean;
  readonly verbose?: boolean;
  /** Where terminal lines go (one call per line, no trailing newline). Default: process.stderr. */
  readonly out?: (line: string) => void;
}

export interface RunLogger extends Logger {
  /** A failure the run stops on: always to the terminal and the log file. */
  error(message: string): void;
  /** Flush and close the log file. Later calls still reach the terminal. */
  close(): Promise<void>;
  readonly debugEnabled: boolean;
  readonly verboseEnabled: boolean;
}

export const MASK = '***';

/** RFC 3986 unreserved-only encoding: encodeURIComponent leaves !'()* alone, some clients don't. */
const encodeRfc3986 = (v: string): string =>
  encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * Every way a secret can be spelled in what we write or run: as is, oslo.config's $$ escape,
 * URL-encoded (both flavours, plus form encoding), inside a POSIX single-quoted word, inside a JSON string.
 */
export const escapedForms = (v: string): string[] => {
  const forms = new Set<string>([
    v,
    // Not replaceAll('$', '$$'): in a replacement string '$$' means one '$'.
    v.split('$').join('$$'),
    encodeURIComponent(v),
    encodeRfc3986(v),
    new URLSearchParams({ s: v }).toString().slice(2),
    v.replace(/'/g, `'\\''`),
    JSON.stringify(v).slice(1, -1),
  ]);
  forms.delete('');
  return [...forms];
};

/**
 * Replace every occurrence of any form with ***. Occurrences are found overlapping and merged,
 * so two secrets that share characters (or one inside another) leave nothing of either behind.
 */
export const maskWith = (forms: readonly string[], text: string): string => {
  if (forms.length === 0 || text.length === 0) return text;
  const spans: Array<[number, number]> = [];
  for (const f of forms) {
    for (let at = text.indexOf(f); at !== -1; at = text.indexOf(f, at + 1)) spans.push([at, at + f.length]);
  }
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0]);
  let outText = '';
  let pos = 0;
  let [start, end] = spans[0]!;
  for (const [s, e] of spans.slice(1)) {
    if (s <= end) {
      end = Math.max(end, e);
      continue;
    }
    outText += text.slice(pos, start) + MASK;
    pos = end;
    [start, end] = [s, e];
  }
  return outText + text.slice(pos, start) + MASK + text.slice(end);
};

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

const indent = (text: string, pad: string): string[] =>
  text.replace(/\n$/, '').split('\n').map((l) => pad + l);

/** The lines of one command record, unmasked; the caller masks. */
export const formatCommand = (rec: CommandRecord): string[] => {
  const lines = [`[${rec.host}] $ ${rec.command}`];
  lines.push(`    exit ${rec.exitCode === null ? 'none (killed)' : rec.exitCode} after ${seconds(rec.durationMs)}`);
  if (rec.stdout.trim()) lines.push('    stdout:', ...indent(rec.stdout, '      '));
  if (rec.stderr.trim()) lines.push('    stderr:', ...indent(rec.stderr, '      '));
  return lines;
};

const openLogFile = (file: string): number => {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const fd = openSync(file, 'a', 0o600);
  // The mode given to open() is filtered by umask and ignored for an existing file.
  fchmodSync(fd, 0o600);
  return fd;
};

export function createLogger(opts: LoggerOptions): RunLogger {
  const out = opts.out ?? ((line: string) => void process.stderr.write(line + '\n'));
  const file = opts.file === undefined ? undefined : resolve(opts.file);
  let fd: number | undefined = file === undefined ? undefined : openLogFile(file);
  const secrets = new Set<string>();
  let forms: string[] = [];

  const mask = (text: string): string => maskWith(forms, text);

  const toFile = (lines: readonly string[]): void => {
    if (fd === undefined) return;
    const stamp = new Date().toISOString();
    const body = lines.map((l) => `${stamp} ${mask(l)}\n`).join('');
    writeSync(fd, body);
  };
  const toOut = (lines: readonly string[]): void => {
    for (const l of lines) out(mask(l));
  };
  const split = (message: string): string[] => message.split('\n');

  return {
    file,
    debugEnabled: opts.debug,
    verboseEnabled: opts.verbose ?? false,
    mask,
    addSecret(value: string): void {
      if (value === '' || secrets.has(value)) return;
      secrets.add(value);
      const all = new Set<string>();
      for (const s of secrets) for (const f of escapedForms(s)) all.add(f);
      forms = [...all].sort((a, b) => b.length - a.length);
    },
    command(rec: CommandRecord): void {
      const lines = formatCommand(rec);
      toFile(lines);
      if (opts.debug) toOut(lines);
    },
    info(message: string): void {
      toFile(split(message));
      toOut(split(message));
    },
    warn(message: string): void {
      const lines = split(`warning: ${message}`);
      toFile(lines);
      toOut(lines);
    },
    error(message: string): void {
      toFile(split(message));
      toOut(split(message));
    },
    debug(message: string): void {
      toFile(split(message));
      if (opts.debug) toOut(split(message));
    },
    async close(): Promise<void> {
      if (fd === undefined) return;
      const closing = fd;
      fd = undefined;
      fsyncSync(closing);
      closeSync(closing);
    },
  };
}
