// The hosts file: what it expands to, and every layout mistake named by file:line.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allInOne, parseTopology } from '../../lib/topology.ts';
import { computeEndpoints, formatEndpoints } from '../../lib/endpoints.ts';
import { ConfigError } from '../../lib/config/errors.ts';
import type { Config } from '../../lib/config/types.ts';
import { defaultSettings } from '../fixtures/recording-host.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const parse = (text: string) => parseTopology(text, 'hosts.yaml', '/cfg');
const issuesOf = (text: string): string[] => {
  try {
    parse(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${i.origin}: ${i.message}${i.hint ? ` | ${i.hint}` : ''}`);
  }
  throw new Error('expected the hosts file to be refused');
};

const THREE = `hosts:
  - name: ctl
    address: root@10.0.0.11
    roles: [controller, database, messaging]
  - name: c1
    address: root@10.0.0.12
    roles: [compute]
  - name: c2
    address: 10.0.0.13:2222
    ssh_key: keys/c2
    roles: compute
`;

describe('parseTopology', () => {
  it('expands roles to devstack services and knows which host runs each', () => {
    const t = parse(THREE);
    expect(t.hosts.map((h) => h.name)).toEqual(['ctl', 'c1', 'c2']);
    expect([...t.hosts[0]!.services].sort()).toEqual(['g-api', 'key', 'memcache', 'mysql', 'n-api', 'n-cond', 'n-sch', 'ovn-controller', 'ovn-northd', 'placement-api', 'q-svc', 'rabbit']);
    expect([...t.hosts[1]!.services].sort()).toEqual(['n-cpu', 'ovn-controller', 'q-ovn-metadata-agent']);
    expect(t.hostsFor('n-cpu').map((h) => h.name)).toEqual(['c1', 'c2']);
    expect(t.hostFor('mysql')?.name).toBe('ctl');
    expect(t.hosts[2]!.sshKey).toBe('/cfg/keys/c2');
    expect(t.hosts[1]!.origin).toBe('hosts.yaml:5');
  });

  it('hosts.yaml.example parses, and its commented second layout too', () => {
    const text = readFileSync(join(REPO, 'hosts.yaml.example'), 'utf8');
    expect(parse(text).hosts).toHaveLength(3);
    const second = text.slice(text.indexOf('# hosts:')).replace(/^# ?/gm, '');
    const t = parse(second);
    expect(t.hostFor('mysql')?.name).toBe('infra');
    expect(t.hostFor('key')?.name).toBe('controller');
    expect(t.hosts[2]!.ip).toBe('10.0.0.13');
  });

  it("the README's hosts file parses, beside its all-in-one localrc (both ways shown)", () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## One host or several'));
    const block = (after: string) => /^\n((?: {4}.*\n)+)/.exec(section.slice(section.indexOf(after) + after.length))![1]!.replace(/^ {4}/gm, '');
    expect(block('the all-in-one), e.g. this localrc:\n')).toMatch(/^TARGET_HOST=/m);
    expect(block('instead of `TARGET_HOST`:\n')).toMatch(/^HOSTS_FILE=hosts\.yaml$/m);
    const t = parse(block('and in `hosts.yaml`:\n'));
    expect(t.hostsFor('n-cpu').map((h) => h.name)).toEqual(['compute1', 'compute2']);
    expect(t.hostFor('key')?.name).toBe('controller');
  });

  it.each([
    ['a singleton service on two hosts', THREE.replace('roles: [compute]', 'roles: [compute]\n    services: [mysql]'), /hosts\.yaml:5: mysql is on 2 hosts \(ctl at hosts\.yaml:2, c1 at hosts\.yaml:5\)/],
    ['no host for keystone', THREE.replace('roles: [controller, database, messaging]', 'roles: [database, messaging]\n    services: [g-api]'), /no host runs key, which g-api/],
    ['an unknown role', THREE.replace('roles: [compute]', 'roles: [compte]'), /hosts\.yaml:7: unknown role "compte" \| did you mean "compute"/],
    ['an unknown service', THREE.replace('roles: [compute]', 'services: [n-cpuu]'), /hosts\.yaml:7: unknown service "n-cpuu" \| did you mean "n-cpu"/],
    ['two hosts with one address', THREE.replace('10.0.0.13:2222', 'root@10.0.0.12'), /hosts\.yaml:8: hosts c1 \(hosts\.yaml:5\) and c2 have the same address 10\.0\.0\.12/],
    ['two hosts with one name', THREE.replace('name: c2', 'name: c1'), /hosts\.yaml:8: hosts c1 .* same name c1/],
    ['a YAML syntax error', THREE.replace('  - name: c1\n', '  - name: c1\n   address: [oops\n'), /^hosts\.yaml:\d+: not valid YAML/],
    ['a wrong key', THREE.replace('ssh_key: keys/c2', 'sshkey: keys/c2'), /hosts\.yaml:10: unknown key "sshkey" in a host entry \| did you mean "ssh_key"/],
    ['a bad address', THREE.replace('root@10.0.0.12', 'root@@x y'), /hosts\.yaml:6: address "root@@x y"/],
    ['no hosts at all', 'ssh_key: k\n', /no hosts/],
    ['a host without services', THREE.replace('    roles: [compute]\n', ''), /hosts\.yaml:5: host c1 runs nothing/],
  ])('refuses %s, naming the line', (_what, text, expected) => {
    expect(issuesOf(text).join('\n')).toMatch(expected);
  });
});

describe('computeEndpoints', () => {
  const config = (over: Record<string, unknown> = {}): Config =>
    ({ file: '/cfg/localrc', settings: defaultSettings({ HOST_IP: '192.0.2.5', SERVICE_HOST: '192.0.2.5', RABBIT_PASSWORD: 'r/p', ...over }), services: new Set(), postConfig: [], secretsFile: '/cfg/.s' }) as unknown as Config;

  it('the all-in-one keeps the addresses of DATABASE_HOST, RABBIT_HOST and SERVICE_HOST', () => {
    const t = allInOne({ target: 'local', sshKey: '', ip: '', services: new Set(['mysql', 'key']) });
    const e = computeEndpoints(config(), t, new Map([['local', '192.0.2.5']]));
    expect(e.database.host).toBe('127.0.0.1');
    expect(e.memcacheServers).toBe('127.0.0.1:11211');
    expect(e.transportUrl).toBe('rabbit://stackrabbit:r%2Fp@127.0.0.1:5672/');
    expect(e.url.identity).toBe('http://192.0.2.5:5000');
    expect(e.url.compute).toBe('http://192.0.2.5:8774/v2.1');
    expect(e.hosts.get('local')).toEqual({ address: '192.0.2.5', bind: '192.0.2.5', myIp: '192.0.2.5' });
  });

  it('several hosts: every address is the address of the host that runs the service', () => {
    const t = parse(THREE.replace('roles: [controller, database, messaging]', 'roles: [controller]').replace('roles: [compute]', 'roles: [compute, database, messaging]'));
    const e = computeEndpoints(config({ DATABASE_HOST: 'ignored', SERVICE_HOST: 'ignored' }), t, new Map([['ctl', '10.0.0.11'], ['c1', '10.0.0.12'], ['c2', '10.0.0.13']]));
    expect(e.database).toEqual({ host: '10.0.0.12', port: 3306 });
    expect(e.listen).toEqual({ database: '10.0.0.12', rabbit: '10.0.0.12', memcache: '10.0.0.12' });
    expect(e.transportUrl).toBe('rabbit://stackrabbit:r%2Fp@10.0.0.12:5672/');
    expect(Object.values(e.url).every((u) => u.startsWith('http://10.0.0.11:'))).toBe(true);
    expect(e.hosts.get('c2')).toEqual({ address: '10.0.0.13', bind: '10.0.0.13', myIp: '10.0.0.13' });
    expect(e.hostOf.key).toBe('ctl');
    const shown = formatEndpoints(e, t, (s) => s.replaceAll('r%2Fp', '****'));
    expect(shown).toContain('rabbit://stackrabbit:****@10.0.0.12:5672/');
    expect(shown).not.toContain('r%2Fp');
    expect(shown).toMatch(/c2 +10\.0\.0\.13 +bind 10\.0\.0\.13 +my_ip 10\.0\.0\.13 +runs n-cpu/);
  });
});
