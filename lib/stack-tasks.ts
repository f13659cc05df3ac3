// Plan -> tasks: the task tree each command runs on a host. Phases in order, each plugin after
// what it needs; one package transaction per host; every phase a leaf with its own timeout.

import { API_SERVICES } from './api-services.ts';
import { installPackages, missingPackages } from './packages.ts';
import { detectRelease } from './release.ts';
import { runPreflight, type Problem } from './preflight.ts';
import { makeOwnDirsCommand } from './own-dirs.ts';
import { renderAll, unmatchedPostConfig, writeIfChanged } from './config-files.ts';
import { stopPlugin } from './stop-plugin.ts';
import { checkNamingTheLink, findBrokenLink, verifiedStampPath, windowStart, type BrokenLinkError } from './links.ts';
import { sh } from './shell.ts';
import { dirname as posixDirname } from 'node:path/posix';
import { InputError, StackError } from './errors.ts';
import { type GraphPhase, type Release, type ServicePlugin, type StackContext } from './plugin.ts';
import type { TaskNode } from './tasks.ts';
import { CloudState } from './cloud-state.ts';
import type { Config } from './config/types.ts';
import type { ServiceName } from './config/schema.ts';
import { allInOne, type Topology } from './topology.ts';
import { cloudNames } from './cloud-names.ts';
import { ensureNames, removeNames } from './etc-hosts.ts';
import { computeEndpoints, type Endpoints } from './endpoints.ts';
import type { Host, HostFacts } from './host/types.ts';
import type { Logger } from './log-types.ts';

/** StackContext whose release is filled in after the install phase. */
export interface MutableContext extends StackContext {
  setRelease(r: Release): void;
}

/** The all-in-one's view of the cloud: one host runs every enabled service; addresses from the settings. */
export function singleHostView(config: Config, hostName: string): { topology: Topology; endpoints: Endpoints } {
  const s = config.settings;
  const topology = allInOne({ target: s.TARGET_HOST, sshKey: s.SSH_KEY, ip: '', services: config.services, name: hostName });
  return { topology, endpoints: computeEndpoints(config, topology, new Map([[hostName, s.HOST_IP || s.SERVICE_HOST]])) };
}

interface ContextArgs {
  config: Config;
  host: Host;
  facts: HostFacts;
  log: Logger;
  release: Release;
  dryRun?: boolean;
  /** Default: the all-in-one on this host. */
  topology?: Topology;
  endpoints?: Endpoints;
  /** One for the whole cloud. */
  cloud?: CloudState;
  /** The context of the host that runs a service; default: this one. */
  on?: (s: ServiceName) => StackContext;
}

export function makeContext(args: ContextArgs): MutableContext {
  let release = args.release;
  const view = args.topology && args.endpoints ? { topology: args.topology, endpoints: args.endpoints } : singleHostView(args.config, args.host.name);
  const ctx: MutableContext = {
    config: args.config,
    host: args.host,
    facts: args.facts,
    log: args.log,
    dryRun: args.dryRun ?? false,
    cloud: args.cloud ?? new CloudState(),
    topology: view.topology,
    endpoints: view.endpoints,
    address: view.endpoints.hosts.get(args.host.name)?.address ?? args.config.settings.HOST_IP,
    on: (s) => (args.on ? args.on(s) : ctx),
    get release() {
      return release;
    },
    setRelease(r: Release) {
      release = r;
    },
  };
  return ctx;
}

/** One context per host of the topology, sharing one CloudState; on(service) finds the host that runs it. */
export function makeCloudContexts(args: {
  config: Config;
  topology: Topology;
  endpoints: Endpoints;
  hosts: ReadonlyArray<{ name: string; host: Host; facts: HostFacts; release: Release }>;
  log: Logger;
  dryRun?: boolean;
}): MutableContext[] {
  const cloud = new CloudState();
  const byName = new Map<string, MutableContext>();
  const on = (s: ServiceName): StackContext => {
    const h = args.topology.hostFor(s);
    const ctx = h && byName.get(h.name);
    if (!ctx) throw new StackError(`No host runs ${s}, which this step needs.`, `Add ${s} to one host in ${args.topology.file ?? 'the hosts file'}.`);
    return ctx;
  };
  for (const h of args.hosts) {
    // Task ids, the address table and pluginsOn all look a host up by its Host's name.
    if (h.host.name !== h.name) throw new Error(`host ${h.name} was opened under another name (${h.host.name})`);
    byName.set(
      h.name,
      makeContext({ config: args.config, host: h.host, facts: h.facts, log: args.log, release: h.release, dryRun: args.dryRun, topology: args.topology, endpoints: args.endpoints, cloud, on }),
    );
  }
  return [...byName.values()];
}

/** The plugins that run on this context's host: those with a service the topology puts there. */
export const pluginsOn = (ctx: StackContext, plugins: readonly ServicePlugin[]): ServicePlugin[] => {
  const here = ctx.topology.hosts.find((h) => h.name === ctx.host.name)?.services ?? ctx.config.services;
  return plugins.filter((p) => p.services.some((s) => here.has(s)));
};

/**
 * Ports the API plugins listen on: checked free (or ours) before anything is changed. MariaDB,
 * RabbitMQ and memcached check their own ports, with their process names, in their preflight.
 */
export const PORTS: Readonly<Record<string, readonly number[]>> = Object.fromEntries(
  [...new Set(API_SERVICES.map((a) => a.plugin))].map((plugin) => [plugin, API_SERVICES.filter((a) => a.plugin === plugin).map((a) => a.port)]),
);

const phaseLeaf = (ctx: StackContext, p: ServicePlugin, phase: string, run: () => Promise<void>, timeoutMs?: number): TaskNode => ({
  id: `${ctx.host.name}/${p.name}/${phase}`,
  title: phase,
  host: ctx.host.name,
  service: p.name,
  phase,
  timeoutMs,
  run: async () => run(),
});

function formatProblems(host: string, problems: readonly Pick<Problem, 'message' | 'hint'>[]): string {
  return problems.map((p) => `  - ${p.message}${p.hint ? `\n    What to do: ${p.hint}` : ''}`).join('\n');
}

export function preflightTask(ctx: MutableContext, plugins: readonly ServicePlugin[]): TaskNode {
  return {
    id: `${ctx.host.name}/preflight`,
    title: 'memory, disk, ports, name resolution, config targets',
    host: ctx.host.name,
    service: 'preflight',
    phase: 'preflight',
    run: async () => {
      const ports = plugins.flatMap((p) => (PORTS[p.name] ?? []).map((port) => ({ port, service: p.name })));
      // The host's checks, every plugin's and the config files' rendering at once: each only
      // reads, and each is a few round trips a re-run would otherwise wait for one after another.
      const [found, verdicts, rendered] = await Promise.all([
        runPreflight(ctx.host, ctx.facts, { ports }),
        Promise.allSettled(plugins.map(async (p) => p.preflight?.(ctx))),
        renderAll(ctx, plugins).then((r) => ({ ok: r }), (err: unknown) => ({ err })),
      ]);
      const problems = found.filter((p) => p.severity !== 'warning');
      for (const w of found.filter((p) => p.severity === 'warning')) ctx.log.warn(`${ctx.host.name}: ${w.message}`);
      // Every plugin's findings too, so the whole list is on one screen (StackErrors are findings, not crashes),
      // listed in plugin order.
      const lines = problems.map((p) => ({ message: p.message, hint: p.hint }));
      for (const v of verdicts) {
        if (v.status === 'fulfilled') continue;
        if (!(v.reason instanceof StackError)) throw v.reason;
        lines.push({ message: v.reason.message, hint: v.reason.hint ?? '' });
      }
      if (lines.length) {
        throw new InputError(`${ctx.host.name} is not ready; nothing was changed:\n${formatProblems(ctx.host.name, lines)}`);
      }
      // A config file that cannot be rendered counts once the host itself is found ready.
      if ('err' in rendered) throw rendered.err;
      const bad = unmatchedPostConfig(ctx.config, [...rendered.ok.values()].flat());
      if (bad) throw bad;
    },
  };
}

export function installTask(ctx: MutableContext, plugins: readonly ServicePlugin[]): TaskNode {
  const s = ctx.config.settings;
  return {
    id: `${ctx.host.name}/packages/install`,
    title: 'install (one transaction)',
    host: ctx.host.name,
    service: 'packages',
    phase: 'install',
    // A cold install on a loaded host or a slow mirror can take longer than COMMAND_TIMEOUT while
    // working fine (seen: 15 min at load 25); what must not pass unnoticed is apt standing still.
    timeoutMs: s.COMMAND_TIMEOUT * 1000,
    timeoutFrom: 'progress',
    run: async (t) => {
      // The first change on the host: the directories clean may later remove, marked as ours;
      // beside it, which packages are missing (a read).
      const wanted = [...new Set((await Promise.all(plugins.map((p) => p.packages(ctx)))).flat())];
      const [, missing] = await Promise.all([
        ctx.host.run(makeOwnDirsCommand([s.STACK_STATE_DIR, s.LOGDIR]), { label: 'state and log directories' }),
        missingPackages(ctx.host, ctx.facts, wanted),
      ]);
      if (missing.length) {
        ctx.log.info(`${ctx.host.name}: installing ${missing.length} of ${wanted.length} packages: ${missing.join(' ')}`);
        await installPackages(ctx.host, ctx.facts, missing, {
          recommends: s.INSTALL_RECOMMENDS,
          unsafeIo: s.APT_UNSAFE_IO,
          offline: s.OFFLINE,
          onProgress: (line) => t.output(line),
          onAdvance: () => t.progressed(),
        });
        // What the packages brought is the release from here on (before, it was the candidate's).
        ctx.setRelease(await detectRelease(ctx.host, ctx.facts));
      }
      if (!ctx.release.hasGlanceRegistry && ctx.config.services.has('g-reg')) {
        ctx.log.warn(`${ctx.host.name}: OpenStack ${ctx.release.name} has no glance-registry (removed in Ussuri); g-reg is ignored.`);
      }
    },
  };
}

/**
 * configure -> init -> start -> register for one plugin, in that order. Each phase also names,
 * in `after`, what it waits for in other plugins ("plugin/phase" or a plugin's name):
 * resolveEdges() turns those into the task ids of whichever host runs them.
 */
export function serviceTasks(ctx: MutableContext, p: ServicePlugin): TaskNode {
  const leaves: TaskNode[] = [];
  const edges = (phase: GraphPhase): string[] => [...(p.after?.[phase] ?? p.needs)];
  if (p.configFiles || p.configure) {
    leaves.push(
      phaseLeaf(ctx, p, 'configure', async () => {
        const files = (await renderAll(ctx, [p])).get(p.name) ?? [];
        for (const f of files) if (await writeIfChanged(ctx, f)) ctx.log.debug(`${ctx.host.name}: wrote ${f.path}`);
        await p.configure?.(ctx);
      }),
    );
  }
  if (p.init) leaves.push({ ...phaseLeaf(ctx, p, 'init', () => p.init!(ctx), ctx.config.settings.COMMAND_TIMEOUT * 1000), after: edges('init') });
  // A start runs a command (an init script: RabbitMQ's took 107 s after its node was killed, at a
  // load of 20) and then waits SERVICE_TIMEOUT for an answer; each has its own limit, and the
  // step's is never shorter than both together (a dead daemon is noticed by its pid meanwhile).
  const startMs = (ctx.config.settings.COMMAND_TIMEOUT + ctx.config.settings.SERVICE_TIMEOUT + 30) * 1000;
  if (p.start) leaves.push({ ...phaseLeaf(ctx, p, 'start', () => p.start!(ctx), startMs), after: edges('start') });
  if (p.register) leaves.push({ ...phaseLeaf(ctx, p, 'register', () => p.register!(ctx), ctx.config.settings.COMMAND_TIMEOUT * 1000), after: edges('register') });
  return { id: `${ctx.host.name}/${p.name}`, title: p.name, host: ctx.host.name, service: p.name, children: leaves };
}

/**
 * Turns plugin references in `after` into task ids: "nova/start" is every host's
 * "<host>/nova/start" (or the plugin's whole group where it has no such phase), "keystone" is
 * every host's "<host>/keystone". A plugin that runs nowhere in this run is no edge.
 */
export function resolveEdges(nodes: TaskNode[]): TaskNode[] {
  const ids: string[] = [];
  const collect = (n: TaskNode): void => {
    ids.push(n.id);
    n.children?.forEach(collect);
  };
  nodes.forEach(collect);
  const known = new Set(ids);
  const resolve = (ref: string): string[] => {
    if (known.has(ref)) return [ref];
    const [plugin, phase] = ref.split('/');
    const exact = phase ? ids.filter((id) => id.endsWith(`/${plugin}/${phase}`)) : [];
    return exact.length ? exact : ids.filter((id) => id.endsWith(`/${plugin}`));
  };
  const map = (n: TaskNode): TaskNode => ({
    ...n,
    ...(n.after ? { after: [...new Set(n.after.flatMap(resolve))] } : {}),
    ...(n.children ? { children: n.children.map(map) } : {}),
  });
  return nodes.map(map);
}

/** One host's links verdict, given by its links step; a functional check that fails waits for every host's. */
interface LinksVerdict {
  readonly settled: Promise<BrokenLinkError | undefined>;
  settle(broken: BrokenLinkError | undefined): void;
}

function linksVerdict(): LinksVerdict {
  let settle!: (broken: BrokenLinkError | undefined) => void;
  const settled = new Promise<BrokenLinkError | undefined>((resolve) => (settle = resolve));
  return { settled, settle };
}

/**
 * What a plugin's verify waits for: the verifies of the plugins it needs (or its `after.verify`),
 * so a check runs once what it uses was found working, and everything else at once.
 */
const verifyEdges = (p: ServicePlugin): string[] => (p.after?.verify ?? p.needs).map((ref) => (ref.includes('/') ? ref : `${ref}/verify`));

/**
 * A host's verify: its links step and its plugins' functional checks at once (each check after
 * the checks of what it needs), then the stamp that opens the next fault's log window. A check
 * that fails waits for the links verdict of every host before it reports, so a broken link
 * anywhere (the controller's glance-api, say) is what gets named, not the vaguer failure of a
 * compute's server boot that stumbled on it.
 */
function hostVerify(ctx: MutableContext, plugins: readonly ServicePlugin[], own: LinksVerdict, every: readonly LinksVerdict[]): TaskNode {
  const h = ctx.host.name;
  const links: TaskNode = {
    id: `${h}/links/verify`,
    title: 'every daemon runs, every link holds',
    host: h,
    service: 'links',
    phase: 'verify',
    run: async () => {
      let broken: BrokenLinkError | undefined;
      try {
        broken = await findBrokenLink(ctx, plugins, await windowStart(ctx));
      } finally {
        own.settle(broken);
      }
      if (broken) throw broken;
    },
  };
  const timeoutMs = (ctx.config.settings.SERVICE_TIMEOUT * 2 + 30) * 1000;
  const checks = plugins
    .filter((p) => p.verify)
    .map((p) => ({
      ...phaseLeaf(ctx, p, 'verify', () => checkNamingTheLink(ctx, plugins, () => p.verify!(ctx), every.map((v) => v.settled)), timeoutMs),
      after: verifyEdges(p),
    }));
  const passed: TaskNode = {
    id: `${h}/links/passed`,
    title: "record the pass (where the next fault's log window starts)",
    host: h,
    service: 'links',
    phase: 'verify',
    after: [links.id, ...checks.map((c) => c.id)],
    run: async () => void (await ctx.host.run(`mkdir -p ${sh(posixDirname(verifiedStampPath(ctx)))} && touch ${sh(verifiedStampPath(ctx))}`, { label: 'verify passed' })),
  };
  return { id: `${h}/verify`, title: 'verify the pipeline', host: h, concurrent: true, children: [links, ...checks, passed] };
}

export function verifyTasks(ctx: MutableContext, plugins: readonly ServicePlugin[]): TaskNode {
  const v = linksVerdict();
  return resolveEdges([hostVerify(ctx, plugins, v, [v])])[0]!;
}

/**
 * verify on several hosts, once every host is up: every host's links and checks at once, so each
 * compute boots its test server beside the others instead of after them.
 */
export function cloudVerifyTasks(hosts: readonly { ctx: MutableContext; plugins: readonly ServicePlugin[] }[]): TaskNode {
  const verdicts = hosts.map(() => linksVerdict());
  const each = hosts.map(({ ctx, plugins }, i) => hostVerify(ctx, plugins, verdicts[i]!, verdicts));
  return resolveEdges([{ id: 'verify', title: 'verify the pipeline on every host', concurrent: true, children: each }])[0]!;
}

/**
 * The stack as a graph: every host's preflight, then each host's one package transaction (no
 * host is changed before every host passed its preflight), then every plugin's phases on the
 * hosts that run it, all at once, each waiting only for what it declared (a db sync as soon as
 * MariaDB is up, nova-compute once the conductor is), then verify.
 */
export function stackTasks(ctxs: MutableContext | readonly MutableContext[], plugins: readonly ServicePlugin[]): TaskNode[] {
  const all = Array.isArray(ctxs) ? (ctxs as readonly MutableContext[]) : [ctxs as MutableContext];
  const preflights = all.map((ctx) => preflightTask(ctx, pluginsOn(ctx, plugins)));
  // Clashes were refused by probeHosts before any task runs.
  const nameTable = cloudNames(all.map((c) => ({ name: c.host.name, hostname: c.facts.hostname, address: c.endpoints.hosts.get(c.host.name)?.address ?? '' }))).table;
  const hosts = all.map((ctx, i) => {
    const h = ctx.host.name;
    const mine = pluginsOn(ctx, plugins);
    const names = all.length > 1 ? [namesTask(ctx, preflights.map((p) => p.id), nameTable)] : [];
    const install = { ...installTask(ctx, mine), after: names.length ? [names[0]!.id] : preflights.map((p) => p.id) };
    const services = mine.map((p) => ({ ...serviceTasks(ctx, p), after: [install.id] }));
    const roles = all.length === 1 ? 'all-in-one' : mine.map((p) => p.name).join(', ');
    return { ctx, mine, node: { id: h, title: `${h}: ${roles}`, host: h, concurrent: true, children: [preflights[i]!, ...names, install, ...services] } as TaskNode };
  });
  if (hosts.length === 1) {
    const { ctx, mine, node } = hosts[0]!;
    const verify = { ...verifyTasks(ctx, mine), after: node.children!.slice(2).map((c) => c.id) };
    return resolveEdges([{ ...node, children: [...node.children!, verify] }]);
  }
  const verify: TaskNode = { ...cloudVerifyTasks(hosts.map((h) => ({ ctx: h.ctx, plugins: h.mine }))), after: hosts.map((h) => h.node.id) };
  return resolveEdges([{ id: 'cloud', title: `cloud of ${hosts.length} hosts`, concurrent: true, children: [...hosts.map((h) => h.node), verify] }]);
}

/**
 * Every host's name, and its own hostname that Nova knows it by, resolves to the address table's
 * address here (a marked /etc/hosts block where it does not).
 */
function namesTask(ctx: MutableContext, after: readonly string[], table: ReadonlyMap<string, string>): TaskNode {
  const h = ctx.host.name;
  return {
    id: `${h}/hosts/names`,
    title: 'names of the other hosts resolve (/etc/hosts)',
    host: h,
    service: 'hosts',
    phase: 'install',
    after,
    run: async () => {
      const added = await ensureNames(ctx.host, table);
      if (added.length) ctx.log.info(`${h}: /etc/hosts now names ${added.join(', ')} (a marked block ./stack.ts clean removes)`);
    },
  };
}

/** clean on several hosts: our /etc/hosts block goes too. */
export function removeNamesTask(ctx: StackContext): TaskNode {
  const h = ctx.host.name;
  return { id: `${h}/hosts/clean`, title: 'remove the /etc/hosts block', host: h, service: 'hosts', phase: 'clean', run: () => removeNames(ctx.host) };
}

/** Stop in reverse order: APIs before the database and queue they hold connections to. */
export function stopTasks(ctx: MutableContext, plugins: readonly ServicePlugin[], clean: boolean): TaskNode[] {
  const phase = clean ? 'clean' : 'stop';
  return [
    {
      id: ctx.host.name,
      title: `${ctx.host.name}: ${clean ? 'clean' : 'unstack'}`,
      host: ctx.host.name,
      children: [...plugins].reverse().map((p) =>
        phaseLeaf(ctx, p, phase, async () => {
          if (clean && p.clean) return p.clean(ctx);
          return stopPlugin(ctx, p);
        }),
      ),
    },
  ];
}

/**
 * Hosts in the order unstack and clean take them: the reverse of the order the plugins' needs start
 * them in. A host ranks by the deepest plugin it runs (nova-compute needs nova needs keystone needs
 * mariadb), so the computes go first and the database and RabbitMQ host last: the others' clean
 * still drops their databases through it.
 */
export function teardownOrder<T extends StackContext>(ctxs: readonly T[], plugins: readonly ServicePlugin[]): T[] {
  const depth = needsDepth(plugins);
  const rank = (c: T): number => Math.max(0, ...pluginsOn(c, plugins).map((p) => depth.get(p.name) ?? 0));
  return [...ctxs].sort((a, b) => rank(b) - rank(a));
}

/** How many plugins deep each one's needs go (0: needs nothing here); needs outside the list count as none. */
export function needsDepth(plugins: readonly ServicePlugin[]): Map<string, number> {
  const byName = new Map(plugins.map((p) => [p.name, p]));
  const depth = new Map<string, number>();
  // orderPlugins has refused a cycle before any teardown is built.
  const of = (p: ServicePlugin): number => {
    const known = depth.get(p.name);
    if (known !== undefined) return known;
    const d = Math.max(-1, ...p.needs.map((n) => byName.get(n)).filter((n): n is ServicePlugin => !!n).map(of)) + 1;
    depth.set(p.name, d);
    return d;
  };
  plugins.forEach(of);
  return depth;
}

/** One host's tree per context, run one host after another (the first context's tree alone for one host). */
export function perHost<T extends StackContext>(ctxs: readonly T[], title: string, build: (ctx: T) => TaskNode[]): TaskNode[] {
  if (ctxs.length === 1) return build(ctxs[0]!);
  return [{ id: 'cloud', title, children: ctxs.flatMap(build) }];
}

