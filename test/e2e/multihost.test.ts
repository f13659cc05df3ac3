// Three hosts from one command, nothing mocked: three isolated Debian test hosts get the real
// packages from one ./stack.ts run. Two layouts, one after the other on the same hosts (one set
// of hosts keeps CI time down): a controller (with database and RabbitMQ) and two compute hosts,
// the full cycle; then database+messaging, controller and compute on one host each: stack,
// verify, clean.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eDescribe } from './pending.ts';
import { newestLogTail } from './run-log.ts';
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sshExec, startTestHosts, testHostSettings, type TestHosts } from '../hosts/index.ts';
import { ALLINONE_FAKE, COMPUTE_FAKE } from './layers.ts';
import { SshHost } from '../../lib/host/ssh.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';
import { plugStandIn, standInDhcp, unplugStandIn, type StandIn } from '../../lib/network/stand-in-guest.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const STACK = join(REPO, 'stack.ts');

let th: TestHosts;
let work: string;

async function stack(...args: string[]) {
  const r = await execa(STACK, ['--config', join(work, 'localrc'), '--verbose', ...args], { cwd: work, reject: false, all: true, env: { CI: 'true' }, timeout: 2_400_000 });
  if (r.exitCode !== 0) r.all = `${r.all}\n--- tail of the run log ---\n${newestLogTail(work)}`;
  return r;
}

const on = async (i: number, cmd: string) => sshExec(th, th.hosts[i]!, cmd, 120_000);

/** Processes of the cloud on a host (not sshd, tini, sleep, our own ps). */
async function cloudProcesses(i: number): Promise<string[]> {
  const r = await on(i, 'ps -eo comm= | sort -u');
  return r.stdout.split('\n').filter((c) => /uwsgi|glance|nova|neutron|mysqld|mariadbd|beam|epmd|memcached|python3|ovs|ovn|haproxy/.test(c));
}

// The hosts file's names, unlike the test hosts' own hostnames (h1, h2, h3), as with the README's
// hosts.yaml on real machines: stack.ts labels hosts by these, Nova knows computes by their own.
const NAMES = ['controller', 'compute1', 'compute2'] as const;

function layout(roles: readonly string[]): string {
  return `hosts:\n${th.hosts.map((h, i) => `  - name: ${NAMES[i]}\n    address: ${h.target}\n    roles: [${roles[i]}]\n`).join('')}`;
}

e2eDescribe(undefined)('three hosts from one command', () => {
  beforeAll(async () => {
    // h2 is a compute in the first layout and the controller in the second: it starts with both
    // (h1's controller set resolves to the same packages: nova-compute-fake's are nova-api's dependencies).
    th = await startTestHosts({ count: 3, log: (l) => process.stderr.write(`[hosts] ${l}\n`), layers: [ALLINONE_FAKE, ALLINONE_FAKE, COMPUTE_FAKE], tunnelNetwork: true });
    work = mkdtempSync(join(tmpdir(), 'stackts-e2e-mh-'));
    writeFileSync(join(work, 'seed.raw'), Buffer.alloc(1024 * 1024, 'stack.ts multihost '));
    await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', join(work, 'seed.raw'), join(work, 'tiny.qcow2')]);
    writeFileSync(
      join(work, 'localrc'),
      [
        'HOSTS_FILE=hosts.yaml',
        ...testHostSettings(th),
        'VIRT_DRIVER=fake',
        // No openvswitch module here: OVS's userspace datapath tunnels through a NIC of its own (eth1).
        'TUNNEL_INTERFACE=eth1',
        'APT_UNSAFE_IO=True',
        'COMMAND_TIMEOUT=1800',
        `IMAGE_URLS=file://${join(work, 'tiny.qcow2')}`,
        '',
      ].join('\n'),
    );
  }, 900_000);

  afterAll(async () => {
    await th?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe.sequential('a controller and two compute hosts', () => {
    beforeAll(() => writeFileSync(join(work, 'hosts.yaml'), layout(['controller, database, messaging', 'compute', 'compute'])));

    it('plan prints the address table from the hosts file', async () => {
      const r = await stack('plan');
      expect(r.exitCode, r.all).toBe(0);
      const [h1, h2] = th.hosts;
      expect(r.all).toMatch(/transport_url +rabbit:\/\/stackrabbit:/);
      // The networks and each chassis's datapath, with the tunnels' NIC.
      expect(r.all).toMatch(/^  router1 +private -> public, SNAT$/m);
      for (const n of NAMES) expect(r.all).toMatch(new RegExp(`^  datapath +${n}: userspace \\(netdev\\)`, 'm'));
      expect(r.all).toMatch(new RegExp(`database +${h1!.address.replaceAll('.', '\\.')}:3306`));
      expect(r.all).toMatch(new RegExp(`${NAMES[1]} +${h2!.address.replaceAll('.', '\\.')} +bind ${h2!.address.replaceAll('.', '\\.')} +my_ip`));
    }, 300_000);

    it('stacks all three and verifies a server on each compute host', async () => {
      const r = await stack();
      expect(r.exitCode, r.all).toBe(0);
      expect(r.all).toMatch(/OpenStack 2022\.2 \(zed\) is up on/);
      // A plain line names its host; both computes ran their nova-compute.
      for (const n of NAMES.slice(1)) expect(r.all).toContain(`[${n}] nova-compute: start ... done`);
    }, 2_400_000);

    it('verify boots one server on each compute host and reaches it at a floating IP from the controller, over the tunnel', async () => {
      const r = await stack('verify');
      expect(r.exitCode, r.all).toBe(0);
      for (const n of NAMES.slice(1)) {
        expect(r.all).toContain(`[${n}] nova-compute: verify ... done`);
        expect(r.all).toMatch(new RegExp(`${n}: the test server's \\S+ answers ping and port 22 at 172\\.24\\.4\\.\\d+ from ${NAMES[0]}`));
      }
      expect(r.all).not.toMatch(/floating IP check .* is skipped/);
    }, 900_000);

    it('two guests on different computes reach each other over the Geneve tunnel', async () => {
      const os = async (args: string) => {
        const x = await on(0, `openstack --os-cloud stack-admin ${args}`);
        expect(x.exitCode, `openstack ${args}\n${x.stderr}`).toBe(0);
        return x.stdout.trim();
      };
      const ssh = [1, 2].map((i) => new SshHost({ host: th.hosts[i]!.address, privateKey: th.keyPath, log: new MemoryLogger(), commandTimeoutMs: 120_000 }));
      const guests: { server: string; host: SshHost; g?: StandIn; ip?: string }[] = [];
      try {
        for (const [k, i] of [[0, 1], [1, 2]] as const) {
          const server = await os(`server create --flavor stack.tiny --image tiny --network private --security-group stack-verify --availability-zone nova:${th.hosts[i]!.name} --wait e2e-${i} -f value -c id`);
          guests.push({ server, host: ssh[k]! });
        }
        for (const guest of guests) {
          const [portId, mac] = (await os(`port list --server ${guest.server} -f value -c ID -c "MAC Address"`)).split(/\s+/) as [string, string];
          guest.g = await plugStandIn(guest.host, { id: portId, mac }, '/var/lib/stack-ts/e2e-guest');
          const lease = await standInDhcp(guest.host, guest.g, '/var/lib/stack-ts/e2e-guest');
          expect(lease.ok, lease.ok ? '' : lease.output).toBe(true);
          guest.ip = lease.ok ? lease.address : '';
        }
        const [a, b] = guests as [Required<(typeof guests)[0]>, Required<(typeof guests)[0]>];
        const ping = await a.host.run(`ip netns exec ${a.g.ns} ping -c 3 -W 2 ${b.ip}`, { check: false });
        expect(ping.exitCode, `${a.ip} on ${NAMES[1]} -> ${b.ip} on ${NAMES[2]}:\n${ping.stdout}${ping.stderr}`).toBe(0);
      } finally {
        for (const guest of guests) {
          if (guest.g) await unplugStandIn(guest.host, guest.g);
          await on(0, `openstack --os-cloud stack-admin server delete --wait ${guest.server}`);
        }
        for (const h of ssh) await h.close();
      }
    }, 900_000);

    it('status lists every service per host', async () => {
      const r = await stack('status');
      expect(r.exitCode, r.all).toBe(0);
      for (const d of ['mariadb', 'rabbitmq-server', 'memcached', 'keystone', 'glance-api', 'placement-api', 'neutron-server', 'nova-api', 'nova-conductor', 'nova-scheduler']) {
        expect(r.all).toMatch(new RegExp(`^${NAMES[0]} +\\S+ +${d} +running`, 'm'));
      }
      for (const n of NAMES.slice(1)) expect(r.all).toMatch(new RegExp(`^${n} +nova-compute +nova-compute +running`, 'm'));
      expect(r.all).not.toMatch(new RegExp(`^${NAMES[1]} +(keystone|mariadb)`, 'm'));
    }, 300_000);

    it("every chassis is in Neutron's agent list: the controller as the gateway, each compute with its metadata agent", async () => {
      const r = await on(0, 'openstack --os-cloud stack-admin network agent list -f value -c "Agent Type" -c Host -c Alive');
      expect(r.exitCode, r.stderr).toBe(0);
      const rows = r.stdout.trim().split('\n').sort();
      // Zed lists the gateway as a plain controller agent (see allinone-body.ts).
      expect(rows.filter((l) => /^OVN Controller (Gateway )?agent \S+ True$/.test(l))).toHaveLength(3);
      expect(rows.filter((l) => /^OVN Metadata agent \S+ True$/.test(l))).toHaveLength(2);
    }, 300_000);

    it('the real openstack client on the controller lists both hypervisors', async () => {
      const r = await on(0, 'openstack --os-cloud stack-admin hypervisor list -f json');
      expect(r.exitCode, r.stderr).toBe(0);
      const names = (JSON.parse(r.stdout) as { 'Hypervisor Hostname': string }[]).map((h) => h['Hypervisor Hostname']).sort();
      expect(names).toHaveLength(2);
      expect(names.map((n) => n.replace(/[^a-z0-9].*$/, ''))).toEqual([th.hosts[1]!.name, th.hosts[2]!.name].sort());
    }, 300_000);

    it('every name Nova knows a compute by resolves to that compute on every host (migrations use it)', async () => {
      const r = await on(0, 'openstack --os-cloud stack-admin compute service list --service nova-compute -f value -c Host; openstack --os-cloud stack-admin hypervisor list -f value -c "Hypervisor Hostname"');
      expect(r.exitCode, r.stderr).toBe(0);
      const novaNames = [...new Set(r.stdout.split('\n').filter(Boolean))];
      // Each is a compute's own hostname (not the hosts file's name), so only the /etc/hosts block can make it resolve.
      expect(novaNames.sort()).toEqual([th.hosts[1]!.name, th.hosts[2]!.name].sort());
      for (let i = 0; i < 3; i++) {
        for (const n of novaNames) {
          const got = await on(i, `getent hosts ${n}`);
          const want = th.hosts.find((h) => h.name === n)!.address;
          expect(got.stdout.split(/\s+/)[0], `${n} on ${NAMES[i]}: ${got.stdout}`).toBe(want);
        }
      }
    }, 300_000);

    it('compute hosts hold no database credentials', async () => {
      // Every database password stack.ts made (root's and each service's), from the secrets file.
      const secrets = readFileSync(join(work, '.stack-secrets'), 'utf8');
      const dbPasswords = [...secrets.matchAll(/^(?:DATABASE_PASSWORD|\w+_DB_PASSWORD)='([^']+)'$/gm)].map((m) => m[1]!);
      expect(dbPasswords.length).toBeGreaterThan(1);
      for (const i of [1, 2]) {
        const name = th.hosts[i]!.name;
        const conf = await on(i, 'cat /etc/nova/nova-compute.conf');
        expect(conf.exitCode, name).toBe(0);
        // nova-compute reads only its own file: no database section at all.
        expect(conf.stdout, name).not.toMatch(/^\[(api_)?database\]/m);
        const everything = await on(i, 'cat /etc/nova/* /etc/nova/*/* 2>/dev/null; ls /etc/nova/stack-db.cnf 2>&1');
        expect(everything.stdout, name).toContain('No such file');
        for (const pw of dbPasswords) expect(everything.stdout.includes(pw), `${name} holds a database password`).toBe(false);
      }
    }, 120_000);

    it('unstack leaves no cloud process on any host', async () => {
      const r = await stack('unstack');
      expect(r.exitCode, r.all).toBe(0);
      for (let i = 0; i < 3; i++) expect(await cloudProcesses(i), th.hosts[i]!.name).toEqual([]);
    }, 600_000);

    it('clean leaves nothing on any host', async () => {
      const r = await stack('clean');
      expect(r.exitCode, r.all).toBe(0);
      for (let i = 0; i < 3; i++) {
        expect(await cloudProcesses(i), th.hosts[i]!.name).toEqual([]);
        const left = await on(i, 'ls /var/lib/stack-ts /var/log/stack-ts /etc/openstack/clouds.yaml /etc/nova/nova-compute.conf 2>/dev/null; grep -c "BEGIN stack.ts" /etc/hosts');
        expect(left.stdout.trim(), th.hosts[i]!.name).toBe('0');
        // The network as it was: eth1 has its address back from br-phy, no bridge, namespace or route of the cloud's.
        const net = await on(i, "ip -br link | awk '{print $1}' | grep -vxE 'lo|eth[01](@.*)?'; ip netns list; ip -4 route | grep -vE ' dev eth[01] '; ip -4 -o addr show dev eth1 | grep -o 'inet [0-9./]*'");
        expect(net.stdout.trim(), th.hosts[i]!.name).toBe(`inet ${th.hosts[i]!.tunnelAddress}/24`);
      }
    }, 900_000);
  });

  describe.sequential('database and messaging, controller and compute on a host each', () => {
    beforeAll(() => writeFileSync(join(work, 'hosts.yaml'), layout(['database, messaging', 'controller', 'compute'])));

    it('stacks and verifies', async () => {
      const r = await stack();
      expect(r.exitCode, r.all).toBe(0);
      const v = await stack('verify');
      expect(v.exitCode, v.all).toBe(0);
      // MariaDB listens on the address the controller uses, not everywhere.
      const listen = await on(0, 'ss -ltnH "sport = :3306"');
      expect(listen.stdout).toContain(`${th.hosts[0]!.address}:3306`);
      expect(listen.stdout).not.toMatch(/0\.0\.0\.0:3306|\*:3306/);
    }, 3_600_000);

    it('cleans every host', async () => {
      const r = await stack('clean');
      expect(r.exitCode, r.all).toBe(0);
      for (let i = 0; i < 3; i++) expect(await cloudProcesses(i), th.hosts[i]!.name).toEqual([]);
    }, 900_000);
  });
});
