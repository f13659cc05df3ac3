// One error type for everything wrong in a config file. Problems are collected per file and
// thrown together, so the user can fix all of them in one edit instead of one per run.

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
  `${issue.origin}: ${issue.message}` + (issue.hint ? `\n    ${issue.hint}` : '');

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
