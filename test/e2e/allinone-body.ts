// End to end, with nothing mocked: a fresh isolated Debian host (own root filesystem, network
// namespace and sshd), reached over SSH, gets the real Debian OpenStack packages from ./stack.ts.
// The body is shared by one file per Debian release (allinone-bookworm / allinone-trixie), so
// vitest runs the two on separate workers and either can be run alone, and by rerun-bookworm,
// whose host starts from a package layer and whose cloud takes the re-run, fault and kill checks.
// One stacked cloud serves every check in order: stack, verify, the real `openstack` client,
// (on bookworm, the re-run, fault and kill checks of rerun-checks.ts while it is up), unstack,
// stack again, clean. Secrets with every awkward character are grepped for in all output,
// in every world-readable file under the services' directories, and the operator's own OS_*
// variables (set around every ./stack.ts run) are looked for in every service process.

import { e2eDescribe } from './pending.ts';
import { newestLogTail } from './run-log.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestHosts, testHostSettings, type LayerSpec, type Suite, type TestHosts } from '../hosts/index.ts';
import { SshHost } from '../../lib/host/ssh.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';
import { isWildcard, tcpListeners } from '../fixtures/listeners.ts';
import { readSecretsFile } from '../../lib/config/secrets.ts';
import { plugStandIn, standInDhcp, standInListen, unplugStandIn, STAND_IN_BANNER } from '../../lib/network/stand-in-guest.ts';
import { erlangBinaryText } from '../../plugins/rabbitmq/index.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const STACK = join(REPO, 'stack.ts');

// Every character the issue names, in each password.
const SECRETS = {
  ADMIN_PASSWORD: `Adm1n$pass@:/%#"x y`,
  DATABASE_PASSWORD: `Db$$pw'q@:/%`,
  RABBIT_PASSWORD: `Rb:@$x"#%q z`, // no '/': oslo.messaging cannot carry it (the preflight says so)
  SERVICE_PASSWORD: `Sv$c@:/'%# z`,
};
// The operator's environment around every ./stack.ts run: another cloud's credentials and an
// oslo.config override (OS_<GROUP>__<OPT>). None of it may reach a service or a file.
// OS_AUTH_URL points at loopback's discard port: nothing may ever use it.
const OPERATOR_ENV = {
  OS_AUTH_URL: 'http://127.0.0.1:9/v3',
  OS_USERNAME: 'operator-cloud-user',
  OS_PASSWORD: 'operator-cloud-secret',
  OS_PROJECT_NAME: 'operator-cloud-project',
  OS_CLOUD: 'operator-cloud',
  OS_DEFAULT__DEBUG: 'true',
};
/** Every way a secret is written: as is, percent-encoded in URLs, $-escaped in oslo.config files, in an Erlang binary (RabbitMQ's advanced.config). */
const secretForms = (v: string): string[] => [...new Set([v, encodeURIComponent(v), v.replaceAll('$', '$$$$'), erlangBinaryText(v)])];
/** Where stack.ts writes on the host: the services' config, state and log directories. */
const HOST_DIRS = [
  '/etc/keystone', '/etc/glance', '/etc/placement', '/etc/nova', '/etc/neutron', '/etc/rabbitmq', '/etc/mysql',
  '/etc/memcached.conf', '/etc/openstack', '/var/lib/stack-ts', '/var/log/stack-ts', '/var/log/keystone',
  '/var/log/glance', '/var/log/placement', '/var/log/nova', '/var/log/neutron', '/var/log/rabbitmq', '/var/log/mysql', '/tmp', '/root',
];
const shq = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/** What each Debian release gives: the OpenStack release the summary names. */
export const EXPECTED: Record<Suite, { title: string; name: string; prefix: string }> = {
  bookworm: { title: 'OpenStack 2022.2 (zed)', name: 'zed', prefix: 'stk' },
  trixie: { title: 'OpenStack 2025.1 (epoxy)', name: 'epoxy', prefix: 'stx' },
};

/** One ./stack.ts run: its exit code, its output, and when each line arrived. */
export interface Run {
  exitCode: number | undefined;
  all: string;
  /** Each output line with the ms since start it arrived at. */
  lines: { at: number; line: string }[];
}

export interface StackOptions {
  /** Another config file than the cloud's current one (a refused run's, a second directory's). */
  readonly configFile?: string;
  /** Kill the run (SIGTERM) once an output line matches, after delayMs. */
  readonly killAt?: RegExp;
  readonly delayMs?: number;
}

/** The stacked cloud the checks share; its fields are set by the suite's beforeAll. */
export interface Cloud {
  readonly work: string;
  /** The config file every run uses (a check may switch it to a local.conf). */
  config: string;
  /** The localrc's text as first written (a check builds variants of it). */
  readonly baseLocalrc: string;
  readonly ssh: SshHost;
  stack(args: string[], opts?: StackOptions): Promise<Run>;
  onHost(cmd: string): ReturnType<SshHost['run']>;
}

/** More checks on one release's cloud: each hook registers its tests at its place in the order. */
export interface MoreChecks {
  /** Before the first stack, on the fresh host. */
  beforeStack?(c: Cloud): void;
  /** More assertions on the first stack's run. */
  firstStack?(r: Run): void;
  /** While the cloud is up, after the checks of a fresh cloud and before unstack. */
  whileUp?(c: Cloud): void;
  /** Clean after an unstack (MariaDB is started again to drop the databases), not on a running cloud. */
  readonly cleanAfterUnstack?: boolean;
}

/** Where the host starts: a fresh base (the real package path), or a package layer under its own prefix. */
export interface HostStart {
  readonly layer: LayerSpec;
  /** The test hosts' name prefix, unlike the fresh file's of the same suite (both run at once). */
  readonly prefix: string;
}

export function allInOne(suite: Suite, more: MoreChecks = {}, pendingReason?: string, start?: HostStart): void {
let hosts: TestHosts;
let imagePath: string;
let imageSha256: string;
const outputs: string[] = [];
/** The localrc's secrets and, after the first stack, the generated ones from .stack-secrets. */
const secrets = new Map<string, string>(Object.entries(SECRETS));

/** Runs ./stack.ts with the operator's environment around it, streaming its output. */
async function stack(args: string[], opts: StackOptions = {}): Promise<Run> {
  const started = Date.now();
  const p: ResultPromise = execa(STACK, ['--config', opts.configFile ?? cloud.config, '--verbose', ...args], {
    cwd: cloud.work,
    reject: false,
    all: true,
    env: { CI: 'true', ...OPERATOR_ENV },
    // Under COMMAND_TIMEOUT below: a run whose process outlives its work (a forgotten command
    // timer kept one alive for 15 minutes once) is killed here and fails the test. 23 min, not 15:
    // a cold trixie install beside another e2e on 2 cores once needed more than 15.
    timeout: 1_400_000,
  });
  const lines: Run['lines'] = [];
  let buf = '';
  let killed = false;
  p.all!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const line of parts) {
      lines.push({ at: Date.now() - started, line });
      if (opts.killAt && !killed && opts.killAt.test(line)) {
        killed = true;
        setTimeout(() => p.kill('SIGTERM'), opts.delayMs ?? 0);
      }
    }
  });
  const r = await p;
  const all = String(r.all ?? '');
  outputs.push(all);
  return { exitCode: r.exitCode, all: r.exitCode === 0 ? all : `${all}\n--- tail of the run log ---\n${newestLogTail(cloud.work)}`, lines };
}

const cloud = { config: '', stack, onHost: (cmd: string) => cloud.ssh.run(cmd, { check: false, timeoutMs: 120_000 }) } as Cloud & { work: string; baseLocalrc: string; ssh: SshHost };
const onHost = cloud.onHost;

/** Processes of the cloud on the host (not sshd, tini, sleep, our own ps). */
async function cloudProcesses(): Promise<string[]> {
  const r = await onHost(`ps -eo comm= | sort -u`);
  return r.stdout.split('\n').filter((c) => /uwsgi|glance|nova|neutron|mysqld|mariadbd|beam|epmd|memcached|python3|ovs|ovn|haproxy/.test(c));
}

const expected = EXPECTED[suite];
const where = start ? `a Debian ${suite} test host with the packages of layer ${start.layer.label}` : `a fresh Debian ${suite} test host`;
e2eDescribe(pendingReason)(`all-in-one over SSH on ${where}`, () => {
  beforeAll(async () => {
    hosts = await startTestHosts({
      count: 1,
      suite,
      prefix: start?.prefix ?? expected.prefix,
      log: (l) => process.stderr.write(`[hosts] ${l}\n`),
      ...(start ? { layers: [start.layer] } : {}),
    });
    cloud.work = mkdtempSync(join(tmpdir(), 'stackts-e2e-'));
    imagePath = join(cloud.work, 'tiny.qcow2');
    // A small real qcow2 with content: what CirrOS would be, without the internet.
    writeFileSync(join(cloud.work, 'seed.raw'), Buffer.alloc(2 * 1024 * 1024, 'stack.ts e2e image '));
    await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', join(cloud.work, 'seed.raw'), imagePath]);
    imageSha256 = createHash('sha256').update(readFileSync(imagePath)).digest('hex');
    const h = hosts.hosts[0]!;
    cloud.baseLocalrc = [
      ...testHostSettings(hosts, h),
      'VIRT_DRIVER=fake',
      'APT_UNSAFE_IO=True',
      'COMMAND_TIMEOUT=1800',
      `IMAGE_URLS=file://${imagePath}`,
      ...Object.entries(SECRETS).map(([k, v]) => `${k}=${shq(v)}`),
      '',
    ].join('\n');
    cloud.config = join(cloud.work, 'localrc');
    writeFileSync(cloud.config, cloud.baseLocalrc);
    cloud.ssh = new SshHost({ host: h.address, privateKey: h.keyPath, log: new MemoryLogger(), commandTimeoutMs: 120_000 });
  }, 900_000);

  afterAll(async () => {
    await cloud.ssh?.close();
    await hosts?.stop();
    if (cloud.work) rmSync(cloud.work, { recursive: true, force: true });
  });

  more.beforeStack?.(cloud);

  it('stacks a working cloud from one command (--debug: every command is shown, none with a secret)', async () => {
    const r = await stack(['--debug']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain(`${expected.title} is up on`);
    expect(r.all).toContain(`glance-api only (${expected.name} has no glance-registry`);
    expect(r.all).not.toMatch(/tested on/); // both releases are tested ones: no preflight warning
    expect(r.all).toMatch(/stack\.ts completed in/);
    // The broker's first boot made our user (advanced.config): no rabbitmqctl changed users, and there is no guest.
    expect(r.all).not.toMatch(/rabbitmqctl (add_user|change_password|-q set_permissions|-q delete_user guest|-q await_startup)/);
    const users = await onHost('rabbitmqctl -q list_users');
    expect(users.stdout).toMatch(/^stackrabbit\s/m);
    expect(users.stdout).not.toMatch(/^guest\s/m);
    more.firstStack?.(r);
  }, 1_500_000);

  it('verify passes on its own; --debug shows every command run', async () => {
    const r = await stack(['verify', '--debug']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/\[10\.99\.\d+\.11\] \$ /);
  }, 600_000);

  it('the services log no deprecation caused by the config stack.ts wrote', async () => {
    const r = await onHost(
      "grep -rhE 'Deprecated: Option|service_token_roles_required set to False|was not a valid service token' /var/log/keystone /var/log/glance /var/log/placement /var/log/nova /var/log/neutron 2>/dev/null | cut -c1-300 | sort -u | head -n 20",
    );
    // Zed (bookworm) is left as it always was; from Epoxy on the options are written in their new form.
    if (suite === 'trixie') expect(r.stdout.trim()).toBe('');
  }, 120_000);

  it("Keystone stores every password stack.ts set with KEYSTONE_PASSWORD_HASH_ROUNDS' bcrypt cost (4 by default), and they log in", async () => {
    const r = await onHost(`mysql -N -B -e "SELECT u.name, SUBSTRING(p.password_hash, 1, 7) FROM keystone.local_user u JOIN keystone.password p ON p.local_user_id = u.id WHERE p.expires_at IS NULL AND p.self_service = 0 ORDER BY u.name"`);
    expect(r.exitCode, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => l.split('\t'));
    // The admin (bootstrap), the demo user and every service user.
    expect(rows.map(([name]) => name)).toEqual(expect.arrayContaining(['admin', 'glance', 'nova', 'neutron', 'placement']));
    for (const [name, prefix] of rows) expect(prefix, name).toBe('$2b$04$');
  }, 120_000);

  it('the real openstack client lists and downloads the image', async () => {
    const list = await onHost('openstack --os-cloud stack image list -f json');
    expect(list.exitCode, list.stderr).toBe(0);
    const images = JSON.parse(list.stdout) as { ID: string; Name: string; Status: string }[];
    const tiny = images.filter((i) => i.Name === 'tiny');
    expect(tiny).toHaveLength(1);
    expect(tiny[0]!.Status).toBe('active');
    const save = await onHost(`openstack --os-cloud stack image save --file /tmp/tiny.out ${tiny[0]!.ID} && sha256sum /tmp/tiny.out`);
    expect(save.exitCode, save.stderr).toBe(0);
    expect(save.stdout.split(' ')[0]).toBe(imageSha256);
  }, 300_000);

  it("plan shows the networks, the router and the datapath; every chassis is in Neutron's agent list", async () => {
    const p = await stack(['plan']);
    expect(p.exitCode, p.all).toBe(0);
    expect(p.all).toMatch(/^Networks:\n  private +10\.0\.0\.0\/22 gateway 10\.0\.0\.1 .*\n  public +172\.24\.4\.0\/24 gateway 172\.24\.4\.1 on br-ex .*\n  router1 +private -> public, SNAT\n  datapath +\S+: userspace \(netdev\): the kernel has no openvswitch module/m);
    const agents = await onHost('openstack --os-cloud stack-admin network agent list -f value -c "Agent Type" -c Host -c Alive');
    expect(agents.exitCode, agents.stderr).toBe(0);
    // Zed's neutron lists OVN 23.03's gateway chassis as a plain controller agent (it reads
    // ovn-cms-options where that OVN no longer puts them); 2025.1 names it the gateway agent.
    expect(agents.stdout).toMatch(/^OVN Controller (Gateway )?agent \S+ True$/m);
    expect(agents.stdout).toMatch(/^OVN Metadata agent \S+ True$/m);
  }, 300_000);

  it('the demo user boots a server on private with the openstack client; with a floating IP it answers ping and port 22 from the network host', async () => {
    const os = (args: string) => onHost(`openstack --os-cloud stack ${args}`);
    const ok = async (args: string) => {
      const r = await os(args);
      expect(r.exitCode, `openstack ${args}\n${r.stderr}`).toBe(0);
      return r.stdout.trim();
    };
    await ok('security group create e2e-ssh -f value -c id');
    await ok('security group rule create --protocol icmp e2e-ssh -f value -c id');
    await ok('security group rule create --protocol tcp --dst-port 22 e2e-ssh -f value -c id');
    const server = await ok('server create --flavor stack.tiny --image tiny --network private --security-group e2e-ssh --wait e2e-vm -f value -c id');
    const [portId, mac] = (await ok(`port list --server ${server} -f value -c ID -c "MAC Address"`)).split(/\s+/) as [string, string];
    const fip = await ok('floating ip create public -f value -c floating_ip_address');
    await ok(`server add floating ip ${server} ${fip}`);
    // The fake driver runs no guest: the test plays the hypervisor, plugging a namespace onto the
    // server's port as libvirt would, and runs DHCP and a port-22 listener in it.
    const dir = '/var/lib/stack-ts/e2e-guest';
    const g = await plugStandIn(cloud.ssh, { id: portId, mac }, dir);
    try {
      const lease = await standInDhcp(cloud.ssh, g, dir);
      expect(lease.ok, lease.ok ? '' : lease.output).toBe(true);
      const fixed = await ok(`port show ${portId} -f json -c fixed_ips`);
      expect(fixed).toContain(lease.ok ? lease.address : 'no lease');
      await standInListen(cloud.ssh, g);
      const ping = await onHost(`for i in $(seq 1 30); do ping -c 1 -W 1 ${fip} >/dev/null && exit 0; done; exit 1`);
      expect(ping.exitCode, `no answer from ${fip}`).toBe(0);
      const banner = await onHost(`timeout 15 bash -c 'exec 3<>/dev/tcp/${fip}/22 && head -1 <&3'`);
      expect(banner.stdout.trim()).toBe(STAND_IN_BANNER);
    } finally {
      await unplugStandIn(cloud.ssh, g);
      await os(`server delete --wait ${server}`);
      await os(`floating ip delete ${fip}`);
      await os('security group delete e2e-ssh');
    }
  }, 600_000);

  it('no secret in any file outside the 0600/0640 ones on the host; the checked files do hold them', async () => {
    for (const [k, v] of (await readSecretsFile(join(cloud.work, '.stack-secrets'), true)).values) secrets.set(k, v);
    expect(secrets.size).toBeGreaterThan(Object.keys(SECRETS).length); // the generated DB passwords and memcache key
    const patterns = [...[...secrets.values()].flatMap(secretForms), OPERATOR_ENV.OS_PASSWORD];
    const patFile = '/root/.stack-e2e-secret-patterns';
    await cloud.ssh.writeFile(patFile, `${patterns.join('\n')}\n`, { mode: 0o600 });
    // Every regular file under the directories that holds a secret, with its mode.
    const dirs = HOST_DIRS.join(' ');
    const r = await onHost(
      `echo "$(find ${dirs} -type f 2>/dev/null | wc -l) files"; ` +
        `find ${dirs} -type f ! -path ${patFile} -print0 2>/dev/null | xargs -0 -r grep -l -Z -a -F -f ${patFile} | xargs -0 -r stat -c '%a %n'; rm -f ${patFile}`,
    );
    const [count, ...lines] = r.stdout.trim().split('\n');
    expect(parseInt(count!, 10), r.stdout).toBeGreaterThan(50);
    const holding = new Map(lines.filter(Boolean).map((l) => [l.slice(l.indexOf(' ') + 1), parseInt(l.slice(0, l.indexOf(' ')), 8)]));
    // Not vacuous: the services' own option files carry their (generated) database passwords.
    expect([...holding.keys()]).toContain('/etc/keystone/stack-db.cnf');
    expect([...holding.keys()]).toContain('/etc/rabbitmq/advanced.config');
    const exposed = [...holding].filter(([, mode]) => (mode & 0o137) !== 0).map(([f, mode]) => `${mode.toString(8)} ${f}`);
    expect(exposed, 'files holding a secret that are more than 0640').toEqual([]);
  }, 120_000);

  it('no service process sees any of the operator\'s OS_* variables', async () => {
    // By name and command line (uwsgi and some workers show up as python3); not this probe's own shell.
    const r = await onHost(
      'for d in /proc/[0-9]*; do comm=$(cat $d/comm 2>/dev/null) || continue; case "$comm" in sh|bash|dash|tr|cut|cat|grep) continue;; esac; ' +
        "args=$(tr '\\0' ' ' < $d/cmdline 2>/dev/null | cut -c1-120); " +
        'case "$comm $args" in *uwsgi*|*glance*|*nova*|*neutron*|*placement*|*keystone*|*beam.smp*|*epmd*|*mysqld*|*mariadbd*|*memcached*) ' +
        "printf '%s|%s|%s\\n' \"${d#/proc/}\" \"$comm $args\" \"$(tr '\\0' '\\n' < $d/environ 2>/dev/null | grep -c '^OS_')\";; esac; done",
    );
    const procs = r.stdout.trim().split('\n').filter(Boolean).map((l) => l.split('|'));
    for (const want of [/uwsgi/, /glance-api/, /nova-(conductor|scheduler)/, /neutron-server/, /beam\.smp/, /mysqld|mariadbd/, /memcached/]) {
      expect(procs.some((p) => want.test(p[1]!)), `a ${want} process among ${procs.map((p) => p[1]!.split(' ')[0]).join(' ')}`).toBe(true);
    }
    expect(procs.filter((p) => p.at(-1) !== '0').map((p) => `${p[1]} (pid ${p[0]}): ${p.at(-1)} OS_* variables`)).toEqual([]);
    // The values, whatever the name they might travel under.
    const values = Object.values(OPERATOR_ENV).filter((v) => v.startsWith('operator-'));
    const leaked = await onHost(
      `for pid in ${procs.map((p) => p[0]).join(' ')}; do tr '\\0' '\\n' < /proc/$pid/environ 2>/dev/null | grep -F ${values.map((v) => `-e ${shq(v)}`).join(' ')}; done`,
    );
    expect(leaked.stdout.trim()).toBe('');
  }, 120_000);

  it('RabbitMQ (AMQP, Erlang distribution, epmd), MariaDB and memcached listen on no wildcard address', async () => {
    const r = await onHost('cat /proc/net/tcp /proc/net/tcp6 2>/dev/null');
    const ports = [5672, 25672, 4369, 3306, 11211];
    const listeners = tcpListeners(r.stdout).filter((l) => ports.includes(l.port));
    for (const p of ports) expect(listeners.some((l) => l.port === p), `something listens on ${p}`).toBe(true);
    expect(listeners.filter((l) => isWildcard(l.address))).toEqual([]);
  }, 60_000);

  more.whileUp?.(cloud);

  it('unstack stops every process it started', async () => {
    const r = await stack(['unstack']);
    expect(r.exitCode, r.all).toBe(0);
    expect(await cloudProcesses()).toEqual([]);
  }, 300_000);

  it('stack again brings the same cloud back with the same image', async () => {
    const r = await stack([]);
    expect(r.exitCode, r.all).toBe(0);
    const list = await onHost('openstack --os-cloud stack-admin image list -f json');
    const tiny = (JSON.parse(list.stdout) as { Name: string }[]).filter((i) => i.Name === 'tiny');
    expect(tiny).toHaveLength(1);
  }, 1_500_000);

  if (more.cleanAfterUnstack) {
    it('unstack again, for a clean of a stopped cloud', async () => {
      const r = await stack(['unstack']);
      expect(r.exitCode, r.all).toBe(0);
      expect(await cloudProcesses()).toEqual([]);
    }, 300_000);
  }

  it(`clean removes what stack made${more.cleanAfterUnstack ? ' (MariaDB started again to drop the databases)' : ''}`, async () => {
    const r = await stack(['clean']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/Cleaned /);
    if (more.cleanAfterUnstack) expect(r.all).toMatch(/starting MariaDB to drop/);
    expect(await cloudProcesses()).toEqual([]);
    const left = await onHost(
      'ls -d /var/lib/stack-ts /var/log/stack-ts /etc/openstack/clouds.yaml /etc/nova/nova-compute.conf /etc/keystone/fernet-keys /etc/mysql/mariadb.conf.d/99-stack.cnf /etc/*/stack-db.cnf /etc/rabbitmq/advanced.config 2>/dev/null; ls /var/lib/glance/images 2>/dev/null; ls /var/lib/mysql | grep -xE "keystone|glance|nova|nova_api|nova_cell0|placement|neutron"',
    );
    expect(left.stdout.trim()).toBe('');
    // The host's network is as it was: no bridge, namespace or route of the cloud's is left.
    const net = await onHost("ip -br link | awk '{print $1}' | grep -vxE 'lo|eth0(@.*)?'; ip netns list; ip -4 route | grep -v ' dev eth0 '");
    expect(net.stdout.trim()).toBe('');
    // Config files are back to what the packages ship.
    const diff = await onHost('cmp /etc/glance/glance-api.conf /usr/share/glance-common/glance-api.conf && cmp /etc/nova/nova.conf /usr/share/nova-common/nova.conf');
    expect(diff.exitCode, diff.stdout + diff.stderr).toBe(0);
    for (const f of ['openrc-admin', 'openrc-demo', 'clouds.yaml']) expect(existsSync(join(cloud.work, '.stack', f)), f).toBe(false);
  }, 600_000);

  it('no secret appears in any output or log file', () => {
    const logDir = join(cloud.work, '.stack', 'logs');
    const texts = [...outputs];
    if (existsSync(logDir)) for (const f of readdirSync(logDir)) texts.push(readFileSync(join(logDir, f), 'utf8'));
    expect(texts.length).toBeGreaterThan(6);
    const all = texts.join('\n');
    expect(secrets.size).toBeGreaterThan(Object.keys(SECRETS).length);
    for (const [name, v] of [...secrets, ['the operator\'s OS_PASSWORD', OPERATOR_ENV.OS_PASSWORD] as const]) {
      for (const form of secretForms(v)) {
        expect(all.includes(form), `${name} leaked as ${form}`).toBe(false);
      }
    }
  });
});
}
