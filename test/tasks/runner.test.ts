import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CommandError } from '../../lib/host/types.ts';
import { createLogger } from '../../lib/log.ts';
import { chooseRenderer, runTasks, type TaskNode } from '../../lib/tasks.ts';
import { partSkipped, stepSkipped } from '../../lib/step-notes.ts';

const dir = mkdtempSync(join(tmpdir(), 'stackts-tasks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const noTimes = (lines: string[]) => lines.map((l) => l.replace(/\(\d+\.\d s\)/, '(T)'));

function capture(file?: string) {
  const out: string[] = [];
  const log = createLogger({ file, debug: false, out: (l) => out.push(l) });
  return { out, log };
}

describe('runTasks (plain renderer)', () => {
  it('prints one line per task start and end, host and service from the tree', async () => {
    const { out, log } = capture();
    const tree: TaskNode[] = [
      {
        id: 'h1', title: 'h1', host: 'h1',
        children: [
          { id: 'h1/glance', title: 'glance', service: 'glance', children: [
            { id: 'h1/glance/install', title: 'install', phase: 'install', run: async (t) => t.output('3 packages') },
            { id: 'h1/glance/init', title: 'init', phase: 'init', run: async () => sleep(20) },
          ] },
          { id: 'h1/nova', title: 'nova', service: 'nova', children: [
            { id: 'h1/nova/install', title: 'install', phase: 'install', skip: () => 'nova is disabled', run: async () => { throw new Error('must not run'); } },
          ] },
        ],
      },
    ];
    const s = await runTasks(tree, { renderer: 'plain', log, defaultTimeoutMs: 5000 });
    expect(s.ok).toBe(true);
    expect(noTimes(out)).toEqual([
      '[h1] glance: install ...',
      '[h1] glance: install | 3 packages',
      '[h1] glance: install ... done (T)',
      '[h1] glance: init ...',
      '[h1] glance: init ... done (T)',
      '[h1] nova: install ... skipped (nova is disabled)',
    ]);
    expect(s.timings.map((t) => [t.id, t.host, t.service, t.phase, t.status])).toEqual([
      ['h1/glance/install', 'h1', 'glance', 'install', 'done'],
      ['h1/glance/init', 'h1', 'glance', 'init', 'done'],
      ['h1/nova/install', 'h1', 'nova', 'install', 'skipped'],
    ]);
    expect(s.timings[1]!.ms).toBeGreaterThanOrEqual(15);
  });

  it('each record says when its step started and ended (from the run\'s start) and which steps it waited for: the bench\'s critical path', async () => {
    const { log } = capture();
    const tree: TaskNode[] = [
      {
        id: 'h1', title: 'h1', host: 'h1', concurrent: true,
        children: [
          { id: 'h1/a/start', title: 'a', service: 'a', phase: 'start', run: async () => sleep(30) },
          { id: 'h1/b/start', title: 'b', service: 'b', phase: 'start', run: async () => sleep(5) },
          { id: 'h1/c/init', title: 'c', service: 'c', phase: 'init', after: ['h1/a/start', 'h1/b/start'], run: async () => sleep(10) },
        ],
      },
    ];
    const s = await runTasks(tree, { renderer: 'plain', log, defaultTimeoutMs: 5000 });
    expect(s.ok).toBe(true);
    const at = (id: string) => s.timings.find((t) => t.id === id)!;
    expect(at('h1/a/start').after).toBeUndefined();
    expect(at('h1/c/init').after).toEqual(['h1/a/start', 'h1/b/start']);
    for (const t of s.timings) expect(t.endMs! - t.startMs!).toBeCloseTo(t.ms, 3);
    // c started once a, the slower of its two edges, had ended; a and b ran side by side.
    expect(at('h1/c/init').startMs!).toBeGreaterThanOrEqual(at('h1/a/start').endMs!);
    expect(at('h1/b/start').startMs!).toBeLessThan(at('h1/a/start').endMs!);
    expect(at('h1/c/init').endMs!).toBeLessThanOrEqual(s.totalMs);
  });

  it('a step that found its work done shows "skipped: reason", one that skipped a part "done (...; skipped: reason)", each its own when they run at once', async () => {
    const { out, log } = capture();
    // Reported from deep inside the step, after awaits, as a plugin's converge() or bootstrap check does.
    const deep = async (f: () => void) => {
      await sleep(10);
      await Promise.resolve().then(f);
    };
    const tree: TaskNode[] = [
      {
        id: 'h1', title: 'h1', host: 'h1', concurrent: true,
        children: [
          { id: 'h1/image/register', title: 'register', service: 'image', run: async () => deep(() => stepSkipped('tiny already in Glance with the same data')) },
          { id: 'h1/keystone/init', title: 'init', service: 'keystone', run: async () => {
            await deep(() => partSkipped('keystone-manage db_sync unchanged'));
            await deep(() => partSkipped('bootstrap in place'));
          } },
          { id: 'h1/nova/init', title: 'init', service: 'nova', run: async () => sleep(30) },
        ],
      },
    ];
    const s = await runTasks(tree, { renderer: 'plain', log, defaultTimeoutMs: 5000 });
    expect(s.ok).toBe(true);
    const ends = out.map((l) => l.replace(/\d+\.\d s/, 'T')).filter((l) => /\.\.\. \w/.test(l)).sort();
    expect(ends).toEqual([
      '[h1] image: register ... skipped (tiny already in Glance with the same data)',
      '[h1] keystone: init ... done (T; skipped: keystone-manage db_sync unchanged; bootstrap in place)',
      '[h1] nova: init ... done (T)',
    ].sort());
    expect(Object.fromEntries(s.timings.map((t) => [t.id, t.status]))).toEqual({ 'h1/image/register': 'skipped', 'h1/keystone/init': 'done', 'h1/nova/init': 'done' });
    // Outside a step, reporting is a no-op (a plugin function called by a test or by plan).
    expect(() => stepSkipped('nothing running')).not.toThrow();
  });

  it('runs concurrent children in parallel', async () => {
    const { log } = capture();
    const spans: Record<string, [number, number]> = {};
    const hostTask = (h: string): TaskNode => ({
      id: h, title: h, host: h,
      children: [{ id: `${h}/x/install`, title: 'install', service: 'x', phase: 'install', run: async () => {
        const start = Date.now();
        await sleep(300);
        spans[h] = [start, Date.now()];
      } }],
    });
    const t0 = Date.now();
    const s = await runTasks([{ id: 'all', title: 'hosts', concurrent: true, children: [hostTask('h1'), hostTask('h2'), hostTask('h3')] }], { renderer: 'plain', log, defaultTimeoutMs: 5000 });
    const wall = Date.now() - t0;
    expect(s.ok).toBe(true);
    const [a, b, c] = [spans.h1!, spans.h2!, spans.h3!];
    // Each started before the others ended.
    expect(Math.max(a[0], b[0], c[0])).toBeLessThan(Math.min(a[1], b[1], c[1]));
    expect(wall).toBeLessThan(800);
  });

  it('fails a task that never resolves on its timeout, names it, aborts its signal, runs nothing after', async () => {
    const { out, log } = capture();
    let signal: AbortSignal | undefined;
    let laterRan = false;
    const s = await runTasks(
      [
        { id: 'h1/mariadb/start', title: 'start mariadb', host: 'h1', service: 'mariadb', timeoutMs: 150, run: (t) => { signal = t.signal; return new Promise<void>(() => {}); } },
        { id: 'h1/keystone/init', title: 'init', host: 'h1', service: 'keystone', run: async () => { laterRan = true; } },
      ],
      { renderer: 'plain', log, defaultTimeoutMs: 60_000 },
    );
    expect(s.ok).toBe(false);
    expect(s.failedTask).toBe('h1/mariadb/start');
    expect(String((s.error as Error).message)).toBe('timed out after 0.15 s: start mariadb');
    expect(signal?.aborted).toBe(true);
    expect(laterRan).toBe(false);
    expect(out.join('\n')).toContain('timed out after 0.15 s: start mariadb');
    expect(out.join('\n')).not.toContain('keystone');
    expect(s.totalMs).toBeLessThan(2000);
    expect(s.timings).toEqual([expect.objectContaining({ id: 'h1/mariadb/start', status: 'failed' })]);
  });

  it("with timeoutFrom 'progress' a task that keeps advancing outlives its timeout, and one that stalls fails 'no progress'", async () => {
    const { out, log } = capture();
    // 10 advances 50 ms apart: 500 ms of work under a 150 ms timeout that each advance restarts.
    const steady: TaskNode = { id: 'h1/packages/install', title: 'install', timeoutMs: 150, timeoutFrom: 'progress', run: async (t) => {
      for (let i = 0; i < 10; i++) { await sleep(50); t.progressed(); }
    } };
    const ok = await runTasks([steady], { renderer: 'plain', log, defaultTimeoutMs: 60_000 });
    expect(ok.ok).toBe(true);
    expect(ok.totalMs).toBeGreaterThan(450);
    // Output alone is not progress: a task that only prints (a clock) still stalls.
    const stalls: TaskNode = { id: 'h1/packages/install2', title: 'install', timeoutMs: 150, timeoutFrom: 'progress', run: async (t) => {
      t.progressed();
      for (;;) { await sleep(40); t.output('installing 55% (Setting up keystone), 1m05s'); }
    } };
    const bad = await runTasks([stalls], { renderer: 'plain', log, defaultTimeoutMs: 60_000 });
    expect(bad.ok).toBe(false);
    expect((bad.error as Error).message).toBe('no progress for 0.15 s: install');
    expect(out.join('\n')).toContain('no progress for 0.15 s: install');
    // The same task without timeoutFrom fails from its start, whatever it reports.
    const plain = await runTasks([{ ...steady, id: 'h1/x', timeoutFrom: undefined }], { renderer: 'plain', log, defaultTimeoutMs: 60_000 });
    expect((plain.error as Error).message).toBe('timed out after 0.15 s: install');
  });

  it('a progress report that comes after its task finished arms no timer', async () => {
    const { log } = capture();
    let late: (() => void) | undefined;
    const node: TaskNode = { id: 'h1/packages/install', title: 'install', timeoutMs: 60_000, timeoutFrom: 'progress', run: async (t) => { late = () => t.progressed(); } };
    expect((await runTasks([node], { renderer: 'plain', log, defaultTimeoutMs: 60_000 })).ok).toBe(true);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    late!();
    // A timer armed here would keep stack.ts alive for the whole minute after its run ended.
    expect(timers()).toBe(before);
  });

  it('uses the default timeout when a task sets none', async () => {
    const { log } = capture();
    const s = await runTasks([{ id: 'x', title: 'hang', run: () => new Promise<void>(() => {}) }], { renderer: 'plain', log, defaultTimeoutMs: 100 });
    expect(s.ok).toBe(false);
    expect((s.error as Error).message).toBe('timed out after 0.1 s: hang');
  });

  it('a CommandError failure shows command, exit code, stderr tail and the log path, and stops later tasks', async () => {
    const file = join(dir, 'fail.log');
    const { out, log } = capture(file);
    const ran: string[] = [];
    const stderr = Array.from({ length: 25 }, (_, i) => `nova-api line ${i + 1}`).join('\n');
    const s = await runTasks(
      [
        { id: 'h1', title: 'h1', host: 'h1', children: [
          { id: 'h1/nova', title: 'nova', service: 'nova', children: [
            { id: 'h1/nova/start', title: 'start', phase: 'start', run: async () => {
              ran.push('start');
              throw new CommandError('h1', { command: 'systemctl start nova-api', exitCode: 5, stdout: '', stderr, durationMs: 40 }, false);
            } },
            { id: 'h1/nova/register', title: 'register', phase: 'register', run: async () => { ran.push('register'); } },
          ] },
          { id: 'h1/placement', title: 'placement', service: 'placement', children: [
            { id: 'h1/placement/start', title: 'start', run: async () => { ran.push('placement'); } },
          ] },
        ] },
      ],
      { renderer: 'plain', log, defaultTimeoutMs: 5000 },
    );
    await log.close();
    expect(s.ok).toBe(false);
    expect(s.failedTask).toBe('h1/nova/start');
    expect(ran).toEqual(['start']);
    const text = out.join('\n');
    expect(text).toContain('[h1] nova: start ... failed');
    expect(text).toContain('Command failed on h1 (exit 5): systemctl start nova-api');
    expect(text).toContain('nova-api line 25');
    expect(text).toContain('nova-api line 6');
    expect(text).not.toContain('nova-api line 5\n');
    expect(text).toContain(`Full log: ${file}`);
    expect(s.message).toContain('Command failed on h1 (exit 5)');
    // The terminal's failure report also lands in the log file.
    expect(readFileSync(file, 'utf8')).toContain('Command failed on h1 (exit 5): systemctl start nova-api');
  });

  it('a failing host aborts its concurrent siblings and the run still returns promptly', async () => {
    const { out, log } = capture();
    let siblingSignal: AbortSignal | undefined;
    const s = await runTasks(
      [{ id: 'hosts', title: 'hosts', concurrent: true, children: [
        { id: 'h1/a', title: 'a', host: 'h1', run: async () => { await sleep(50); throw new Error('disk full on h1'); } },
        { id: 'h2/a', title: 'a', host: 'h2', run: (t) => { siblingSignal = t.signal; return new Promise<void>(() => {}); } },
      ] }],
      { renderer: 'plain', log, defaultTimeoutMs: 60_000 },
    );
    expect(s.ok).toBe(false);
    expect(s.failedTask).toBe('h1/a');
    expect((s.error as Error).message).toBe('disk full on h1');
    expect(siblingSignal?.aborted).toBe(true);
    expect(s.totalMs).toBeLessThan(2000);
    expect(noTimes(out)).toContain('[h2] a ... stopped (T)');
  });
});

describe('chooseRenderer', () => {
  it('draws the tree only on an interactive terminal', () => {
    expect(chooseRenderer({ tty: true, ci: false, verbose: false })).toBe('tty');
    expect(chooseRenderer({ tty: false, ci: false, verbose: false })).toBe('plain');
    expect(chooseRenderer({ tty: true, ci: true, verbose: false })).toBe('plain');
    expect(chooseRenderer({ tty: true, ci: false, verbose: true })).toBe('plain');
  });
});
