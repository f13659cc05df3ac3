// nova-compute with VIRT_DRIVER. Its config has no database credentials (compute hosts must not
// reach the DB; nova refuses with "No DB access allowed in nova-compute"). With the fake driver it
// runs from python3-nova alone: Debian's nova-compute package hard-depends on a hypervisor.

import { readPackageList } from '../../lib/packages.ts';
import { sh } from '../../lib/shell.ts';
import { StackError, type ServicePlugin, type StackContext } from '../../lib/plugin.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { stopPlugin } from '../../lib/stack-tasks.ts';
import { listComputeServices, listHypervisors, ensureFlavor, createServer, deleteServer, waitForServerActive, waitForServerGone } from '../../lib/openstack/nova.ts';
import { listResourceProviders } from '../../lib/openstack/placement.ts';
import { listImages } from '../../lib/openstack/glance.ts';
import { adminSession, cleanService, logTail, renderIni, startService } from '../common/openstack.ts';
import { NOVA_CONF, novaCommon } from '../nova/index.ts';

const CONF = '/etc/nova/nova-compute.conf';
const LOG = '/var/log/nova/nova-compute.log';

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
  runtimeDirs: [
    { path: '/run/nova', owner: 'nova:nova' },
    { path: '/var/lock/nova', owner: 'nova:nova' },
  ],
  workDir: '/var/lib/nova',
});

/** Poll until fn returns a value, or fail with the message and the compute log's tail. */
async function until<T>(ctx: StackContext, what: string, fn: () => Promise<T | undefined>, hint: string): Promise<T> {
  const deadline = Date.now() + ctx.config.settings.SERVICE_TIMEOUT * 1000;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      throw new StackError(`${what} (waited ${ctx.config.settings.SERVICE_TIMEOUT} s)`, hint, { file: LOG, lines: await logTail(ctx, LOG) });
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const plugin: ServicePlugin = {
  name: 'nova-compute',
  services: ['n-cpu'],
  needs: ['nova', 'placement'],

  packages: async (ctx) => readPackageList(ctx.config.settings.VIRT_DRIVER === 'fake' ? 'nova-compute-fake' : 'nova-compute', ctx.facts.family),

  async configFiles(ctx) {
    const common = novaCommon(ctx);
    return [
      await renderIni(ctx, { path: CONF, variable: 'NOVA_CPU_CONF', owner: 'nova:nova' }, {
        ...common,
        DEFAULT: {
          ...common.DEFAULT,
          compute_driver: ctx.config.settings.VIRT_DRIVER === 'fake' ? 'fake.FakeDriver' : 'libvirt.LibvirtDriver',
          host: ctx.facts.hostname,
        },
      }),
    ];
  },

  async configure(ctx) {
    await ctx.host.run(sh('install', '-d', '-o', 'nova', '-g', 'nova', '-m', '0750', '/var/lib/nova/instances', '/var/lib/nova/tmp'));
  },

  start: async (ctx) => startService(ctx, daemon(ctx), [CONF]),

  async register(ctx) {
    // The compute service must report in before cells v2 can map it to cell1.
    const s = await adminSession(ctx);
    const name = ctx.facts.hostname;
    await until(
      ctx,
      `nova-compute on ${name} never reported to nova-conductor`,
      async () => (await listComputeServices(s)).find((x) => x.binary === 'nova-compute' && x.host === name && x.state === 'up'),
      `nova-compute reaches the conductor through RabbitMQ (transport_url in ${CONF}); see its log below.`,
    );
    if (ctx.config.services.has('n-api')) {
      await ctx.host.run(sh('su', '-s', '/bin/sh', '-c', `nova-manage --config-file ${NOVA_CONF} cell_v2 discover_hosts`, 'nova'));
    }
  },

  async verify(ctx) {
    const s = await adminSession(ctx);
    const name = ctx.facts.hostname;
    const svc = (await listComputeServices(s)).find((x) => x.binary === 'nova-compute' && x.host === name);
    if (!svc || svc.state !== 'up' || svc.status !== 'enabled') {
      throw new StackError(`nova-compute on ${name} is ${svc ? `${svc.status}/${svc.state}` : 'not registered'} in Nova.`,
        'It reports through RabbitMQ every 10 s; check that it runs (`./stack.ts status`) and its log below.', { file: LOG, lines: await logTail(ctx, LOG) });
    }
    const hv = await until(ctx, `No hypervisor of ${name} in Nova`, async () => (await listHypervisors(s)).find((h) => h.hypervisor_hostname.startsWith(name)), 'Run `nova-manage cell_v2 discover_hosts`; see the compute log below.');
    await until(
      ctx,
      `Placement has no resource provider for ${hv.hypervisor_hostname}`,
      async () => (await listResourceProviders(s)).find((p) => p.name === hv.hypervisor_hostname),
      `nova-compute reports its inventory to Placement with the [placement] credentials in ${CONF}.`,
    );
    // The whole pipeline: a server boots on this compute host and is deleted again.
    if (!ctx.config.services.has('q-svc')) {
      // Nova asks the Network API to release a server's ports on delete; without one the server would stay in ERROR.
      ctx.log.warn(`${ctx.host.name}: the server boot check is skipped: q-svc (neutron-server) is disabled, and Nova cannot delete a server without a Network API.`);
      return;
    }
    const image = (await listImages(s)).find((i) => i.status === 'active');
    if (!image) throw new StackError('No active image in Glance to boot a test server from.', 'The image step uploads one; run `./stack.ts` again.');
    const flavor = await ensureFlavor(s, { name: 'stack.tiny', ram: 128, vcpus: 1, disk: 1 });
    const server = await createServer(s, { name: `stack-verify-${Date.now()}`, imageRef: image.id, flavorRef: flavor, networks: 'none' });
    try {
      await waitForServerActive(s, server, ctx.config.settings.SERVICE_TIMEOUT * 1000);
    } catch (err) {
      throw new StackError(`A test server (${server}) did not become ACTIVE on ${name}: ${(err as Error).message}`,
        'Scheduler, conductor and compute logs tell which step failed; the compute log is below.', { file: LOG, lines: await logTail(ctx, LOG) });
    } finally {
      await deleteServer(s, server).catch(() => undefined);
    }
    await waitForServerGone(s, server, ctx.config.settings.SERVICE_TIMEOUT * 1000);
  },

  daemons: (ctx) => [daemon(ctx)],

  async clean(ctx) {
    await stopPlugin(ctx, plugin);
    await cleanService(ctx, { databases: [], configs: [{ path: CONF }], paths: [LOG, daemon(ctx).logFile!, '/var/lib/nova/instances'] });
  },
};

export default plugin;
