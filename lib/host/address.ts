// HOST_IP when the user set none: the address the host would use to talk out, else its first
// global IPv4 address (test hosts and isolated labs have no default route), else loopback.
import type { Host } from './types.ts';

export const HOST_IP_SCRIPT = [
  `a=$(ip -o -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p')`,
  `[ -n "$a" ] || a=$(ip -o -4 addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n 1)`,
  `[ -n "$a" ] || a=$(hostname -I 2>/dev/null | awk '{print $1}')`,
  `echo "\${a:-127.0.0.1}"`,
].join('\n');

export async function detectHostIp(host: Host): Promise<string> {
  const r = await host.run(HOST_IP_SCRIPT, { label: 'detect HOST_IP' });
  return r.stdout.trim().split('\n').pop() || '127.0.0.1';
}

/** Every address configured on the host's interfaces (loopback included), without prefix lengths. */
export async function hostAddresses(host: Host): Promise<string[]> {
  const r = await host.run(`ip -o addr show 2>/dev/null | awk '{print $4}'`, { check: false, label: 'list the host\'s addresses' });
  return [...new Set(r.stdout.split('\n').map((l) => l.trim().replace(/\/\d+$/, '')).filter((a) => a !== ''))];
}
