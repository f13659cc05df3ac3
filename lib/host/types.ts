// The one interface every layer above uses to touch a machine. Two implementations:
// local.ts (execa) and ssh.ts (ssh2). Plugins never import execa or ssh2 themselves.

export interface RunOptions {
  /** Data written to the command's stdin (e.g. SQL), which is then closed. Never logged. */
  readonly input?: string;
  /**
   * One secret line for the command's stdin (a password): sent with its terminating newline,
   * then stdin is closed. Never logged. A command that prompts for more is reported as waiting for input.
   */
  readonly secret?: string;
  /** Milliseconds before the command is killed; default from the host's construction. */
  readonly timeoutMs?: number;
  /** Extra environment for the command. Values are masked in logs if they are secrets. */
  readonly env?: Readonly<Record<string, string>>;
  /** When false, a non-zero exit is returned instead of thrown. Default true. */
  readonly check?: boolean;
  /** Shown in logs and errors instead of the command, when the command itself is noisy. */
  readonly label?: string;
}

export interface RunResult {
  readonly command: string;
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

export interface WriteOptions {
  /** Octal mode, e.g. 0o640. Default 0o644. */
  readonly mode?: number;
  /** "user" or "user:group". Default: leave as the writer made it (root). */
  readonly owner?: string;
}

export interface Forward {
  /** Port on 127.0.0.1 of this machine that reaches the remote port. */
  readonly port: number;
  close(): Promise<void>;
}

export type DistroFamily = 'debian' | 'rhel';
export type InitSystem = 'systemd' | 'sysv';

export interface HostFacts {
  readonly family: DistroFamily;
  /** e.g. "debian", "ubuntu", "rocky" (ID from /etc/os-release). */
  readonly id: string;
  /** e.g. "12" (VERSION_ID). */
  readonly version: string;
  readonly codename: string;
  readonly init: InitSystem;
  readonly arch: string; // uname -m: x86_64, aarch64
  readonly hostname: string;
}

export interface Host {
  /** Short name shown to the user: "local", "h1", "10.99.0.11". */
  readonly name: string;
  /** Shell command string, run by /bin/sh -c on the host. Build it with quote() from lib/shell.ts. */
  run(command: string, opts?: RunOptions): Promise<RunResult>;
  readFile(path: string): Promise<string>;
  /** null when the file does not exist. */
  readFileIfExists(path: string): Promise<string | null>;
  /** Atomic (write to temp, rename), creates parent directories, applies mode before content lands. */
  writeFile(path: string, data: string | Buffer, opts?: WriteOptions): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** A local TCP port that reaches remoteHost:remotePort as seen from the host. */
  forward(remotePort: number, remoteHost?: string): Promise<Forward>;
  facts(): Promise<HostFacts>;
  close(): Promise<void>;
}

/** Thrown by run() when check is on and the command failed, timed out or waited for input. */
export class CommandError extends Error {
  constructor(
    readonly host: string,
    readonly result: RunResult,
    readonly timedOut: boolean,
    readonly logFile?: string,
    /** The prompt the command was stopped at: it waited for input no one would give. */
    readonly waitingForInput?: string,
  ) {
    const tail = result.stderr.trim().split('\n').slice(-15).join('\n') || result.stdout.trim().split('\n').slice(-15).join('\n');
    const what = waitingForInput !== undefined ? 'waiting for input' : timedOut ? 'timed out' : `exit code ${result.exitCode}`;
    super(`${what} on ${host}: ${result.command}` + (tail ? `\n${tail}` : ''));
    this.name = 'CommandError';
  }
}
