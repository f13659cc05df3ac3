// One test host: an overlay of the base root filesystem, and a process tree in the host's
// network namespace with its own mount, UTS and PID namespaces, running sshd under tini.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { APT_CONF_PATH, aptConf } from './base-rootfs.ts';
import { childPids, comm, procId, run, tail, waitFor, type ProcId } from './proc.ts';

export interface HostDirs {
  readonly dir: string;
  readonly upper: string;
  readonly work: string;
  readonly root: string; // the merged overlay: the host's /
}

export function hostDirs(runDir: string, name: string): HostDirs {
  const dir = join(runDir, name);
  return { dir, upper: join(dir, 'upper'), work: join(dir, 'work'), root: join(dir, 'root') };
}

/** `lowers` top first: a package layer (if any) over the base. */
export function mountOverlay(lowers: readonly string[], d: HostDirs): void {
  for (const p of [d.upper, d.work, d.root]) mkdirSync(p, { recursive: true });
  run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers.join(':')},upperdir=${d.upper},workdir=${d.work}`, d.root]);
}

/** Per-host identity, written into the host's upper layer before it starts. Returns its host public key. */
export function writeHostFiles(root: string, o: { name: string; etcHosts: string; proxyUrl: string; authorizedKey: string }): string {
  const w = (path: string, text: string, mode = 0o644) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
    chmodSync(join(root, path), mode);
  };
  w('etc/hostname', `${o.name}\n`);
  w('etc/hosts', o.etcHosts);
  // No nameserver: lookups fail at once instead of waiting on a resolver that never answers.
  w('etc/resolv.conf', 'options timeout:1 attempts:1\n');
  w('etc/machine-id', `${randomBytes(16).toString('hex')}\n`);
  w(APT_CONF_PATH, aptConf(o.proxyUrl));
  mkdirSync(join(root, 'root/.ssh'), { recursive: true, mode: 0o700 });
  chmodSync(join(root, 'root/.ssh'), 0o700);
  w('root/.ssh/authorized_keys', o.authorizedKey, 0o600);
  const key = join(root, 'etc/ssh/ssh_host_ed25519_key');
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${o.name}`, '-f', key]);
  return readFileSync(`${key}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
}

// Runs as PID 1 of the new PID namespace ($1 = root dir, $2 = hostname). sshd daemonizes
// under tini instead of being tini's child, so restarting ssh inside a host does not end it.
const SETUP = String.raw`set -e
R=$1
hostname "$2"
mount -t proc proc "$R/proc"
mount -t sysfs -o ro sysfs "$R/sys"
mount -t tmpfs -o mode=755,size=64m tmpfs "$R/dev"
for d in null zero full random urandom tty; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
# Open vSwitch's userspace datapath makes its bridges' ports as tap devices (and QEMU its guests' NICs).
mkdir -p "$R/dev/net"; touch "$R/dev/net/tun"; mount --bind /dev/net/tun "$R/dev/net/tun"
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=755 tmpfs "$R/run"
mkdir -p "$R/run/sshd" "$R/run/lock"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  chroot "$R" /usr/bin/tini -s -- /bin/sh -c '/usr/sbin/sshd -E /var/log/sshd.log && exec sleep infinity'
`;

export interface HostProcess {
  /** tini: init of the host's PID namespace. Killing it ends every process of the host. */
  readonly init: ProcId;
  readonly child: ChildProcess;
}

export async function startHostProcess(o: { netns: string; name: string; root: string; consoleLog: string }): Promise<HostProcess> {
  const fd = openSync(o.consoleLog, 'a');
  // `ip netns exec` execs unshare (no fork), so child.pid is unshare; its one child is our init.
  const child = spawn(
    'ip',
    ['netns', 'exec', o.netns, 'unshare', '--mount', '--uts', '--pid', '--fork', '--propagation', 'private', 'sh', '-c', SETUP, 'sh', o.root, o.name],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  child.unref();
  let exited = false;
  child.on('exit', () => (exited = true));
  const fail = (why: string) => new Error(`test host ${o.name} (netns ${o.netns}) ${why}; ${o.consoleLog}:\n${tail(o.consoleLog, 15)}`);
  if (child.pid === undefined) throw fail('could not be started');
  const unsharePid = child.pid;
  try {
    const init = await waitFor(
      () => {
        if (exited) throw fail('exited during setup');
        const pid = childPids(unsharePid)[0];
        return pid !== undefined && comm(pid) === 'tini' ? (procId(pid) ?? undefined) : undefined;
      },
      10_000,
      () => fail('did not reach tini within 10 s'),
      10,
    );
    return { init, child };
  } catch (e) {
    // Not recorded yet, so stop() would not find it: end the half-started host here.
    for (const pid of [...childPids(unsharePid), unsharePid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    throw e;
  }
}
