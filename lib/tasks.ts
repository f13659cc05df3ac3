// The runner: a tree of tasks (host -> service -> phase) run with listr2, and a graph over it:
// a node may name other nodes it runs `after`, so in a concurrent tree each leaf starts as soon
// as what it really needs is done, on any host. Each leaf gets a timeout that aborts it, a
// checkpoint that can skip it, a timing record (time spent waiting for its edges not counted),
// and masked output. On a TTY listr2 draws the tree; in CI and with --verbose we print one plain
// line per step, naming the host.

import { withStepNotes, type StepNotes } from './step-notes.ts';
import { setMaxListeners } from 'node:events';
import { Listr, PRESET_TIMER, type ListrTask } from 'listr2';
import type { Checkpoint } from './checkpoint.ts';
import { renderError } from './errors-render.ts';
import type { Logger } from './log-types.ts';
import type { TimingRecord, TimingStatus } from './timing.ts';

export interface TaskNode {
  /** Stable across runs, e.g. "h1/glance/init": the checkpoint key. */
  id: string;
  title: string;
  /** Default from RunOptions; on expiry the task fails with "timed out after N s: TITLE". */
  timeoutMs?: number;
  /**
   * 'progress': the timeout counts from the task's last t.progressed(), not from its start. For
   * work whose length depends on the machine (a package install on a slow mirror or a loaded
   * host) but which reports when it advances: it fails when it stalls, not when it is slow.
   */
  timeoutFrom?: 'start' | 'progress';
  /** If the checkpoint holds the same value for id, the task is skipped ("unchanged"). Leaves only. */
  fingerprint?: string;
  /** Reason to skip, or false to run. */
  skip?: () => string | false;
  run?: (t: TaskHandle) => Promise<void>;
  children?: TaskNode[];
  /** Children run in parallel (e.g. hosts); edges in `after` still order them. */
  concurrent?: boolean;
  /** Ids of nodes (leaves or groups) that must be done before this one starts. */
  after?: readonly string[];
  phase?: string;
  service?: string;
  host?: string;
}

export interface TaskHandle {
  /** A line shown under the task (masked). */
  output(line: string): void;
  title(t: string): void;
  /** The work advanced (restarts the timeout of a node with timeoutFrom 'progress'). */
  progressed(): void;
  /** Aborted on timeout or when another task failed; pass it to anything that can be cancelled. */
  signal: AbortSignal;
}

export interface RunOptions {
  renderer: 'tty' | 'plain';
  log: Logger;
  checkpoint?: Checkpoint;
  defaultTimeoutMs: number;
}

export interface RunSummary {
  ok: boolean;
  error?: unknown;
  failedTask?: string;
  /** The failure as shown to the user (masked), when ok is false. */
  message?: string;
  timings: TimingRecord[];
  totalMs: number;
}

/** Thrown into a task whose time ran out. */
export class TaskTimeoutError extends Error {
  constructor(
    readonly taskId: string,
    readonly title: string,
    readonly timeoutMs: number,
    readonly idle = false,
  ) {
    super(`${idle ? 'no progress for' : 'timed out after'} ${Math.round(timeoutMs) / 1000} s: ${title}`);
    this.name = 'TaskTimeoutError';
  }
}

/** Raised in tasks still running when another one failed; not the cause, so not reported as it. */
class RunStoppedError extends Error {
  constructor() {
    super('stopped: another step failed');
    this.name = 'RunStoppedError';
  }
}

/** A task whose edges can never all be done: names the loop, for `plan` and the runner alike. */
export class TaskCycleError extends Error {
  constructor(readonly cycle: readonly string[]) {
    super(`The tasks wait for each other in a cycle: ${cycle.join(' -> ')}. This is a bug in stack.ts (a plugin's \`after\`); please report it.`);
    this.name = 'TaskCycleError';
  }
}

interface Graph {
  /** Leaf ids each node id stands for (a leaf: itself). */
  readonly leaves: ReadonlyMap<string, readonly string[]>;
  /** Leaf id -> leaf ids it waits for: its own and its ancestors' `after`, and earlier siblings in a sequential group. */
  readonly waitsFor: ReadonlyMap<string, readonly string[]>;
  /** Leaf id -> settles when it is done or skipped. */
  readonly done: Map<string, { promise: Promise<void>; resolve: () => void }>;
}

/** The graph of a tree. Throws for an edge to an unknown id and for a cycle. */
function buildGraph(nodes: readonly TaskNode[]): Graph {
  const leaves = new Map<string, string[]>();
  const collect = (n: TaskNode): string[] => {
    const own = n.children?.length ? n.children.flatMap(collect) : [n.id];
    if (leaves.has(n.id)) throw new Error(`two tasks have the id ${n.id}`);
    leaves.set(n.id, own);
    return own;
  };
  nodes.forEach(collect);
  const waitsFor = new Map<string, string[]>();
  const edgesOf = (n: TaskNode): string[] =>
    (n.after ?? []).flatMap((id) => {
      const l = leaves.get(id);
      if (!l) throw new Error(`task ${n.id} waits for ${id}, which is not in the run`);
      return l;
    });
  const walk = (n: TaskNode, inherited: readonly string[]): void => {
    const mine = [...inherited, ...edgesOf(n)];
    if (!n.children?.length) {
      waitsFor.set(n.id, [...new Set(mine)]);
      return;
    }
    let before: string[] = [];
    for (const c of n.children) {
      walk(c, n.concurrent ? mine : [...mine, ...before]);
      if (!n.concurrent) before = leaves.get(c.id)!;
    }
  };
  // Root nodes run one after another, like a sequential group.
  let before: string[] = [];
  for (const n of nodes) {
    walk(n, before);
    before = leaves.get(n.id)!;
  }
  const done = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  for (const id of waitsFor.keys()) {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    done.set(id, { promise, resolve });
  }
  const graph = { leaves, waitsFor, done };
  graphOrder(graph);
  return graph;
}

/** Leaf ids in an order that honours every edge (ties in tree order); throws TaskCycleError. */
function graphOrder(g: Pick<Graph, 'waitsFor'>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]): void => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') throw new TaskCycleError([...path.slice(path.indexOf(id)), id]);
    state.set(id, 'visiting');
    for (const dep of g.waitsFor.get(id) ?? []) visit(dep, [...path, id]);
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of g.waitsFor.keys()) visit(id, []);
  return order;
}

/** `plan`: every leaf in an order the run could take, with what it waits for. Throws TaskCycleError. */
export function taskOrder(nodes: readonly TaskNode[]): Array<{ node: TaskNode; after: readonly string[] }> {
  const g = buildGraph(nodes);
  const byId = new Map<string, TaskNode>();
  const index = (n: TaskNode): void => {
    byId.set(n.id, n);
    n.children?.forEach(index);
  };
  nodes.forEach(index);
  return graphOrder(g).map((id) => ({ node: byId.get(id)!, after: directEdges(byId.get(id)!, nodes) }));
}

export interface PlannedTask {
  readonly id: string;
  readonly host?: string;
  readonly service?: string;
  readonly title: string;
  readonly after: readonly string[];
}

/** `plan`'s list: every leaf in an order the run can take, with its host, service and edges. */
export function plannedTasks(nodes: readonly TaskNode[]): PlannedTask[] {
  const scopes = new Map<string, Scope>();
  const index = (n: TaskNode, parent: Scope): void => {
    const s = scopeOf(n, parent);
    scopes.set(n.id, s);
    n.children?.forEach((c) => index(c, s));
  };
  nodes.forEach((n) => index(n, {}));
  return taskOrder(nodes).map(({ node, after }) => {
    const s = scopes.get(node.id)!;
    return { id: node.id, ...(s.host ? { host: s.host } : {}), ...(s.service ? { service: s.service } : {}), title: node.title, after };
  });
}

/** `plan`'s numbered list: host, service, step, and the tasks of other plugins or hosts it waits for. */
export function formatTaskOrder(nodes: readonly TaskNode[]): string[] {
  const order = plannedTasks(nodes);
  const width = String(order.length).length;
  return order.map((t, i) => {
    const edges = t.after.length ? `   (after ${t.after.join(', ')})` : '';
    return `${String(i + 1).padStart(width)}. ${label(t, t.title)}${edges}`;
  });
}

/**
 * What plan shows a leaf waiting for: its own edges, and a group's edges on the group's first
 * leaf only (later leaves wait for that one anyway).
 */
function directEdges(leaf: TaskNode, roots: readonly TaskNode[]): string[] {
  const path: TaskNode[] = [];
  const find = (n: TaskNode): boolean => {
    path.push(n);
    if (n === leaf || n.children?.some(find)) return true;
    path.pop();
    return false;
  };
  roots.some(find);
  const firstLeaf = (n: TaskNode): TaskNode => (n.children?.length ? firstLeaf(n.children[0]!) : n);
  return [...new Set(path.filter((n) => n === leaf || firstLeaf(n) === leaf).flatMap((n) => n.after ?? []))];
}

/** Waits until every edge of the leaf is done, or the run stops (a failure elsewhere). */
async function waitForEdges(state: RunState, node: TaskNode, show: (line: string) => void): Promise<void> {
  const pending = (state.graph.waitsFor.get(node.id) ?? []).filter((id) => !settled.has(state.graph.done.get(id)!.promise));
  if (!pending.length) return;
  show(`waiting for ${pending.slice(0, 3).join(', ')}${pending.length > 3 ? ` and ${pending.length - 3} more` : ''}`);
  let onStop: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    onStop = () => reject(new RunStoppedError());
    if (state.stop.signal.aborted) onStop();
    else state.stop.signal.addEventListener('abort', onStop, { once: true });
  });
  stopped.catch(() => undefined);
  try {
    await Promise.race([Promise.all(pending.map((id) => state.graph.done.get(id)!.promise)), stopped]);
  } finally {
    if (onStop) state.stop.signal.removeEventListener('abort', onStop);
  }
}

const settled = new WeakSet<Promise<void>>();
const markDone = (state: RunState, id: string): void => {
  const d = state.graph.done.get(id);
  if (!d) return;
  settled.add(d.promise);
  d.resolve();
};

/** listr2's tree needs cursor movement; CI logs and --verbose want one line per event. */
export function chooseRenderer(opts: { tty: boolean; ci: boolean; verbose: boolean }): 'tty' | 'plain' {
  return opts.tty && !opts.ci && !opts.verbose ? 'tty' : 'plain';
}

interface Scope {
  readonly host?: string;
  readonly service?: string;
  readonly phase?: string;
}

interface RunState {
  readonly opts: RunOptions;
  readonly graph: Graph;
  readonly timings: TimingRecord[];
  readonly stop: AbortController;
  readonly inFlight: Set<Promise<unknown>>;
  /** performance.now() at the run's start: the origin of the records' startMs and endMs. */
  readonly t0: number;
  failure?: { error: unknown; id: string };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

const label = (scope: Scope, title: string): string =>
  `${scope.host ? `[${scope.host}] ` : ''}${scope.service ? `${scope.service}: ` : ''}${title}`;

const firstLine = (err: unknown): string =>
  (err instanceof Error ? err.message || err.name : String(err)).split('\n')[0] ?? '';

/** Plain mode prints to the terminal (and file); tty mode leaves the terminal to listr2 and logs to the file. */
const progress = (state: RunState, line: string): void => {
  if (state.opts.renderer === 'plain') state.opts.log.info(line);
  else state.opts.log.debug(line);
};

const record = (state: RunState, node: TaskNode, scope: Scope, ms: number, status: TimingStatus): void => {
  const endMs = performance.now() - state.t0;
  const after = state.graph.waitsFor.get(node.id) ?? [];
  state.timings.push({ id: node.id, host: scope.host, service: scope.service, phase: scope.phase, ms, status, startMs: Math.max(0, endMs - ms), endMs, ...(after.length ? { after } : {}) });
};

/** Every leaf below node, with its scope, for a subtree that is skipped as a whole. */
const leavesOf = (node: TaskNode, scope: Scope): Array<[TaskNode, Scope]> => {
  const s = scopeOf(node, scope);
  return node.children?.length ? node.children.flatMap((c) => leavesOf(c, s)) : [[node, s]];
};

const scopeOf = (node: TaskNode, parent: Scope): Scope => ({
  host: node.host ?? parent.host,
  service: node.service ?? parent.service,
  phase: node.phase ?? parent.phase,
});

/** A timer that calls onExpiry `ms` after it was last (re)started; a non-positive or infinite `ms` never fires. */
interface Deadline {
  restart(): void;
  cancel(): void;
}

function deadline(ms: number, onExpiry: () => void): Deadline {
  if (!(Number.isFinite(ms) && ms > 0)) return { restart: () => undefined, cancel: () => undefined };
  let timer: NodeJS.Timeout | undefined = setTimeout(onExpiry, ms);
  return {
    // After cancel a late progress report (an apt status line read after the step ended) must not
    // arm a timer that nothing clears: it would keep the process alive for the whole timeout.
    restart: () => {
      if (timer === undefined) return;
      clearTimeout(timer);
      timer = setTimeout(onExpiry, ms);
    },
    cancel: () => {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Runs node.run with the timeout and the run-wide stop signal. Resolves or rejects as soon as
 * either fires, whether or not the task honours its signal: a hung task cannot hang the run.
 */
async function runLeaf(state: RunState, node: TaskNode, handle: (signal: AbortSignal, progressed: () => void) => TaskHandle): Promise<void> {
  const ctl = new AbortController();
  const timeoutMs = node.timeoutMs ?? state.opts.defaultTimeoutMs;
  const idle = node.timeoutFrom === 'progress';
  let fail!: (err: Error) => void;
  const stopped = new Promise<never>((_, reject) => {
    fail = (err) => {
      ctl.abort(err);
      reject(err);
    };
  });
  const timeout = deadline(timeoutMs, () => fail(new TaskTimeoutError(node.id, node.title, timeoutMs, idle)));
  const onStop = (): void => fail(new RunStoppedError());
  if (state.stop.signal.aborted) onStop();
  else state.stop.signal.addEventListener('abort', onStop, { once: true });
  const progressed = (): void => {
    if (idle && !ctl.signal.aborted) timeout.restart();
  };
  const work = Promise.resolve().then(() => node.run?.(handle(ctl.signal, progressed)));
  // The losing side of the race must not surface as an unhandled rejection.
  work.catch(() => undefined);
  stopped.catch(() => undefined);
  try {
    await Promise.race([work, stopped]);
  } finally {
    timeout.cancel();
    state.stop.signal.removeEventListener('abort', onStop);
  }
}

function leafTask(state: RunState, node: TaskNode, scope: Scope): ListrTask {
  const { log, checkpoint } = state.opts;
  let title = node.title;
  return {
    title: log.mask(node.title),
    task: async (_ctx, task) => {
      if (state.failure) {
        task.skip('stopped: an earlier step failed');
        return;
      }
      try {
        await waitForEdges(state, node, (line) => (task.output = log.mask(line)));
      } catch {
        task.skip('stopped: an earlier step failed');
        return;
      }
      const reason = node.skip?.();
      const unchanged = node.fingerprint !== undefined && checkpoint?.isDone(node.id, node.fingerprint);
      if (reason || unchanged) {
        const why = reason || 'unchanged';
        record(state, node, scope, 0, 'skipped');
        progress(state, `${label(scope, title)} ... skipped (${why})`);
        markDone(state, node.id);
        task.skip(log.mask(why));
        return;
      }

      const started = performance.now();
      progress(state, `${label(scope, title)} ...`);
      const handle = (signal: AbortSignal, progressed: () => void): TaskHandle => ({
        signal,
        progressed,
        output(line: string) {
          const masked = log.mask(line);
          task.output = masked;
          progress(state, `${label(scope, title)} | ${masked}`);
        },
        title(t: string) {
          title = t;
          task.title = log.mask(t);
        },
      });
      const notes: StepNotes = { parts: [] };
      const run = withStepNotes(notes, () => runLeaf(state, node, handle));
      state.inFlight.add(run);
      try {
        await run;
        if (node.fingerprint !== undefined && checkpoint) await checkpoint.markDone(node.id, node.fingerprint);
      } catch (err) {
        const ms = performance.now() - started;
        record(state, node, scope, ms, 'failed');
        if (err instanceof RunStoppedError) {
          progress(state, `${label(scope, title)} ... stopped (${seconds(ms)})`);
        } else {
          state.failure ??= { error: err, id: node.id };
          progress(state, `${label(scope, title)} ... failed (${seconds(ms)})`);
          state.stop.abort();
        }
        // listr2 shows this message in its tree; only the first line, masked.
        throw new Error(log.mask(firstLine(err)));
      } finally {
        state.inFlight.delete(run);
      }
      const ms = performance.now() - started;
      if (notes.skipped) {
        record(state, node, scope, ms, 'skipped');
        progress(state, `${label(scope, title)} ... skipped (${notes.skipped})`);
        markDone(state, node.id);
        task.skip(log.mask(notes.skipped));
        return;
      }
      record(state, node, scope, ms, 'done');
      const partly = notes.parts.length ? `; skipped: ${notes.parts.join('; ')}` : '';
      progress(state, `${label(scope, title)} ... done (${seconds(ms)}${partly})`);
      if (partly) task.title = log.mask(`${title} (skipped: ${notes.parts.join('; ')})`);
      markDone(state, node.id);
    },
  };
}

function toListr(state: RunState, node: TaskNode, parent: Scope): ListrTask {
  const scope = scopeOf(node, parent);
  if (!node.children?.length) return leafTask(state, node, scope);
  const { log } = state.opts;
  return {
    title: log.mask(node.title),
    task: (_ctx, task) => {
      if (state.failure) {
        task.skip('stopped: an earlier step failed');
        return;
      }
      const reason = node.skip?.();
      if (reason) {
        for (const [leaf, s] of leavesOf(node, parent)) {
          record(state, leaf, s, 0, 'skipped');
          markDone(state, leaf.id);
        }
        progress(state, `${label(scope, node.title)} ... skipped (${reason})`);
        task.skip(log.mask(reason));
        return;
      }
      return task.newListr(
        node.children!.map((c) => toListr(state, c, scope)),
        { concurrent: node.concurrent ?? false, exitOnError: true },
      );
    },
  };
}

/** Run the tree; never throws for a task's failure: the summary says what failed, already rendered. */
export async function runTasks(nodes: TaskNode[], opts: RunOptions): Promise<RunSummary> {
  const state: RunState = { opts, graph: buildGraph(nodes), timings: [], stop: new AbortController(), inFlight: new Set(), t0: performance.now() };
  // Every leaf waiting for its edges listens for the stop: many more than Node's default 10.
  setMaxListeners(0, state.stop.signal);
  const started = state.t0;
  const tasks = nodes.map((n) => toListr(state, n, {}));
  const listr =
    opts.renderer === 'tty'
      ? new Listr(tasks, {
          concurrent: false,
          exitOnError: true,
          registerSignalListeners: false,
          renderer: 'default',
          rendererOptions: { timer: PRESET_TIMER, collapseSubtasks: false, collapseErrors: false },
          fallbackRenderer: 'verbose',
          fallbackRendererOptions: { timer: PRESET_TIMER },
        })
      : new Listr(tasks, { concurrent: false, exitOnError: true, registerSignalListeners: false, renderer: 'silent' });

  let listrError: unknown;
  try {
    await listr.run();
  } catch (err) {
    listrError = err;
  }
  // Concurrent siblings of a failed task were aborted; let their last lines land before the summary.
  await Promise.allSettled([...state.inFlight]);
  const totalMs = performance.now() - started;

  if (!state.failure && listrError === undefined) return { ok: true, timings: state.timings, totalMs };

  const error = state.failure?.error ?? listrError;
  const debug = (opts.log as { debugEnabled?: boolean }).debugEnabled ?? false;
  const where = state.failure ? `Step failed: ${state.failure.id}\n` : '';
  const message = where + renderError(error, opts.log.file, opts.log.mask, { debug });
  const errorSink = (opts.log as { error?: (m: string) => void }).error;
  if (errorSink) errorSink.call(opts.log, message);
  else opts.log.warn(message);
  return { ok: false, error, failedTask: state.failure?.id, message: opts.log.mask(message), timings: state.timings, totalMs };
}
