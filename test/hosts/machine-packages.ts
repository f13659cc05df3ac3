// Debian packages this machine needs to run the harness, installed on first use.
import { run, runAsync } from './proc.ts';

const COMMAND_OF: Record<string, string> = {
  debootstrap: 'debootstrap',
  'apt-cacher-ng': 'apt-cacher-ng',
  iproute2: 'ip',
  'openssh-client': 'ssh',
  'util-linux': 'flock',
  dosfstools: 'mkfs.fat',
  mtools: 'mcopy',
  'qemu-utils': 'qemu-img',
  'qemu-system-x86': 'qemu-system-x86_64',
  'ansible-core': 'ansible-inventory',
};

const hasCommand = (cmd: string) => run('sh', ['-c', `command -v ${cmd} || test -x /usr/sbin/${cmd}`], { allowFail: true }).status === 0;

export async function ensureMachinePackages(packages: readonly string[], log: (line: string) => void): Promise<void> {
  const missing = packages.filter((p) => !hasCommand(COMMAND_OF[p] ?? p));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`the test-host harness needs these Debian packages: ${missing.join(' ')} - install them as root: apt-get install -y ${missing.join(' ')}`);
  }
  log(`installing on this machine: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Test files run in parallel and each may install what it lacks: wait for another's apt, not fail.
  const wait = ['-o', 'DPkg::Lock::Timeout=600'];
  await runAsync('apt-get', [...wait, 'update', '-q'], { env });
  await runAsync('apt-get', [...wait, 'install', '-y', '-q', '--no-install-recommends', ...missing], { env });
}
