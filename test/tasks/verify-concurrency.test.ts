// Issue 18: verify boots its test servers on every compute at once. The stack's real task graph
// for a controller and two computes, every step but verify's a no-op; nova-compute's verify is a
// recording fake whose server boot takes a while. Both computes' boots must overlap, and a
// failing one still names its own host, in its own lines.
import { describe, expect, it } from 'vitest';
import { stackTasks } from '../../lib/stack-tasks.ts';
import { runTasks, type TaskNode } from '../../lib/tasks.ts';
import { createLogger } from '../../lib/log.ts';
import { StackError } from '../../lib/errors.ts';
import { orderPlugins } from '../../lib/plan.ts';
import type { ServicePlugin, StackContext } from '../../lib/plugin.ts';
import { PLUGINS } from '../../plugins/index.ts';
import { recordingCloud } from '../fixtures/cloud.ts';

const LAYOUT = `hosts:
  - name: ctl
    address: root@10.0.0.12
    roles: [database, messaging, controller]
  - name: cpu1
    address: root@10.0.0.13
    roles: [compute]
  - name: cpu2
    address: root@10.0.0.14
    roles: [compute]
`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The stack's tree with every step that is not a verify step done at once. */
const onlyVerify = (n: TaskNode): TaskNode =>
  n.children ? { ...n, children: n.children.map(onlyVerify) } : n.phase === 'verify' ? n : { ...n, run: async () => undefined };

/**
 * The real plugins with no daemons or links to check and no verify but nova-compute's, which is `boot`: what
 * a compute's verify does to its Nova (create, wait for ACTIVE, the data path, delete), recorded.
 */
function cloudWith(boot: (ctx: StackContext) => Promise<void>, links: ServicePlugin['links'] = async () => []) {
  const { config, ctxs } = recordingCloud(LAYOUT, { ctl: '10.0.0.12', cpu1: '10.0.0.13', cpu2: '10.0.0.14' }, { VIRT_DRIVER: 'fake' });
  const plugins = orderPlugins(config, PLUGINS).map((p): ServicePlugin => {
    const { verify: _v, daemons: _d, ...rest } = p;
    return { ...rest, links: p.name === 'glance' ? links : async () => [], ...(p.name === 'nova-compute' ? { verify: boot } : {}) };
  });
  return stackTasks(ctxs, plugins).map(onlyVerify);
}

function capture() {
  const out: string[] = [];
  return { out, log: createLogger({ debug: false, out: (l) => out.push(l) }) };
}

describe('verify on two computes', () => {
  it("boots both computes' test servers at once: both have started before either has finished", async () => {
    const events: string[] = [];
    const tree = cloudWith(async (ctx) => {
      events.push(`create on ${ctx.host.name}`);
      await sleep(300);
      events.push(`ping on ${ctx.host.name}`);
      await sleep(100);
      events.push(`deleted on ${ctx.host.name}`);
    });
    const { out, log } = capture();
    const started = Date.now();
    const r = await runTasks(tree, { renderer: 'plain', log, defaultTimeoutMs: 10_000 });
    expect(r.ok, r.message).toBe(true);
    expect(events.slice(0, 2).sort()).toEqual(['create on cpu1', 'create on cpu2']);
    expect(events.filter((e) => e.startsWith('deleted')).sort()).toEqual(['deleted on cpu1', 'deleted on cpu2']);
    // Side by side: well under the 800 ms the two boots take one after the other.
    expect(Date.now() - started).toBeLessThan(750);
    // Each compute's step in its own lines, and in its own timing record, overlapping the other's.
    for (const h of ['cpu1', 'cpu2']) {
      expect(out).toContain(`[${h}] nova-compute: verify ...`);
      expect(out.some((l) => l.startsWith(`[${h}] nova-compute: verify ... done (`))).toBe(true);
    }
    const rec = (h: string) => r.timings.find((t) => t.id === `${h}/nova-compute/verify`)!;
    expect(rec('cpu1').startMs!).toBeLessThan(rec('cpu2').endMs!);
    expect(rec('cpu2').startMs!).toBeLessThan(rec('cpu1').endMs!);
    // The links steps ran beside the boots, not before them.
    for (const h of ['ctl', 'cpu1', 'cpu2']) expect(r.timings.find((t) => t.id === `${h}/links/verify`)!.startMs!).toBeLessThan(rec('cpu1').endMs!);
  });

  it('a compute whose server does not boot is named, with its own host, while the other was booting beside it', async () => {
    const events: string[] = [];
    const tree = cloudWith(async (ctx) => {
      events.push(`create on ${ctx.host.name}`);
      await sleep(ctx.host.name === 'cpu2' ? 100 : 400);
      if (ctx.host.name === 'cpu2') throw new StackError(`A test server (srv-2) did not become ACTIVE on ${ctx.host.name}: status ERROR`, 'The compute log is below.');
      events.push(`deleted on ${ctx.host.name}`);
    });
    const { out, log } = capture();
    const r = await runTasks(tree, { renderer: 'plain', log, defaultTimeoutMs: 10_000 });
    expect(r.ok).toBe(false);
    expect(events.slice(0, 2).sort()).toEqual(['create on cpu1', 'create on cpu2']);
    expect(r.failedTask).toBe('cpu2/nova-compute/verify');
    expect(r.message).toMatch(/Step failed: cpu2\/nova-compute\/verify/);
    expect(r.message).toMatch(/did not become ACTIVE on cpu2/);
    expect(r.message).not.toMatch(/cpu1/);
    expect(out.some((l) => l.startsWith('[cpu2] nova-compute: verify ... failed ('))).toBe(true);
    // The other compute's boot was under way: it is stopped, under its own name, not blamed.
    expect(out.some((l) => l.startsWith('[cpu1] nova-compute: verify ... stopped ('))).toBe(true);
  });

  it("a compute's boot that fails at once on a cause at the controller waits for the controller's links, and the broken link is what is named", async () => {
    const tree = cloudWith(
      async (ctx) => {
        throw new StackError(`nova could not create the test server on ${ctx.host.name}: HTTP 500`, 'See the compute log.');
      },
      async () => [
        {
          service: 'glance',
          link: 'nova -> glance (its image API)',
          hint: './stack.ts starts it again.',
          check: async () => {
            await sleep(200);
            return 'does not answer on 9292';
          },
        },
      ],
    );
    const { log } = capture();
    const r = await runTasks(tree, { renderer: 'plain', log, defaultTimeoutMs: 10_000 });
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/glance on ctl does not answer on 9292\.\n\s+Broken link: nova -> glance \(its image API\)/);
    expect(r.message).not.toMatch(/HTTP 500/);
  });
});
