// nova-compute with VIRT_DRIVER. Its config has no database credentials (compute hosts must not
// reach the DB; nova refuses with "No DB access allowed in nova-compute"). With the fake driver it
// runs from python3-nova alone: Debian's nova-compute package hard-depends on a hypervisor.
// With libvirt it also runs libvirtd and virtlogd (./libvirt.ts), and verify boots a real guest.

import { FLAVORS } from '../../lib/flavors.ts';
import { hasDataPath, privateNetworkId, proveDataPath, VERIFY_SECURITY_GROUP } from './data-path.ts';
import { readPackageList } from '../../lib/packages.ts';
import { releaseAtLeast } from '../../lib/release.ts';
import { sh } from '../../lib/shell.ts';
import { StackError } from '../../lib/errors.ts';
import { FAST_POLL_MS, settledInOrder, TEST_SERVER_POLL_MS } from '../../lib/wait.ts';
import { type ConfigFile, type ServicePlugin, type StackContext } from '../../lib/plugin.ts';
import { daemonLogTail, daemonStatus, stopDaemon, type DaemonSpec } from '../../lib/daemon.ts';
import { listComputeServices, listHypervisors, type Hypervisor, ensureFlavor, createServer, deleteServer, getServer, getConsoleOutput, waitForServerActive, waitForServerUnlisted } from '../../lib/openstack/nova.ts';
import { getInventories, listResourceProviders, type ResourceProvider } from '../../lib/openstack/placement.ts';
import { listImages } from '../../lib/openstack/glance.ts';
import { adminSession, cleanService, startService } from '../../lib/service/lifecycle.ts';
import { renderIni } from '../../lib/service/config.ts';
import { logTail } from '../../lib/log-tail.ts';
import { startOrRestart } from '../../lib/restart.ts';
import { windowStart } from '../../lib/links.ts';
import { withAdminDb } from '../../lib/db-admin.ts';
import { explainingLines } from '../../lib/log-cause.ts';
import { imageName } from '../../lib/image.ts';
import { NOVA_CONF, novaCommon } from '../nova/index.ts';
import { downReason, isBack, noteRestart, restartedWith } from '../nova/reports.ts';
import {
  DESTROY_GUESTS,
  LIBVIRT_READY,
  LIBVIRTD_LOG,
  LIBVIRTD_CONF,
  QEMU_CONF,
  QEMU_LOG_DIR,
  QEMU_LOG_TAIL,
  QEMU_USER,
  UNDEFINE_GUESTS,
  describeHypervisor,
  libvirtDaemons,
  preflightLibvirt,
  probeHost,
  libvirtdConf,
  qemuConf,
  stripOurLines,
  virtType,
} from './libvirt.ts';
import { consolePattern, consoleTail, waitForBootMarker } from './guest.ts';
import { computeDeathCause, computeDeathError } from './watch.ts';
import { removeLeftoverServers, testServerName } from './leftovers.ts';

const CONF = '/etc/nova/nova-compute.conf';
const LOG = '/var/log/nova/nova-compute.log';

/**
 * From 2023.1 (antelope) nova-compute keeps a node identity in this file. The plain fake driver
 * ignores it and makes up a new node UUID in every process, so its second start (stack after
 * unstack) died: first "No local node identity found", and with the file, "Duplicate compute node
 * record found for host h1 node h1". Its sibling FakeDriverWithoutFakeNodes, there since 2023.1,
 * takes the UUID from this file (writing it on its first start) like a real driver.
 */
export const COMPUTE_ID = '/var/lib/nova/compute_id';
const hasNodeIdentity = (ctx: StackContext): boolean => releaseAtLeast(ctx.release, 'antelope');

/**
 * Maps the cloud's compute nodes into cell1 as `nova-manage cell_v2 discover_hosts` does: a host
 * mapping in nova_api for each node not yet mapped, then the node marked mapped. Two statements on
 * stack.ts's admin connection (through the database host: a compute host has no database
 * credentials) instead of a nova-manage start of ~3 s, so it can be tried at every poll.
 */
export async function mapComputeNodes(ctx: StackContext): Promise<number> {
  return withAdminDb(ctx, async (db) => {
    const [cell] = await db.query<{ id: number }>("SELECT id FROM nova_api.cell_mappings WHERE name = 'cell1'");
    if (!cell) return 0;
    const nodes = await db.query<{ id: number; host: string }>('SELECT id, host FROM nova.compute_nodes WHERE mapped = 0 AND deleted = 0');
    for (const n of nodes) {
      // Another compute's register may have mapped the same host a moment ago: the mapping is unique per host.
      await db.query('INSERT IGNORE INTO nova_api.host_mappings (cell_id, host, created_at) VALUES (?, ?, UTC_TIMESTAMP())', [cell.id, n.host]);
      await db.query('UPDATE nova.compute_nodes SET mapped = 1 WHERE id = ?', [n.id]);
    }
    return nodes.length;
  });
}

const isLibvirt = (ctx: StackContext): boolean => ctx.config.settings.VIRT_DRIVER === 'libvirt';

const daemon = (ctx: StackContext): DaemonSpec => ({
  name: 'nova-compute',
  argv:
    ctx.config.settings.VIRT_DRIVER === 'fake'
      ? // The packaged /usr/bin/nova-compute is this one call; python3-nova has it without the hypervisor.
        ['/usr/bin/python3', '-c', 'import sys; from nova.cmd.compute import main; sys.exit(main())', '--config-file', CONF, '--log-file', LOG]
      : ['/usr/bin/nova-compute', '--config-file', CONF, '--log-file', LOG],
  user: 'nova',
  group: 'nova',
  logFile: '/var/log/nova/nova-compute.out',
  link: 'nova-conductor and nova-scheduler -> nova-compute (over RabbitMQ)',
  ownLog: LOG,
  runtimeDirs: [
    { path: '/run/nova', owner: 'nova:nova' },
    { path: '/var/lock/nova', owner: 'nova:nova' },
  ],
  workDir: '/var/lib/nova',
});

const stateDir = (ctx: StackContext): string => ctx.config.settings.STACK_STATE_DIR;

/**
 * Throws at once when nova-compute is no longer running, with the cause from its log (and, when it
 * could not reach libvirt, libvirtd's state and log): waiting out SERVICE_TIMEOUT would only hide it.
 */
async function checkComputeAlive(ctx: StackContext): Promise<void> {
  if ((await daemonStatus(ctx.host, ctx.facts, daemon(ctx), stateDir(ctx))).running) return;
  const log = await logTail(ctx, LOG, 40);
  const libvirtd = isLibvirt(ctx) ? libvirtDaemons(ctx).find((d) => d.name === 'libvirtd')! : undefined;
  const libvirtdRunning = libvirtd ? (await daemonStatus(ctx.host, ctx.facts, libvirtd, stateDir(ctx))).running : undefined;
  const death = computeDeathCause(ctx.host.name, log, libvirtdRunning, await windowStart(ctx));
  if (death.blame === 'libvirtd' && libvirtd) {
    const t = await daemonLogTail(ctx.host, ctx.facts, libvirtd, stateDir(ctx));
    throw computeDeathError(death, { file: `${LOG} and ${t.file}`, lines: `${log.split('\n').slice(-10).join('\n')}\n--- ${t.file} ---\n${ctx.log.mask(t.lines)}` });
  }
  throw computeDeathError(death, { file: LOG, lines: log });
}

/** The compute node's resource provider once it offers VCPU and memory, else undefined. */
export async function providerWithInventory(s: Awaited<ReturnType<typeof adminSession>>, name: string): Promise<ResourceProvider | undefined> {
  const rp = (await listResourceProviders(s)).find((p) => p.name === name);
  if (!rp) return undefined;
  const inv = await getInventories(s, rp.uuid);
  return inv.VCPU?.total && inv.MEMORY_MB?.total ? rp : undefined;
}

/** Poll until fn returns a value, or fail with the message and the compute log's tail; a dead compute fails at once. */
async function until<T>(ctx: StackContext, what: string, fn: () => Promise<T | undefined>, hint: string): Promise<T> {
  const deadline = Date.now() + ctx.config.settings.SERVICE_TIMEOUT * 1000;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    await checkComputeAlive(ctx);
    if (Date.now() > deadline) {
      throw new StackError(`${what} (waited ${ctx.config.settings.SERVICE_TIMEOUT} s)`, hint, { file: LOG, lines: await explainingTail(ctx) });
    }
    await new Promise((r) => setTimeout(r, FAST_POLL_MS));
  }
}

/** The compute log's lines that explain a wait that ran out: this window's warnings and errors first. */
async function explainingTail(ctx: StackContext): Promise<string> {
  return explainingLines(await logTail(ctx, LOG, 500), await windowStart(ctx));
}

/**
 * Wait until Nova lists this host's hypervisor, mapping it into cell1 while it does not.
 * nova-compute reports its service seconds before it writes its compute node record, and only a
 * node with a record can be mapped; os-hypervisors hides an unmapped node. So a single mapping
 * right after the service came up can map nothing (issue 15: the first run failed so): it is
 * tried again at every poll until the node shows.
 */
async function waitForHypervisor(ctx: StackContext, s: Awaited<ReturnType<typeof adminSession>>, name: string): Promise<Hypervisor> {
  const map = ctx.config.services.has('n-api');
  const listed = async () => (await listHypervisors(s)).find((h) => h.hypervisor_hostname.startsWith(name));
  return until(
    ctx,
    `No hypervisor of ${name} in Nova`,
    async () => {
      const hv = await listed();
      if (hv || !map) return hv;
      return (await mapComputeNodes(ctx)) > 0 ? listed() : undefined;
    },
    `nova-compute on ${name} reports in but Nova lists no compute node of it (it writes the node once it has read its hypervisor), even after it was mapped into cell1 (what \`nova-manage cell_v2 discover_hosts\` does); see the compute log below.`,
  );
}

/** libvirtd accepts connections on its socket (it takes a moment after its pid exists). */
async function waitForLibvirt(ctx: StackContext): Promise<void> {
  const deadline = Date.now() + ctx.config.settings.SERVICE_TIMEOUT * 1000;
  for (;;) {
    const r = await ctx.host.run(LIBVIRT_READY, { check: false, label: 'libvirtd answers' });
    if (r.exitCode === 0) return;
    const libvirtd = libvirtDaemons(ctx).find((d) => d.name === 'libvirtd')!;
    const running = (await daemonStatus(ctx.host, ctx.facts, libvirtd, stateDir(ctx))).running;
    if (!running || Date.now() > deadline) {
      const t = await daemonLogTail(ctx.host, ctx.facts, libvirtd, stateDir(ctx));
      throw new StackError(
        `libvirtd on ${ctx.host.name} ${running ? `does not answer on its socket after ${ctx.config.settings.SERVICE_TIMEOUT} s` : 'exited'}: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}`,
        'Its log below says why; where libvirt cannot run at all, VIRT_DRIVER=fake stacks a cloud without a hypervisor.',
        { file: t.file, lines: ctx.log.mask(t.lines) },
      );
    }
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** The guest did not print its marker: what the console and QEMU said, and what to do. */
async function guestFailure(ctx: StackContext, server: string, message: string, consoleText: string): Promise<StackError> {
  const qemu = await ctx.host.run(QEMU_LOG_TAIL, { check: false });
  const libvirtd = await logTail(ctx, LIBVIRTD_LOG, 3);
  // The renderer shows the last 20 lines: 8 of the console, 6 of QEMU, 3 of libvirtd and headers fit.
  return new StackError(
    message,
    `An image that prints no ${ctx.config.settings.VERIFY_CONSOLE_PATTERN} on its serial console needs VERIFY_CONSOLE_PATTERN set to what it prints; ` +
      'a guest that never reaches it is explained by the console and QEMU log below.',
    {
      file: `console of ${server}, ${QEMU_LOG_DIR}, ${LIBVIRTD_LOG}`,
      lines: ctx.log.mask(
        [`--- console (last lines) ---`, consoleTail(consoleText, 8) || '(empty)', `--- QEMU log ---`, qemu.stdout.trim() || '(none)', `--- ${LIBVIRTD_LOG} ---`, libvirtd.trim() || '(empty)'].join('\n'),
      ),
    },
  );
}

/** The image verify boots: the first of IMAGE_URLS (by name), else any active one. */
async function verifyImage(ctx: StackContext, s: Awaited<ReturnType<typeof adminSession>>): Promise<{ id: string; name: string | null }> {
  const active = (await listImages(s)).filter((i) => i.status === 'active');
  const first = ctx.config.settings.IMAGE_URLS[0];
  const image = (first && active.find((i) => i.name === imageName(first))) ?? active[0];
  if (!image) throw new StackError('No active image in Glance to boot a test server from.', 'The image step uploads one; run `./stack.ts` again.');
  return image;
}

const plugin: ServicePlugin = {
  name: 'nova-compute',
  services: ['n-cpu'],
  needs: ['nova', 'placement'],
  // verify boots a server on the private network: after networks' verify has seen every chassis
  // report (and so OVN ready to bind the server's port), not only after nova's and placement's.
  after: { start: ['rabbitmq/register', 'nova/register', 'placement/register'], register: ['nova/register'], verify: ['nova', 'placement', 'networks'] },

  packages: async (ctx) => readPackageList(isLibvirt(ctx) ? 'nova-compute' : 'nova-compute-fake', ctx.facts.family),

  async preflight(ctx) {
    if (isLibvirt(ctx)) await preflightLibvirt(ctx);
  },

  async configFiles(ctx) {
    const common = novaCommon(ctx);
    const files: ConfigFile[] = [];
    const libvirt = isLibvirt(ctx) ? await probeHost(ctx) : undefined;
    files.push(
      await renderIni(ctx, { path: CONF, variable: 'NOVA_CPU_CONF', owner: 'nova:nova' }, {
        ...common,
        DEFAULT: {
          ...common.DEFAULT,
          compute_driver: libvirt ? 'libvirt.LibvirtDriver' : hasNodeIdentity(ctx) ? 'fake.FakeDriverWithoutFakeNodes' : 'fake.FakeDriver',
          host: ctx.facts.hostname,
        },
        // TCG cannot pass the host CPU through: without cpu_mode=none nova asks for host-model.
        ...(libvirt ? { libvirt: { virt_type: virtType(libvirt), cpu_mode: virtType(libvirt) === 'kvm' ? 'host-model' : 'none' } } : {}),
      }),
    );
    if (libvirt) {
      files.push({ path: QEMU_CONF, content: qemuConf((await ctx.host.readFileIfExists(QEMU_CONF)) ?? '', libvirt), mode: 0o600, owner: 'root:root' });
      if (ctx.facts.init !== 'systemd') {
        files.push({ path: LIBVIRTD_CONF, content: libvirtdConf((await ctx.host.readFileIfExists(LIBVIRTD_CONF)) ?? ''), mode: 0o644, owner: 'root:root' });
      }
    }
    return files;
  },

  async configure(ctx) {
    if (!isLibvirt(ctx)) {
      await ctx.host.run(sh('install', '-d', '-o', 'nova', '-g', 'nova', '-m', '0750', '/var/lib/nova/instances', '/var/lib/nova/tmp'));
      return;
    }
    // QEMU runs as libvirt-qemu and opens the guest's disk under instances/: it must be able to enter it.
    await ctx.host.run(sh('install', '-d', '-o', 'nova', '-g', 'nova', '-m', '0755', '/var/lib/nova/instances'));
    await ctx.host.run(sh('install', '-d', '-o', 'nova', '-g', 'nova', '-m', '0750', '/var/lib/nova/tmp'));
    // nova talks to libvirtd's socket (group libvirt); QEMU opens /dev/kvm (group kvm). The packages
    // add these where their postinst ran fully; a re-run or a partial install may not have.
    await ctx.host.run(
      [
        'getent group libvirt >/dev/null && usermod -a -G libvirt nova',
        `getent group kvm >/dev/null && id ${QEMU_USER} >/dev/null 2>&1 && usermod -a -G kvm ${QEMU_USER}`,
        'true',
      ].join('; '),
      { label: 'groups of nova and the qemu user' },
    );
  },

  async start(ctx) {
    if (isLibvirt(ctx)) {
      const [virtlogd, libvirtd] = libvirtDaemons(ctx);
      let restarted = false;
      for (const [spec, files] of [[virtlogd!, []], [libvirtd!, [QEMU_CONF, LIBVIRTD_CONF]]] as const) {
        const { action, markStarted } = await startOrRestart(ctx, spec, files);
        if (action !== 'running') restarted = true;
        await markStarted();
      }
      await waitForLibvirt(ctx);
      // A running nova-compute whose libvirt connection dropped disables itself ("Connection to the
      // hypervisor is broken", seen after a re-run restarted libvirtd): it starts again on the new one.
      if (restarted) await stopDaemon(ctx.host, ctx.facts, daemon(ctx), stateDir(ctx));
    }
    const running = (await daemonStatus(ctx.host, ctx.facts, daemon(ctx), stateDir(ctx))).running;
    const because = ctx.cloud.brokerRestartReason() ?? (running ? await downReason(ctx, 'nova-compute', ctx.facts.hostname) : undefined);
    const action = await startService(ctx, daemon(ctx), [CONF], undefined, because);
    // register waits until it reports from the new process (see ../nova/reports.ts).
    if (action !== 'running') await noteRestart(ctx, 'nova-compute');
  },

  async register(ctx) {
    // The compute service must report in before cells v2 can map it to cell1, and, restarted by
    // this run, be back (up, enabled, reporting from the new process) before verify boots a server.
    const s = await adminSession(ctx);
    const name = ctx.facts.hostname;
    const restarted = restartedWith(ctx, 'nova-compute');
    await until(
      ctx,
      `nova-compute on ${name} never reported to nova-conductor as up and enabled${restarted ? ' after its restart' : ''}`,
      async () => (await listComputeServices(s)).find((x) => x.binary === 'nova-compute' && x.host === name && isBack(x, restarted)),
      `nova-compute reaches the conductor through RabbitMQ (transport_url in ${CONF}), and disables itself while it cannot reach its hypervisor; see its log below.`,
    );
    // Mapped once its compute node exists, not once its service is up (see waitForHypervisor).
    await waitForHypervisor(ctx, s, name);
    if (isLibvirt(ctx)) ctx.log.info(`${ctx.host.name}: hypervisor ${describeHypervisor(await probeHost(ctx))}`);
  },

  async verify(ctx) {
    const s = await adminSession(ctx);
    const name = ctx.facts.hostname;
    await checkComputeAlive(ctx);
    const svc = (await listComputeServices(s)).find((x) => x.binary === 'nova-compute' && x.host === name);
    if (!svc || svc.state !== 'up' || svc.status !== 'enabled') {
      throw new StackError(`nova-compute on ${name} is ${svc ? `${svc.status}/${svc.state}` : 'not registered'} in Nova.`,
        'It reports through RabbitMQ every 10 s; check that it runs (`./stack.ts status`) and its log below.', { file: LOG, lines: await explainingTail(ctx) });
    }
    const hv = await waitForHypervisor(ctx, s, name);
    // A provider with its inventory: nova-compute creates the provider, then reports what it holds a
    // moment later, and a server asked for in between finds no host (seen on a first run, 2025.1).
    await until(
      ctx,
      `Placement has no resource provider with an inventory for ${hv.hypervisor_hostname}`,
      () => providerWithInventory(s, hv.hypervisor_hostname),
      `nova-compute reports its inventory to Placement with the [placement] credentials in ${CONF}.`,
    );
    // The whole pipeline: a server boots on this compute host and is deleted again.
    if (!ctx.config.services.has('q-svc')) {
      // Nova asks the Network API to release a server's ports on delete; without one the server would stay in ERROR.
      ctx.log.warn(`${ctx.host.name}: the server boot check is skipped: q-svc (neutron-server) is disabled, and Nova cannot delete a server without a Network API.`);
      return;
    }
    const networked = hasDataPath(ctx);
    // What the test server needs, asked of Nova, Glance and Neutron at once; each finishes (the
    // leftovers' removal above all) before the first failure in this order is reported.
    const [, image, flavor, network] = await settledInOrder([
      removeLeftoverServers(s, ctx.config.settings.SERVICE_TIMEOUT * 1000).then(
        (removed) => {
          if (removed.length) ctx.log.warn(`${ctx.host.name}: removed ${removed.length} test server(s) an earlier run left behind (a verify that was killed): ${removed.join(', ')}`);
        },
        (err: Error) => {
          throw new StackError(`Could not remove the test servers earlier runs left: ${err.message}`, 'Delete them with `openstack server delete` (names stack-verify-...) and run `./stack.ts verify` again.');
        },
      ),
      verifyImage(ctx, s),
      ensureFlavor(s, FLAVORS.find((f) => f.name === 'stack.tiny')!),
      networked ? privateNetworkId(s, ctx) : undefined,
    ] as const);
    const pattern = isLibvirt(ctx) ? consolePattern(ctx.config.settings.VERIFY_CONSOLE_PATTERN) : undefined;
    const created = Date.now();
    const serverName = testServerName(created);
    // On this compute host (admin's nova:HOST zone), so each compute host of the cloud is proved.
    const server = await createServer(s, {
      name: serverName,
      imageRef: image.id,
      flavorRef: flavor,
      ...(network ? { networks: [{ uuid: network }], securityGroups: [VERIFY_SECURITY_GROUP] } : { networks: 'none' as const }),
      availabilityZone: `nova:${name}`,
    });
    // Deleted once, either beside the stand-in guest's removal (the data path's end) or at the end.
    let deleting: Promise<void> | undefined;
    const remove = () => (deleting ??= deleteServer(s, server).catch(() => undefined));
    const built = (async () => {
      try {
        // nova-compute may still be shutting down when the links step looked (SIGTERM: oslo's graceful
        // shutdown keeps the process a while, its RPC no longer consumed): a build sent to it never
        // moves, so whether it still runs is asked every 2 s, not only once SERVICE_TIMEOUT ran out.
        await waitForServerActive(s, server, ctx.config.settings.SERVICE_TIMEOUT * 1000, { intervalMs: TEST_SERVER_POLL_MS, check: () => checkComputeAlive(ctx) });
      } catch (err) {
        await checkComputeAlive(ctx);
        throw new StackError(`A test server (${server}) did not become ACTIVE on ${name}: ${(err as Error).message}`,
          'Scheduler, conductor and compute logs tell which step failed; the compute log is below.', { file: LOG, lines: await explainingTail(ctx) });
      }
      const landed = (await getServer(s, server))['OS-EXT-SRV-ATTR:host'];
      if (landed !== name) {
        throw new StackError(`The test server ${server} was asked for ${name} (zone nova:${name}) but runs on ${String(landed)}.`, 'Check the compute hosts\' names in `openstack compute service list`.');
      }
    })();
    built.catch(() => undefined);
    try {
      if (networked && !isLibvirt(ctx)) {
        // A stand-in guest needs only the server's port: its path (DHCP, metadata, the floating IP) is
        // proved while Nova finishes the build, and the server is deleted only once the build is over.
        // The build's failure is named first.
        const release = () => built.then(remove, remove);
        await settledInOrder([built, proveDataPath(ctx, s, server, { fake: true, createdAt: created, release, building: built })]);
      } else {
        await built;
        if (pattern) {
          const activeS = (Date.now() - created) / 1000;
          const r = await waitForBootMarker(pattern, {
            read: () => getConsoleOutput(s, server, 50),
            check: () => checkComputeAlive(ctx),
            timeoutMs: ctx.config.settings.VERIFY_BOOT_TIMEOUT * 1000,
          });
          if (!r.seen) {
            throw await guestFailure(
              ctx,
              server,
              `The test server ${server} (image ${image.name ?? image.id}) is ACTIVE on ${name} but its console showed no /${pattern.source}/ within ${ctx.config.settings.VERIFY_BOOT_TIMEOUT} s.`,
              r.lastOutput,
            );
          }
          const bootS = (Date.now() - created) / 1000;
          ctx.log.info(`${ctx.host.name}: guest booted: "${r.line}" on the console ${bootS.toFixed(1)} s after server create (ACTIVE after ${activeS.toFixed(1)} s) [guest-boot-s=${bootS.toFixed(1)}]`);
        }
        if (networked) await proveDataPath(ctx, s, server, { fake: false, createdAt: created, release: remove });
      }
    } finally {
      await remove();
    }
    await waitForServerUnlisted(s, server, serverName, ctx.config.settings.SERVICE_TIMEOUT * 1000, { intervalMs: TEST_SERVER_POLL_MS });
  },

  daemons: (ctx) => (isLibvirt(ctx) ? [...libvirtDaemons(ctx), daemon(ctx)] : [daemon(ctx)]),

  async describe(ctx) {
    return isLibvirt(ctx) ? [`Hypervisor: ${describeHypervisor(await probeHost(ctx))}`] : ['Hypervisor: none (VIRT_DRIVER=fake: servers become ACTIVE, no guest runs)'];
  },

  async stop(ctx) {
    await stopDaemon(ctx.host, ctx.facts, daemon(ctx), stateDir(ctx));
    if (!isLibvirt(ctx)) return;
    // Guests outlive libvirtd (each QEMU has its own session): destroyed while libvirtd still runs.
    const gone = await ctx.host.run(DESTROY_GUESTS, { check: false, label: 'stop running guests' });
    const names = gone.stdout.trim().split('\n').filter(Boolean);
    if (names.length) ctx.log.warn(`${ctx.host.name}: stopped guests ${names.join(', ')}; Nova shows them SHUTOFF, \`openstack server start\` brings them back.`);
    if (ctx.cloud.computeCleaning) await ctx.host.run(UNDEFINE_GUESTS, { check: false, label: 'forget guest definitions' });
    for (const d of [...libvirtDaemons(ctx)].reverse()) await stopDaemon(ctx.host, ctx.facts, d, stateDir(ctx));
  },

  async clean(ctx) {
    ctx.cloud.computeCleaning = true;
    await plugin.stop!(ctx);
    const paths = [LOG, daemon(ctx).logFile!, '/var/lib/nova/instances', COMPUTE_ID];
    if (isLibvirt(ctx)) {
      for (const [file, mode] of [[QEMU_CONF, 0o600], [LIBVIRTD_CONF, 0o644]] as const) {
        const current = await ctx.host.readFileIfExists(file);
        if (current !== null && current !== stripOurLines(current)) await ctx.host.writeFile(file, stripOurLines(current), { mode });
      }
      paths.push(...libvirtDaemons(ctx).flatMap((d) => (d.logFile ? [d.logFile] : [])));
      await ctx.host.run(`rm -f /etc/libvirt/qemu/instance-*.xml /var/log/libvirt/qemu/instance-*.log`, { check: false });
    }
    await cleanService(ctx, { databases: [], configs: [{ path: CONF }], paths });
  },
};

export default plugin;
