// OVN's central part (devstack's ovn-northd service): the northbound database Neutron writes its
// logical networks into, the southbound database every ovn-controller reads its flows from, and
// ovn-northd, which turns the one into the other. Three processes, each under stack.ts's daemon
// layer (as libvirtd is), so that each is started, stopped and named on its own.
//
// The databases listen on this host's address without TLS or a password, as devstack's do: a test
// cloud's management network is trusted, and the address is the one the address table gives.

import { StackError } from '../../lib/errors.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { daemonStatus } from '../../lib/daemon.ts';
import { serviceLogTail } from '../../lib/log-tail.ts';
import { ensureOvsdbFile, waitForOvsdb } from '../../lib/ovsdb.ts';
import type { LinkCheck, ServicePlugin, StackContext } from '../../lib/plugin.ts';
import type { PortSpec } from '../../lib/preflight.ts';
import { infraPlugin } from '../../lib/service/descriptor.ts';
import { startOrRestart } from '../../lib/restart.ts';
import { sh } from '../../lib/shell.ts';
import { stopPlugin } from '../../lib/stop-plugin.ts';
import { pollUntil } from '../../lib/wait.ts';
import { appctl, rootDaemon } from '../../lib/network/ovs-daemon.ts';
import { PORTS as ENDPOINT_PORTS } from '../../lib/endpoints.ts';

const RUN = '/var/run/ovn';
const LIB = '/var/lib/ovn';
const LOGS = '/var/log/ovn';
/** The daemons' addresses, kept in a file so that `plan` shows a change and the restart stamp sees it. */
const ADDRESS_FILE = '/etc/ovn/stack-ts-central.conf';

interface Db {
  readonly key: 'nb' | 'sb';
  readonly name: string;
  readonly database: string;
  readonly port: number;
  readonly file: string;
  readonly schema: string;
  readonly sock: string;
  readonly log: string;
  readonly users: string;
}

const DBS: readonly Db[] = [
  { key: 'nb', name: 'ovsdb-server-nb', database: 'OVN_Northbound', port: ENDPOINT_PORTS.ovnNb, file: `${LIB}/ovnnb_db.db`, schema: '/usr/share/ovn/ovn-nb.ovsschema', sock: `${RUN}/ovnnb_db.sock`, log: `${LOGS}/ovsdb-server-nb.log`, users: 'neutron-server and ovn-northd' },
  { key: 'sb', name: 'ovsdb-server-sb', database: 'OVN_Southbound', port: ENDPOINT_PORTS.ovnSb, file: `${LIB}/ovnsb_db.db`, schema: '/usr/share/ovn/ovn-sb.ovsschema', sock: `${RUN}/ovnsb_db.sock`, log: `${LOGS}/ovsdb-server-sb.log`, users: 'ovn-northd, every ovn-controller and the metadata agents' },
];
const NORTHD_LOG = `${LOGS}/ovn-northd.log`;

export const PORTS: readonly PortSpec[] = DBS.map((d) => ({ port: d.port, service: 'ovn-northd', owners: ['ovsdb-server'] }));

const listen = (ctx: StackContext): string => ctx.endpoints.ovn.listen;

function dbDaemon(ctx: StackContext, d: Db): DaemonSpec {
  return rootDaemon({
    name: d.name,
    argv: ['/usr/sbin/ovsdb-server', d.file, `--remote=punix:${d.sock}`, `--remote=ptcp:${d.port}:${listen(ctx)}`],
    run: RUN,
    pidName: d.key === 'nb' ? 'ovnnb_db' : 'ovnsb_db',
    unixctl: true,
    logs: LOGS,
    link: `${d.users} -> ${d.name} (${d.database} at ${listen(ctx)}:${d.port})`,
  });
}

function northd(): DaemonSpec {
  return rootDaemon({
    name: 'ovn-northd',
    argv: ['/usr/bin/ovn-northd', `--ovnnb-db=unix:${DBS[0]!.sock}`, `--ovnsb-db=unix:${DBS[1]!.sock}`],
    run: RUN,
    logs: LOGS,
    link: "neutron's networks -> ovn-northd -> every chassis's flows (the northbound to southbound translation)",
  });
}

const stateDir = (ctx: StackContext): string => ctx.config.settings.STACK_STATE_DIR;
const tail = (ctx: StackContext, spec: DaemonSpec) => serviceLogTail(ctx, { file: spec.ownLog, daemon: spec });

/** What `ovn-appctl status` of ovn-northd says ("active", "standby", "paused"), or why it cannot say. */
async function northdStatus(ctx: StackContext): Promise<{ ok: boolean; detail: string }> {
  const r = await ctx.host.run(appctl('ovn-appctl', RUN, 'ovn-northd', 'status'), { check: false, label: 'ovn-northd status' });
  const out = (r.stdout || r.stderr).trim();
  return { ok: r.exitCode === 0 && /Status:\s*active/.test(out), detail: out.split('\n').pop() ?? '' };
}

const plugin: ServicePlugin = infraPlugin({ name: 'ovn-northd', services: ['ovn-northd'], ports: PORTS }, {
  async configFiles(ctx) {
    const lines = DBS.map((d) => `${d.database}=ptcp:${d.port}:${listen(ctx)}`);
    return [{ path: ADDRESS_FILE, content: `# Written by stack.ts: where ${DBS.map((d) => d.name).join(' and ')} listen.\n${lines.join('\n')}\n`, mode: 0o644, owner: 'root:root' }];
  },

  async configure(ctx) {
    await ctx.host.run(sh('install', '-d', '-m', '0755', LIB, LOGS, RUN), { label: 'OVN directories' });
  },

  async init(ctx) {
    for (const d of DBS) {
      const done = await ensureOvsdbFile(ctx, { db: d.file, schema: d.schema });
      if (done !== 'current') ctx.log.info(`${ctx.host.name}: ${d.database} database ${done}`);
    }
  },

  async start(ctx) {
    for (const d of DBS) {
      const spec = dbDaemon(ctx, d);
      const s = await startOrRestart(ctx, spec, [ADDRESS_FILE]);
      await waitForOvsdb(ctx, { name: spec.name, remote: ctx.endpoints.ovn[d.key], database: d.database, log: () => tail(ctx, spec) });
      await s.markStarted();
    }
    const spec = northd();
    const s = await startOrRestart(ctx, spec, []);
    const res = await pollUntil(async () => northdStatus(ctx), { timeoutMs: ctx.config.settings.SERVICE_TIMEOUT * 1000, intervalMs: 300 });
    if (!res.ok) {
      throw new StackError(`ovn-northd on ${ctx.host.name} is not active: ${res.detail}`, 'Its log below says why; it needs both OVN databases (ovsdb-server-nb, ovsdb-server-sb).', await tail(ctx, spec));
    }
    await s.markStarted();
  },

  async links(ctx): Promise<LinkCheck[]> {
    return [
      ...DBS.map((d): LinkCheck => ({
        service: d.name,
        link: dbDaemon(ctx, d).link!,
        log: d.log,
        hint: 'A re-run of ./stack.ts starts it again.',
        async check() {
          const r = await ctx.host.run(`ovsdb-client --timeout=5 list-dbs ${sh(`unix:${d.sock}`)}`, { check: false, label: `${d.name} answers` });
          return r.exitCode === 0 && r.stdout.includes(d.database) ? undefined : `${d.name} on ${ctx.host.name} does not answer: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}`;
        },
      })),
      {
        service: 'ovn-northd',
        link: northd().link!,
        log: NORTHD_LOG,
        hint: 'A re-run of ./stack.ts starts it again.',
        async check() {
          const running = (await daemonStatus(ctx.host, ctx.facts, northd(), stateDir(ctx))).running;
          if (!running) return `ovn-northd on ${ctx.host.name} is not running`;
          const st = await northdStatus(ctx);
          return st.ok ? undefined : `ovn-northd on ${ctx.host.name} is not active: ${st.detail}`;
        },
      },
    ];
  },

  async describe(ctx) {
    return [`OVN databases: northbound ${ctx.endpoints.ovn.nb}, southbound ${ctx.endpoints.ovn.sb} (on ${ctx.host.name})`];
  },

  daemons: (ctx) => [...DBS.map((d) => dbDaemon(ctx, d)), northd()],

  async clean(ctx) {
    await stopPlugin(ctx, plugin);
    // The databases hold nothing but what this cloud's Neutron and chassis wrote.
    await ctx.host.run(sh('rm', '-f', ...DBS.flatMap((d) => [d.file, `${d.file}.~lock~`]), ADDRESS_FILE), { label: 'remove the OVN databases' });
  },
});

export default plugin;
