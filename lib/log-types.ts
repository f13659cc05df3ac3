// What the output layer offers to everything else. Every byte that reaches the terminal or a
// log file passes through mask(), so a secret can only leak by bypassing this interface.

export interface CommandRecord {
  readonly host: string;
  readonly command: string;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

export interface Logger {
  /** Replace every known secret (and its escaped forms) in text with ***. */
  mask(text: string): string;
  /** Register a secret; from now on it is masked everywhere, including its $$-, URL- and shell-escaped forms. */
  addSecret(value: string): void;
  /** A command that ran on a host: always to the log file; to the terminal with --debug. */
  command(rec: CommandRecord): void;
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** Absolute path of this run's log file, if any. */
  readonly file: string | undefined;
}
