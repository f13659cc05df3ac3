// Plan -> tasks: the task tree each command runs on a host. Phases in order, each plugin after
// what it needs; one package transaction per host; every phase a leaf with its own timeout.

import { installPackages, missingPackages } from './packages.ts';
import { detectRelease } from './release.ts';
import { runPreflight, type Problem } from './preflight.ts';
import { renderAll, unmatchedPostConfig, writeIfChanged } from './config-files.ts';
import { stopDaemon } from './daemon.ts';
import { InputError } from './input-error.ts';
import { StackError, type GraphPhase, type Release, type ServicePlugin, type StackContext } from './plugin.ts';
import type { TaskNode } from './tasks.ts';
import type { Config } from './config/types.ts';
import type { Host, HostFacts } from './host/types.ts';
import type { Logger } from './log-types.ts';

/** StackContext whose release is filled in after the install phase. */
export interface MutableContext extends StackContext {
  setRelease(r: Release): void;
}

export function makeContext(args: { config: Config; host: Host; facts: HostFacts; log: Logger; release: Release; dryRun?: boolean }): MutableContext {
  let release = args.release;
  return {
    config: args.config,
    host: args.host,
    facts: args.facts,
    log: args.log,
    dryRun: args.dryRun ?? false,
    shared: new Map(),
    get release() {
      return release;
    },
    setRelease(r: Release) {
      release = r;
    },
  };
}

/**
 * Ports the API plugins listen on: checked free (or ours) before anything is changed. MariaDB,
 * RabbitMQ and memcached check their own ports, with their process names, in their preflight.
 */
export const PORTS: Readonly<Record<string, readonly number[]>> = {
  keystone: [5000],
  glance: [9292],
  placement: [8778],
  nova: [8774],
  neutron: [9696],
};

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
      const found = await runPreflight(ctx.host, ctx.facts, { ports });
      const problems = found.filter((p) => p.severity !== 'warning');
      for (const w of found.filter((p) => p.severity === 'warning')) ctx.log.warn(`${ctx.host.name}: ${w.message}`);
      // Every plugin's findings too, so the whole list is on one screen (StackErrors are findings, not crashes).
      const lines = problems.map((p) => ({ message: p.message, hint: p.hint }));
      for (const p of plugins) {
        try {
          await p.preflight?.(ctx);
        } catch (err) {
          if (!(err instanceof StackError)) throw err;
          lines.push({ message: err.message, hint: err.hint ?? '' });
        }
      }
      if (lines.length) {
        throw new InputError(`${ctx.host.name} is not ready; nothing was changed:\n${formatProblems(ctx.host.name, lines)}`);
      }
      const files = [...(await renderAll(ctx, plugins)).values()].flat();
      const bad = unmatchedPostConfig(ctx.config, files);
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
    timeoutMs: s.COMMAND_TIMEOUT * 1000,
    run: async (t) => {
      const wanted = [...new Set((await Promise.all(plugins.map((p) => p.packages(ctx)))).flat())];
      const missing = await missingPackages(ctx.host, ctx.facts, wanted);
      if (missing.length) {
        ctx.log.info(`${ctx.host.name}: installing ${missing.length} of ${wanted.length} packages: ${missing.join(' ')}`);
        await installPackages(ctx.host, ctx.facts, missing, {
          recommends: s.INSTALL_RECOMMENDS,
          unsafeIo: s.APT_UNSAFE_IO,
          offline: s.OFFLINE,
          onProgress: (line) => t.output(line),
        });
      }
      ctx.setRelease(await detectRelease(ctx.host, ctx.facts));
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
  if (p.start) leaves.push({ ...phaseLeaf(ctx, p, 'start', () => p.start!(ctx), (ctx.config.settings.SERVICE_TIMEOUT + 30) * 1000), after: edges('start') });
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

export function verifyTasks(ctx: MutableContext, plugins: readonly ServicePlugin[]): TaskNode {
  return {
    id: `${ctx.host.name}/verify`,
    title: 'verify the pipeline',
    host: ctx.host.name,
    children: plugins
      .filter((p) => p.verify)
      .map((p) => phaseLeaf(ctx, p, 'verify', () => p.verify!(ctx), (ctx.config.settings.SERVICE_TIMEOUT * 2 + 30) * 1000)),
  };
}

/**
 * The stack as a graph: preflight, then one package transaction, then every plugin's phases at
 * once, each waiting only for what it declared (a db sync as soon as MariaDB is up, not after the
 * previous service's whole lifecycle), then verify.
 */
export function stackTasks(ctx: MutableContext, plugins: readonly ServicePlugin[]): TaskNode[] {
  const h = ctx.host.name;
  const preflight = preflightTask(ctx, plugins);
  const install = { ...installTask(ctx, plugins), after: [preflight.id] };
  const services = plugins.map((p) => ({ ...serviceTasks(ctx, p), after: [install.id] }));
  const verify = { ...verifyTasks(ctx, plugins), after: services.map((s) => s.id) };
  return resolveEdges([
    {
      id: h,
      title: `${h}: all-in-one`,
      host: h,
      concurrent: true,
      children: [preflight, install, ...services, verify],
    },
  ]);
}

/** A plugin's own stop, or else each of its daemons, last started first. */
export async function stopPlugin(ctx: StackContext, p: ServicePlugin): Promise<void> {
  if (p.stop) return p.stop(ctx);
  for (const d of [...(p.daemons?.(ctx) ?? [])].reverse()) await stopDaemon(ctx.host, ctx.facts, d, ctx.config.settings.STACK_STATE_DIR);
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
