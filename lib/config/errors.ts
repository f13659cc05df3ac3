// One error type for everything wrong in a config file. Problems are collected per file and
// thrown together, so the user can fix all of them in one edit instead of one per run.

import { printable } from '../printable.ts';

export interface ConfigIssue {
  /** Where: "localrc:12", or a path when the problem is the file itself. */
  readonly origin: string;
  /** What is wrong, without the origin. Never contains a password. */
  readonly message: string;
  /** What to do about it. */
  readonly hint?: string;
}

/** "localrc:12: what is wrong" plus the hint on the next line, indented. */
export const formatIssue = (issue: ConfigIssue): string =>
  printable(`${issue.origin}: ${issue.message}` + (issue.hint ? `\n    ${issue.hint}` : ''));

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Origin of the first issue. */
  readonly origin: string;
  /** Hint of the first issue ('' when it has none). */
  readonly hint: string;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[] | ConfigIssue) {
    const list = Array.isArray(issues) ? [...(issues as readonly ConfigIssue[])] : [issues as ConfigIssue];
    if (list.length === 0) throw new Error('ConfigError needs at least one issue');
    super(list.map(formatIssue).join('\n'));
    this.issues = Object.freeze(list.map((i) => Object.freeze({ ...i })));
    this.origin = list[0]!.origin;
    this.hint = list[0]!.hint ?? '';
  }
}

/**
 * A config or secrets file's bytes as text. Bytes that are not UTF-8 (a Latin-1 password, say)
 * would silently turn into U+FFFD and change a password: refuse them with the line, never the text.
 */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    let line = 1;
    // The first byte the lenient decoder replaced: count the lines before it.
    const lenient = new TextDecoder('utf-8').decode(bytes);
    const bad = lenient.indexOf('\uFFFD');
    for (let i = 0; i < bad; i++) if (lenient.charCodeAt(i) === 10) line++;
    throw new ConfigError({
      origin: `${file}:${line}`,
      message: 'this line is not valid UTF-8 text (was the file saved as Latin-1 or another legacy encoding?)',
      hint: `save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 ${file} > ${file}.utf8 && mv ${file}.utf8 ${file}`,
    });
  }
}
