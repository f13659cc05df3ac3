// Open vSwitch's and OVN's daemons as stack.ts runs them (ovsdb-server, ovs-vswitchd,
// ovn-controller, ovn-northd and OVN's databases): as root, a pid file in their run directory,
// their own log file, no chdir; and the control socket ovs-appctl / ovn-appctl reach them at.

import type { DaemonSpec } from '../daemon.ts';

export function rootDaemon(d: {
  readonly name: string;
  /** The binary and its own arguments; the pid file, control socket, log file and --no-chdir follow. */
  readonly argv: readonly string[];
  readonly run: string;
  /** Its log directory: it logs to <logs>/<name>.log. */
  readonly logs: string;
  readonly link: string;
  /** The pid file's (and control socket's) name when it is not the daemon's. */
  readonly pidName?: string;
  /** A control socket at a fixed path (<run>/<pidName>.ctl) instead of the one named after the pid. */
  readonly unixctl?: boolean;
}): DaemonSpec {
  const pid = d.pidName ?? d.name;
  const log = `${d.logs}/${d.name}.log`;
  return {
    name: d.name,
    argv: [...d.argv, `--pidfile=${d.run}/${pid}.pid`, ...(d.unixctl ? [`--unixctl=${d.run}/${pid}.ctl`] : []), `--log-file=${log}`, '--no-chdir'],
    user: 'root',
    group: 'root',
    runtimeDirs: [{ path: d.run, owner: 'root:root' }],
    link: d.link,
    ownLog: log,
  };
}

/** `ovs-appctl`/`ovn-appctl` to a daemon's control socket, <run>/<name>.<pid>.ctl, its pid read when the command runs. */
export const appctl = (tool: 'ovs-appctl' | 'ovn-appctl', run: string, name: string, command: string): string =>
  `${tool} -t ${run}/${name}.$(cat ${run}/${name}.pid 2>/dev/null).ctl ${command}`;
