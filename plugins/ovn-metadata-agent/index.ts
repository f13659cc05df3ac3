// Neutron's OVN metadata agent (devstack's q-ovn-metadata-agent), on every compute: for each
// network with a guest on this host it makes a namespace (ovnmeta-<network>) whose port on br-int
// answers 169.254.169.254, and an haproxy in it that passes the guest's requests on to
// nova-api-metadata, signed with METADATA_PROXY_SHARED_SECRET.

import { StackError } from '../../lib/errors.ts';
import { daemonStatus, stopDaemon, type DaemonSpec } from '../../lib/daemon.ts';
import { serviceLogTail } from '../../lib/log-tail.ts';
import { readPackageList } from '../../lib/packages.ts';
import type { LinkCheck, ServicePlugin, StackContext } from '../../lib/plugin.ts';
import { quote, sh } from '../../lib/shell.ts';
import { FAST_POLL_MS, pollUntil } from '../../lib/wait.ts';
import { osloDaemon, renderIni } from '../../lib/service/config.ts';
import { startService } from '../../lib/service/lifecycle.ts';
import { OVS_LOCAL_TCP } from '../../lib/network/ovs-paths.ts';

const CONF = '/etc/neutron/neutron.conf';
const INI = '/etc/neutron/neutron_ovn_metadata_agent.ini';
const LOG = '/var/log/neutron/neutron-ovn-metadata-agent.log';
/** Where the agent keeps each haproxy's pid file (state_path/external/pids). */
const HAPROXY_PIDS = '/var/lib/neutron/external/pids';

const stateDir = (ctx: StackContext): string => ctx.config.settings.STACK_STATE_DIR;

const daemon = (): DaemonSpec =>
  osloDaemon('neutron', {
    name: 'neutron-ovn-metadata-agent',
    configFiles: [CONF, INI],
    link: 'guests (169.254.169.254) -> neutron-ovn-metadata-agent -> nova-api-metadata',
  });

/** The agent has told the southbound database it serves this chassis. */
async function registered(ctx: StackContext): Promise<{ ok: boolean; detail: string }> {
  const r = await ctx.host.run(
    `ovn-sbctl --db=${quote(ctx.endpoints.ovn.sb)} --timeout=10 --bare --columns=external_ids find Chassis_Private ${quote(`name=${ctx.facts.hostname}`)}`,
    { check: false, label: 'metadata agent in the southbound database' },
  );
  if (r.exitCode !== 0) return { ok: false, detail: `ovn-sbctl: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}` };
  return { ok: r.stdout.includes('neutron:ovn-metadata-id'), detail: `the chassis ${ctx.facts.hostname} has no metadata agent in the southbound database` };
}

/** Every haproxy the agent started (they outlive it), by their pid files. */
const STOP_HAPROXIES = `for f in ${HAPROXY_PIDS}/*.pid.haproxy; do [ -f "$f" ] || continue; p=$(tr -cd 0-9 < "$f"); ` +
  `[ -n "$p" ] && grep -q haproxy /proc/$p/comm 2>/dev/null && kill "$p"; rm -f "$f"; done; true`;

const plugin: ServicePlugin = {
  name: 'ovn-metadata-agent',
  services: ['q-ovn-metadata-agent'],
  needs: ['ovn-controller', 'neutron'],
  after: { init: [], start: ['ovn-controller/start', 'neutron/start'], register: [] },

  packages: (ctx) => readPackageList('ovn-metadata-agent', ctx.facts.family),

  async configFiles(ctx) {
    const s = ctx.config.settings;
    const meta = new URL(ctx.endpoints.url.metadata);
    return [
      await renderIni(ctx, { path: INI, packaged: '/usr/share/neutron-common/neutron_ovn_metadata_agent.ini', owner: 'root:neutron' }, {
        DEFAULT: {
          nova_metadata_host: meta.hostname.replace(/^\[|\]$/g, ''),
          nova_metadata_port: Number(meta.port),
          metadata_proxy_shared_secret: s.METADATA_PROXY_SHARED_SECRET,
          metadata_workers: 1,
          state_path: '/var/lib/neutron',
        },
        agent: { root_helper: 'sudo neutron-rootwrap /etc/neutron/rootwrap.conf' },
        ovs: { ovsdb_connection: OVS_LOCAL_TCP },
        ovn: { ovn_sb_connection: ctx.endpoints.ovn.sb },
      }),
    ];
  },

  async configure(ctx) {
    await ctx.host.run(sh('install', '-d', '-o', 'neutron', '-g', 'neutron', '-m', '0750', '/var/lib/neutron', '/var/log/neutron'), { label: 'neutron directories' });
  },

  async start(ctx) {
    await startService(ctx, daemon(), [INI], undefined, ctx.cloud.brokerRestartReason());
    const res = await pollUntil(async () => {
      if (!(await daemonStatus(ctx.host, ctx.facts, daemon(), stateDir(ctx))).running) return { ok: true, detail: 'exited' };
      return registered(ctx);
    }, { timeoutMs: ctx.config.settings.SERVICE_TIMEOUT * 1000, intervalMs: FAST_POLL_MS });
    if (!res.ok || res.detail === 'exited') {
      throw new StackError(`the metadata agent on ${ctx.host.name} ${res.detail === 'exited' ? 'exited' : `did not register: ${res.detail}`}`, `It reads the southbound database at ${ctx.endpoints.ovn.sb}; its log below says why.`, await serviceLogTail(ctx, { file: LOG, daemon: daemon() }));
    }
  },

  async links(ctx): Promise<LinkCheck[]> {
    return [
      {
        service: 'neutron-ovn-metadata-agent',
        link: `${daemon().link!} (on ${ctx.host.name})`,
        log: LOG,
        hint: 'A re-run of ./stack.ts starts it again.',
        async check() {
          if (!(await daemonStatus(ctx.host, ctx.facts, daemon(), stateDir(ctx))).running) return `neutron-ovn-metadata-agent on ${ctx.host.name} is not running`;
          const r = await registered(ctx);
          return r.ok ? undefined : r.detail;
        },
      },
    ];
  },

  daemons: () => [daemon()],

  async stop(ctx) {
    await stopDaemon(ctx.host, ctx.facts, daemon(), stateDir(ctx));
    await ctx.host.run(STOP_HAPROXIES, { check: false, label: "stop the metadata agent's haproxies" });
  },

  async clean(ctx) {
    await plugin.stop!(ctx);
    await ctx.host.run(
      [`for n in $(ip netns list | awk '/^ovnmeta-/{print $1}'); do ip netns del "$n"; done`, sh('rm', '-rf', '/var/lib/neutron/ovn-metadata-proxy', HAPROXY_PIDS), 'true'].join('; '),
      { check: false, label: "remove the metadata agent's namespaces" },
    );
    await ctx.host.run(sh('rm', '-f', LOG, daemon().logFile!), { check: false, label: 'remove its logs' });
  },
};

export default plugin;
