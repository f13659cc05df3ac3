// One service manager for hosts with and without systemd.
//
// Two kinds of daemon:
// - `unit`: the distro's own service (mariadb, rabbitmq-server, memcached): systemctl on systemd,
//   the SysV init script through `service` otherwise.
// - `argv`: a daemon stack.ts runs itself with its own flags (glance-api, uwsgi for keystone...):
//   * no systemd, Debian: start-stop-daemon (setsid, pidfile, --chuid with supplementary groups);
//   * no systemd, RHEL family (no start-stop-daemon there): setsid + setpriv, which exec rather
//     than fork (runuser/su keep a parent for the PAM session, so the pidfile would name it);
//   * systemd: a unit file /etc/systemd/system/stack-NAME.service, enabled and started. Chosen over
//     `systemd-run` transient units because it survives a reboot (the cloud comes back), the user
//     can read and `systemctl status`/`journalctl -u` it like any service, and a failed start keeps
//     its state and logs instead of the transient unit vanishing.
//
// Without systemd a pidfile alone cannot tell our daemon from an unrelated process that reused its
// pid after a reboot, and stop() must never signal a stranger: the process's start time (field 22
// of /proc/PID/stat) is kept next to the pidfile, and a pid counts as ours only while it matches.
// Zombies count as gone (a container's PID 1 may never reap them).

import path from 'node:path';
import { findCause } from './log-cause.ts';
import { StackError } from './errors.ts';
import { quote, sh } from './shell.ts';
import type { Host, HostFacts } from './host/types.ts';

export interface DaemonSpec {
  /** "glance-api": label, and the name of its pidfile, log file and systemd unit (stack-NAME). */
  readonly name: string;
  /** The distro's own systemd unit / SysV init script (mariadb, rabbitmq-server, memcached). */
  readonly unit?: string;
  /** The command line when stack.ts runs the daemon itself. argv[0] must be an absolute path. */
  readonly argv?: readonly string[];
  readonly user?: string;
  readonly group?: string;
  /** The daemon's whole environment besides PATH, HOME and LANG: nothing leaks in from the caller. */
  readonly env?: Readonly<Record<string, string>>;
  /** Directories on tmpfs (/run/glance, /var/lock/glance): recreated before each start. */
  readonly runtimeDirs?: readonly { readonly path: string; readonly owner: string; readonly mode?: number }[];
  /** Where an argv daemon's stdout and stderr go (appended); default STATEDIR/logs/NAME.log. */
  readonly logFile?: string;
  readonly workDir?: string;
  /** The signal that stops it cleanly. Default TERM; INT for uwsgi, whose TERM means "reload" unless die-on-term is set. */
  readonly stopSignal?: 'TERM' | 'INT' | 'QUIT';
  /** What reaches it and how, named by verify when it is found stopped: "nova and clients -> glance-api (the image API)". */
  readonly link?: string;
  /** The log it writes its own story to (an oslo log, MariaDB's error log), when not logFile. */
  readonly ownLog?: string;
  /**
   * A unit daemon's own pid file and its process name. Without systemd, status and stop go by that
   * process instead of the init script's `status`: RabbitMQ's asks rabbitmqctl, which says "not
   * running" while a node boots or cannot be reached in time, and the init script's start then
   * launches a second node beside the first ("distribution port 25672 is in use by another node").
   */
  readonly sysvPid?: { readonly file: string; readonly comm: string };
}

/** Seconds a daemon gets between the stop signal and SIGKILL. */
export const STOP_GRACE_S = 15;

const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const pidFile = (spec: DaemonSpec, stateDir: string): string => path.posix.join(stateDir, 'run', `${spec.name}.pid`);
const startFile = (spec: DaemonSpec, stateDir: string): string => `${pidFile(spec, stateDir)}.start`;
export const logFileOf = (spec: DaemonSpec, stateDir: string): string =>
  spec.logFile ?? path.posix.join(stateDir, 'logs', `${spec.name}.log`);
export const unitName = (spec: DaemonSpec): string => `stack-${spec.name}.service`;
export const unitPath = (spec: DaemonSpec): string => `/etc/systemd/system/${unitName(spec)}`;

export function stopSignalOf(spec: DaemonSpec): 'TERM' | 'INT' | 'QUIT' {
  if (spec.stopSignal) return spec.stopSignal;
  const bin = spec.argv?.[0] ? path.posix.basename(spec.argv[0]) : '';
  return bin.startsWith('uwsgi') ? 'INT' : 'TERM';
}

type Mode = 'unit-systemd' | 'unit-sysv' | 'argv-systemd' | 'argv-ssd' | 'argv-setpriv';

function modeOf(facts: HostFacts, spec: DaemonSpec): Mode {
  if (spec.unit !== undefined && spec.argv !== undefined) {
    throw new Error(`daemon ${spec.name}: give either unit or argv, not both`);
  }
  if (spec.unit !== undefined) return facts.init === 'systemd' ? 'unit-systemd' : 'unit-sysv';
  if (!spec.argv || spec.argv.length === 0) throw new Error(`daemon ${spec.name}: neither unit nor argv given`);
  if (!spec.argv[0]!.startsWith('/')) throw new Error(`daemon ${spec.name}: argv[0] must be an absolute path, got ${spec.argv[0]}`);
  if (!/^[A-Za-z0-9_.@-]+$/.test(spec.name)) throw new Error(`daemon name "${spec.name}" must be a plain word`);
  if (facts.init === 'systemd') return 'argv-systemd';
  return facts.family === 'debian' ? 'argv-ssd' : 'argv-setpriv';
}

/** Shell: the start time of $1's process, empty when it is gone or a zombie. */
const STARTTIME_FN =
  // After "PID (comm) " the state is field 1 and the start time (field 22 of the line) is field 20.
  `starttime() { [ -r "/proc/$1/stat" ] || return 0; set -- $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null); [ "$1" = Z ] || echo "\${20}"; }`;

/** Shell: sets $pid to the recorded daemon's pid when that process is still ours, else empty. */
function ourPidLines(spec: DaemonSpec, stateDir: string): string[] {
  const p = quote(pidFile(spec, stateDir));
  const s = quote(startFile(spec, stateDir));
  return [
    ...livePidLines(p),
    `if [ -n "$pid" ] && [ "$(starttime "$pid")" != "$(cat ${s} 2>/dev/null)" ]; then pid=; fi`,
  ];
}

/** Shell: sets $pid to the pid in the (quoted) file when that process lives and is no zombie, else empty. */
function livePidLines(quotedFile: string): string[] {
  return [STARTTIME_FN, `pid=$(cat ${quotedFile} 2>/dev/null | tr -cd 0-9)`, `if [ -n "$pid" ] && [ -z "$(starttime "$pid")" ]; then pid=; fi`];
}

/** Shell: waits up to `tenths` tenths of a second for $pid's process to be gone. */
const waitGone = (tenths: number): string => `i=0; while [ -n "$(starttime "$pid")" ] && [ $i -lt ${tenths} ]; do sleep 0.1; i=$((i+1)); done`;

/** Sets $pid to the pid file's process when it lives (no zombie) and is still the named program. */
function sysvPidLines(p: { readonly file: string; readonly comm: string }): string[] {
  return [
    ...livePidLines(quote(p.file)),
    // A pid left in the file by a node that was killed may belong to another program by now.
    `if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != ${quote(p.comm)} ]; then pid=; fi`,
  ];
}

function runtimeDirLines(spec: DaemonSpec): string[] {
  return (spec.runtimeDirs ?? []).map((d) =>
    sh('install', '-d', '-o', d.owner.split(':')[0]!, '-g', d.owner.split(':')[1] ?? d.owner.split(':')[0]!, '-m', (d.mode ?? 0o755).toString(8), d.path),
  );
}

/**
 * The inner shell command: exec the daemon with a clean environment (the caller's OS_* variables
 * would otherwise reach oslo.config), appending its output to the log. HOME is the user's, looked up
 * when it runs; later env assignments win, so spec.env may still override HOME.
 */
function innerCommand(spec: DaemonSpec, log: string): string {
  const env = { PATH: SAFE_PATH, LANG: 'C.UTF-8', ...(spec.env ?? {}) };
  const home = `HOME="$(getent passwd ${quote(userOf(spec))} | cut -d: -f6)"`;
  const assignments = Object.entries(env).map(([k, v]) => quote(`${k}=${v}`));
  return `exec env -i ${home} ${assignments.join(' ')} ${sh(...spec.argv!)} >>${quote(log)} 2>&1 </dev/null`;
}

const userOf = (spec: DaemonSpec): string => spec.user ?? 'root';
const groupOf = (spec: DaemonSpec): string => spec.group ?? spec.user ?? 'root';

/** systemd's ExecStart quoting: one double-quoted word, with $ and % (expanded by systemd) doubled. */
const systemdWord = (s: string): string =>
  `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '$$$$').replace(/%/g, '%%')}"`;

/** The unit file for an argv daemon on a systemd host. */
export function unitFile(spec: DaemonSpec, stateDir: string): string {
  const log = logFileOf(spec, stateDir);
  // The daemon's own stdout/stderr go to the same log file as without systemd (StandardOutput=append:
  // needs systemd 240; the shell redirect works on every version) so callers tail one place.
  const inner = `exec ${sh(...spec.argv!)} >>${quote(log)} 2>&1`;
  const lines = [
    '# Written by stack.ts; removed by `stack.ts clean`.',
    '[Unit]',
    `Description=stack.ts ${spec.name}`,
    'After=network.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${userOf(spec)}`,
    `Group=${groupOf(spec)}`,
    ...Object.entries(spec.env ?? {}).map(([k, v]) => `Environment=${systemdWord(`${k}=${v}`)}`),
    ...(spec.workDir ? [`WorkingDirectory=${spec.workDir}`] : []),
    // "+": runs as root, so the tmpfs directories exist with the right owner after every boot too.
    ...(spec.runtimeDirs ?? []).map(
      (d) => `ExecStartPre=+/usr/bin/install -d -o ${d.owner.split(':')[0]} -g ${d.owner.split(':')[1] ?? d.owner.split(':')[0]} -m ${(d.mode ?? 0o755).toString(8)} ${d.path}`,
    ),
    `ExecStart=/bin/sh -c ${systemdWord(inner)}`,
    `KillSignal=SIG${stopSignalOf(spec)}`,
    `TimeoutStopSec=${STOP_GRACE_S}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

/** Pure: the shell lines startDaemon runs (as one `set -e` script) for this host and spec. */
/**
 * Create the log's directory for the daemon's user, but never take over one that exists: the
 * package made /var/log/nova for nova, and a root-run uWSGI (nova-api) chowning it to root while
 * nova-conductor is still starting left the conductor unable to create its log (seen end to end).
 */
const logDirCommand = (user: string, group: string, log: string): string => {
  const dir = path.posix.dirname(log);
  return `[ -d ${quote(dir)} ] || ${sh('install', '-d', '-o', user, '-g', group, dir)}`;
};

/**
 * Create the daemon's log file and hand it to its user without following a link: the directory is
 * the service user's, so whatever sits at that name may be a link the user planted to make root
 * chown another file (/etc/shadow) on the next run. A link or anything but a plain file is removed
 * (removing a link leaves its target alone); the file is made with O_EXCL (`set -C`), which refuses
 * a link that appears in between; `chown -h` changes a link itself, never what it points to.
 */
export const logFileCommand = (user: string, group: string, log: string): string => {
  const f = quote(log);
  return (
    `if [ -L ${f} ] || { [ -e ${f} ] && [ ! -f ${f} ]; }; then rm -f -- ${f}; fi; ` +
    `if [ ! -e ${f} ]; then (set -C; : > ${f}); fi; ` +
    `chown -h ${quote(`${user}:${group}`)} -- ${f}`
  );
};

export function startCommands(facts: HostFacts, spec: DaemonSpec, stateDir: string): string[] {
  const mode = modeOf(facts, spec);
  const pf = pidFile(spec, stateDir);
  const log = logFileOf(spec, stateDir);
  switch (mode) {
    case 'unit-systemd':
      return [sh('systemctl', 'enable', '--now', spec.unit!)];
    case 'unit-sysv':
      // `service` (init-system-helpers) is missing on minimal hosts; the init script itself always works.
      return [
        `if command -v service >/dev/null 2>&1; then ${sh('service', spec.unit!, 'start')}; else ${sh(`/etc/init.d/${spec.unit!}`, 'start')}; fi`,
      ];
    case 'argv-systemd':
      return [
        ...runtimeDirLines(spec),
        logDirCommand(userOf(spec), groupOf(spec), log),
        logFileCommand(userOf(spec), groupOf(spec), log),
        // Rewrite and reload only when the unit changed: daemon-reload is slow and not needed on a re-run.
        `cat > ${quote(unitPath(spec))}.new <<'STACK_TS_UNIT'\n${unitFile(spec, stateDir)}STACK_TS_UNIT`,
        `if cmp -s ${quote(unitPath(spec))}.new ${quote(unitPath(spec))}; then rm -f ${quote(unitPath(spec))}.new; else mv ${quote(unitPath(spec))}.new ${quote(unitPath(spec))} && systemctl daemon-reload; fi`,
        sh('systemctl', 'enable', '--now', unitName(spec)),
      ];
    case 'argv-ssd':
    case 'argv-setpriv': {
      const user = userOf(spec);
      const group = groupOf(spec);
      const lines = [
        ...ourPidLines(spec, stateDir),
        `if [ -n "$pid" ]; then echo "already running: $pid"; exit 0; fi`,
        sh('rm', '-f', pf, startFile(spec, stateDir)),
        sh('install', '-d', '-m', '755', path.posix.dirname(pf)),
        ...runtimeDirLines(spec),
        logDirCommand(user, group, log),
        logFileCommand(user, group, log),
        // Numeric ids: setpriv before util-linux 2.33 (RHEL 7/8) takes no names.
        `uid=$(id -u ${quote(user)}); gid=$(getent group ${quote(group)} | cut -d: -f3)`,
        // Checked as the user: a directory above the log (or the workdir) that the user cannot enter
        // would otherwise kill the daemon before it can write a single line anywhere.
        `if ! setpriv --reuid="$uid" --regid="$gid" --init-groups /bin/sh -c 'exec >>"$0"' ${quote(log)} 2>/dev/null; then ` +
          `echo ${quote(`user ${user} cannot write ${log}: check the permissions of the directories above it`)} >&2; exit 1; fi`,
        ...(spec.workDir
          ? [
              `if ! setpriv --reuid="$uid" --regid="$gid" --init-groups /bin/sh -c 'cd "$0"' ${quote(spec.workDir)} 2>/dev/null; then ` +
                `echo ${quote(`user ${user} cannot enter ${spec.workDir}`)} >&2; exit 1; fi`,
            ]
          : []),
      ];
      // The inner shell only redirects and execs, so the pid it was given is the daemon's.
      const innerCmd = quote(innerCommand(spec, log));
      if (mode === 'argv-ssd') {
        lines.push(
          [
            'start-stop-daemon --start --background --make-pidfile',
            `--pidfile ${quote(pf)}`,
            `--chuid ${quote(`${user}:${group}`)}`,
            ...(spec.workDir ? [`--chdir ${quote(spec.workDir)}`] : []),
            `--startas /bin/sh -- -c ${innerCmd}`,
          ].join(' '),
        );
      } else {
        const cd = spec.workDir ? `cd ${quote(spec.workDir)} && ` : '';
        // setsid's child leads a new session (no controlling terminal); it records its own pid, then
        // drops to the user with setpriv, which execs: the pid stays the daemon's.
        lines.push(
          `${cd}setsid /bin/sh -c 'echo $$ > "$0"; exec setpriv --reuid="$1" --regid="$2" --init-groups /bin/sh -c "$3"' ` +
            `${quote(pf)} "$uid" "$gid" ${innerCmd} </dev/null >/dev/null 2>&1 &`,
          // Wait (up to 5 s) for the pidfile the background shell writes.
          `i=0; while [ ! -s ${quote(pf)} ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`,
        );
      }
      lines.push(
        `pid=$(cat ${quote(pf)} 2>/dev/null | tr -cd 0-9)`,
        `if [ -n "$pid" ]; then starttime "$pid" > ${quote(startFile(spec, stateDir))}; fi`,
        `echo "started: $pid"`,
      );
      return lines;
    }
  }
}

/** Pure: the shell lines that print "running PID", "running" or "stopped". */
export function statusCommands(facts: HostFacts, spec: DaemonSpec, stateDir: string): string[] {
  const mode = modeOf(facts, spec);
  switch (mode) {
    case 'unit-systemd':
    case 'argv-systemd': {
      const unit = mode === 'unit-systemd' ? spec.unit! : unitName(spec);
      // `show -p MainPID` without --value: systemd before 230 (RHEL 7) has no --value.
      return [
        `if systemctl is-active --quiet ${quote(unit)}; then echo "running $(systemctl show -p MainPID ${quote(unit)} | sed 's/^MainPID=//; s/^0$//')"; else echo stopped; fi`,
      ];
    }
    case 'unit-sysv':
      if (spec.sysvPid) return [...sysvPidLines(spec.sysvPid), 'if [ -n "$pid" ]; then echo "running $pid"; else echo stopped; fi'];
      return [
        `if command -v service >/dev/null 2>&1; then ${sh('service', spec.unit!, 'status')}; else ${sh(`/etc/init.d/${spec.unit!}`, 'status')}; fi >/dev/null 2>&1 && echo running || echo stopped`,
      ];
    default:
      return [...ourPidLines(spec, stateDir), 'if [ -n "$pid" ]; then echo "running $pid"; else echo stopped; fi'];
  }
}

/** Pure: the shell lines that stop it and print "stopped" or "not-running". */
export function stopCommands(facts: HostFacts, spec: DaemonSpec, stateDir: string): string[] {
  const mode = modeOf(facts, spec);
  switch (mode) {
    case 'unit-systemd':
    case 'argv-systemd': {
      const unit = mode === 'unit-systemd' ? spec.unit! : unitName(spec);
      return [`if systemctl is-active --quiet ${quote(unit)}; then ${sh('systemctl', 'stop', unit)}; echo stopped; else echo not-running; fi`];
    }
    case 'unit-sysv': {
      const svc = (verb: string): string =>
        `if command -v service >/dev/null 2>&1; then ${sh('service', spec.unit!, verb)}; else ${sh(`/etc/init.d/${spec.unit!}`, verb)}; fi`;
      if (spec.sysvPid) {
        // The init script's stop asks its own status first and may skip a node it cannot reach:
        // whatever it did, the process itself is what has to be gone.
        return [
          ...sysvPidLines(spec.sysvPid),
          'if [ -z "$pid" ]; then echo not-running; exit 0; fi',
          // Its stop, when it worked, waits for the node; when it failed there is nothing to wait for.
          `if ${svc('stop')} >/dev/null 2>&1; then ${waitGone(STOP_GRACE_S * 10)}; fi`,
          `if [ -n "$(starttime "$pid")" ]; then echo "${spec.name} (pid $pid) outlived its init script's stop: SIGTERM" >&2; kill -TERM "$pid" 2>/dev/null || true; fi`,
          waitGone(STOP_GRACE_S * 10),
          `if [ -n "$(starttime "$pid")" ]; then echo "${spec.name} ignored SIGTERM for ${STOP_GRACE_S} s: killing it" >&2; kill -KILL "$pid" 2>/dev/null || true; fi`,
          'echo stopped',
        ];
      }
      return [`if ${svc('status')} >/dev/null 2>&1; then ${svc('stop')}; echo stopped; else echo not-running; fi`];
    }
    default: {
      const sig = stopSignalOf(spec);
      const files = sh('rm', '-f', pidFile(spec, stateDir), startFile(spec, stateDir));
      return [
        ...ourPidLines(spec, stateDir),
        `if [ -z "$pid" ]; then ${files}; echo not-running; exit 0; fi`,
        // Signal the daemon's whole process group (uwsgi workers, forked API workers); it is the
        // group start-stop-daemon/setsid created for it, so nothing else is in it.
        `pgid=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f3)`,
        `kill -${sig} -- "-$pgid" 2>/dev/null || kill -${sig} "$pid" 2>/dev/null || true`,
        waitGone(STOP_GRACE_S * 10),
        `if [ -n "$(starttime "$pid")" ]; then echo "${spec.name} ignored SIG${sig} for ${STOP_GRACE_S} s: killing it" >&2; kill -KILL "$pid" 2>/dev/null || true; fi`,
        // Workers that outlived their master would keep the port: the group goes with it.
        `kill -KILL -- "-$pgid" 2>/dev/null || true`,
        waitGone(50),
        files,
        'echo stopped',
      ];
    }
  }
}

const script = (lines: readonly string[]): string => ['set -e', ...lines].join('\n');

async function tail(host: Host, file: string, n = 30): Promise<string> {
  const r = await host.run(`tail -n ${n} ${quote(file)} 2>/dev/null`, { check: false, label: `tail ${file}` });
  return r.stdout;
}

/** Where to look when a daemon does not come up: its log file, or the unit's journal. */
export async function daemonLogTail(host: Host, facts: HostFacts, spec: DaemonSpec, stateDir: string, lines = 30): Promise<{ file: string; lines: string }> {
  if (spec.unit !== undefined) {
    if (facts.init === 'systemd') {
      const r = await host.run(`journalctl -u ${quote(spec.unit)} -n ${lines} --no-pager 2>/dev/null`, { check: false });
      return { file: `journalctl -u ${spec.unit}`, lines: r.stdout };
    }
    return { file: `/var/log (init script ${spec.unit})`, lines: '' };
  }
  const file = logFileOf(spec, stateDir);
  return { file, lines: await tail(host, file, lines) };
}

/**
 * Starts the daemon unless it already runs (a re-run is a no-op: same pid). Throws StackError with
 * the log tail when the daemon is not running half a second after the start: a bad config usually
 * kills it that fast, and the caller's readiness wait would only time out later.
 */
export async function startDaemon(host: Host, facts: HostFacts, spec: DaemonSpec, stateDir: string): Promise<void> {
  const r = await host.run(script(startCommands(facts, spec, stateDir)), { check: false, label: `start ${spec.name}` });
  if (r.exitCode !== 0) {
    const logTail = await daemonLogTail(host, facts, spec, stateDir);
    // An init script or systemctl says why on its own output; a daemon we launch, in its log.
    const output = [r.stdout, r.stderr].filter((t) => t.trim() !== '').join('\n').split('\n').slice(-20).join('\n');
    throw new StackError(
      `${spec.name} could not be started on ${host.name}: ${lastLine(r.stderr || r.stdout) || `exit code ${r.exitCode}`}`,
      spec.unit
        ? `Start it by hand on the host to see the whole story: ${startCommands(facts, spec, stateDir).join('; ')}`
        : `Its log: ${logTail.file}`,
      logTail.lines.trim() ? logTail : output ? { file: `output of "start ${spec.name}"`, lines: output } : undefined,
    );
  }
  if (/^already running/m.test(r.stdout)) return;
  await new Promise((resolve) => setTimeout(resolve, 500));
  const st = await daemonStatus(host, facts, spec, stateDir);
  if (!st.running) {
    const logTail = await daemonLogTail(host, facts, spec, stateDir);
    const cause = findCause(logTail.lines);
    throw new StackError(
      `${spec.name} exited right after it was started on ${host.name}${cause ? `; its log says: ${cause.line}` : ''}`,
      cause?.hint ?? `The last lines of ${logTail.file} usually say why (a config error, a port in use, a missing directory or permission).`,
      logTail.lines.trim() ? logTail : undefined,
    );
  }
}

export async function daemonStatus(host: Host, facts: HostFacts, spec: DaemonSpec, stateDir: string): Promise<{ running: boolean; pid?: number }> {
  const r = await host.run(script(statusCommands(facts, spec, stateDir)), { check: false, label: `status of ${spec.name}` });
  const m = /^running(?: (\d+))?\s*$/m.exec(r.stdout);
  if (!m) return { running: false };
  return m[1] ? { running: true, pid: Number.parseInt(m[1], 10) } : { running: true };
}

export async function stopDaemon(host: Host, facts: HostFacts, spec: DaemonSpec, stateDir: string): Promise<'stopped' | 'not-running'> {
  const r = await host.run(script(stopCommands(facts, spec, stateDir)), {
    check: false,
    timeoutMs: (STOP_GRACE_S + 30) * 1000,
    label: `stop ${spec.name}`,
  });
  if (r.exitCode !== 0) {
    throw new StackError(
      `${spec.name} could not be stopped on ${host.name}: ${lastLine(r.stderr || r.stdout) || `exit code ${r.exitCode}`}`,
      spec.unit ? `Stop it by hand on the host (systemctl stop / service ${spec.unit} stop) and look at its log.` : `Its pidfile is ${pidFile(spec, stateDir)}.`,
    );
  }
  return /^stopped\s*$/m.test(r.stdout) ? 'stopped' : 'not-running';
}

const lastLine = (text: string): string => text.trim().split('\n').filter(Boolean).pop() ?? '';
