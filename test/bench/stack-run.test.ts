// The localrc every fake-driver bench run writes, on hand-made test host objects (no hosts start).
import { describe, expect, it } from 'vitest';
import { benchLocalrc, type BenchWork } from '../../bench/stack-run.ts';
import type { TestHost, TestHosts } from '../../test/hosts/index.ts';

const h = { name: 'stb1', address: '10.99.4.11', sshPort: 22, user: 'root', keyPath: '/run/b/id_ed25519', target: 'root@10.99.4.11', rootDir: '/run/b/h1' } satisfies TestHost;
const th = { hosts: [h], keyPath: '/run/b/id_ed25519', knownHostsPath: '/run/b/known_hosts' } as Partial<TestHosts> as TestHosts;
const work: BenchWork = { dir: '/tmp/w', image: '/tmp/w/bench.qcow2', remove: () => undefined };
const shared = ['SSH_KEY=/run/b/id_ed25519', 'SSH_KNOWN_HOSTS=/run/b/known_hosts', 'VIRT_DRIVER=fake', 'APT_UNSAFE_IO=True', 'IMAGE_URLS=file:///tmp/w/bench.qcow2'];

describe('benchLocalrc', () => {
  it('one test host: its TARGET_HOST first, then the shared settings, newline-terminated', () => {
    expect(benchLocalrc(th, work, h)).toBe(['TARGET_HOST=root@10.99.4.11', ...shared, ''].join('\n'));
  });

  it('a hosts file: the HOSTS_FILE line in TARGET_HOST place, and extra lines last', () => {
    expect(benchLocalrc(th, work, 'HOSTS_FILE=hosts.yaml', ['COMMAND_TIMEOUT=60'])).toBe(['HOSTS_FILE=hosts.yaml', ...shared, 'COMMAND_TIMEOUT=60', ''].join('\n'));
  });
});
