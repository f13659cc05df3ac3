// The task graph: `after` edges across concurrent hosts, the order plan prints, cycles refused.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.ts';
import { runTasks, taskOrder, TaskCycleError, type TaskNode } from '../../lib/tasks.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const quiet = () => {
  const out: string[] = [];
  return { out, log: createLogger({ debug: false, out: (l) => out.push(l) }) };
};

/** Two hosts, concurrent; h2's db sync waits for h1's database, nothing else waits. */
function twoHosts(spans: Record<string, [number, number]>, fail?: string): TaskNode[] {
  const leaf = (id: string, ms: number, after?: string[]): TaskNode => ({
    id,
    title: id.split('/').pop()!,
    after,
    run: async () => {
      const t0 = performance.now();
      await sleep(ms);
      if (id === fail) throw new Error(`${id} broke`);
      spans[id] = [t0, performance.now()];
    },
  });
  return [
    {
      id: 'cloud', title: 'cloud', concurrent: true,
      children: [
        { id: 'h1', title: 'h1', host: 'h1', concurrent: true, children: [
          { id: 'h1/mariadb', title: 'mariadb', service: 'mariadb', children: [leaf('h1/mariadb/configure', 30), leaf('h1/mariadb/start', 120)] },
          { id: 'h1/keystone', title: 'keystone', service: 'keystone', children: [leaf('h1/keystone/configure', 30), leaf('h1/keystone/init', 60, ['h1/mariadb'])] },
        ] },
        { id: 'h2', title: 'h2', host: 'h2', concurrent: true, children: [
          { id: 'h2/nova', title: 'nova', service: 'nova', children: [leaf('h2/nova/configure', 30), leaf('h2/nova/init', 60, ['h1/mariadb/start'])] },
          { id: 'h2/other', title: 'other', service: 'other', children: [leaf('h2/other/configure', 200)] },
        ] },
        { id: 'verify', title: 'verify', after: ['h1', 'h2'], children: [leaf('verify/all', 10)] },
      ],
    },
  ];
}

describe('the task graph', () => {
  it('starts a leaf as soon as its edges are done, on any host, and overlaps the rest', async () => {
    const spans: Record<string, [number, number]> = {};
    const { out, log } = quiet();
    const r = await runTasks(twoHosts(spans), { renderer: 'plain', log, defaultTimeoutMs: 5000 });
    expect(r.ok).toBe(true);
    const [dbStart, dbDone] = spans['h1/mariadb/start']!;
    // Both inits wait for the database, and start right after it (not after the whole host).
    for (const id of ['h1/keystone/init', 'h2/nova/init']) {
      expect(spans[id]![0]).toBeGreaterThanOrEqual(dbDone - 1);
      expect(spans[id]![0] - dbDone).toBeLessThan(100);
    }
    // Work without edges overlaps: configure of keystone ran while the database started.
    expect(spans['h1/keystone/configure']![0]).toBeLessThan(dbStart + 10);
    expect(spans['h2/other/configure']![0]).toBeLessThan(dbStart + 10);
    // verify waits for both hosts.
    expect(spans['verify/all']![0]).toBeGreaterThanOrEqual(Math.max(...Object.entries(spans).filter(([k]) => k !== 'verify/all').map(([, v]) => v[1])) - 1);
    // Time waiting for edges is not the task's time; the sum of task times exceeds the wall clock.
    const init = r.timings.find((t) => t.id === 'h2/nova/init')!;
    expect(init.ms).toBeLessThan(100);
    const sum = r.timings.reduce((a, t) => a + t.ms, 0);
    expect(sum).toBeGreaterThan(r.totalMs);
    // Plain lines name the host.
    expect(out).toContain('[h2] nova: init ...');
  });

  it('a failure on one host stops the tasks still waiting on the others: they never run', async () => {
    const spans: Record<string, [number, number]> = {};
    const { log } = quiet();
    const r = await runTasks(twoHosts(spans, 'h1/mariadb/start'), { renderer: 'plain', log, defaultTimeoutMs: 5000 });
    expect(r.ok).toBe(false);
    expect(r.failedTask).toBe('h1/mariadb/start');
    expect(spans['h2/nova/init']).toBeUndefined();
    expect(spans['h1/keystone/init']).toBeUndefined();
    expect(spans['verify/all']).toBeUndefined();
  });

  it('taskOrder lists every leaf after what it waits for', () => {
    const order = taskOrder(twoHosts({}));
    const ids = order.map((o) => o.node.id);
    expect(ids).toHaveLength(8);
    const before = (a: string, b: string) => expect(ids.indexOf(a), `${a} before ${b}`).toBeLessThan(ids.indexOf(b));
    before('h1/mariadb/start', 'h2/nova/init');
    before('h1/mariadb/configure', 'h1/mariadb/start');
    before('h2/other/configure', 'verify/all');
    expect(order.find((o) => o.node.id === 'h2/nova/init')!.after).toEqual(['h1/mariadb/start']);
  });

  it('refuses a cycle, naming it, before anything runs', async () => {
    const ran: string[] = [];
    const leaf = (id: string, after: string[]): TaskNode => ({ id, title: id, after, run: async () => void ran.push(id) });
    const tree: TaskNode[] = [{ id: 'g', title: 'g', concurrent: true, children: [leaf('a', ['c']), leaf('b', ['a']), leaf('c', ['b'])] }];
    expect(() => taskOrder(tree)).toThrow(TaskCycleError);
    expect(() => taskOrder(tree)).toThrow(/a -> c -> b -> a/);
    await expect(runTasks(tree, { renderer: 'plain', log: quiet().log, defaultTimeoutMs: 1000 })).rejects.toThrow(TaskCycleError);
    expect(ran).toEqual([]);
  });

  it('refuses an edge to a task that is not in the run, and a sequential group waiting on its own later step', () => {
    expect(() => taskOrder([{ id: 'a', title: 'a', after: ['nope'], run: async () => undefined }])).toThrow(/a waits for nope/);
    const seq: TaskNode[] = [{ id: 's', title: 's', children: [{ id: 's/1', title: '1', after: ['s/2'] }, { id: 's/2', title: '2' }] }];
    expect(() => taskOrder(seq)).toThrow(TaskCycleError);
  });
});
