// npm run bench (second part): what a re-run costs against the first run, on a fresh isolated
// test host: with nothing changed (goal < 0.10 of the first run) and with one glance-api.conf
// option changed through local.conf (goal < 0.15). Prints the ratios; never fails on a slow machine.

import { $ } from 'zx';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestHosts, type Suite } from '../test/hosts/index.ts';

const REPO = resolve(import.meta.dirname, '..');
$.verbose = false;

interface Timed {
  ok: boolean;
  wallMs: number;
  runMs: number;
}

/** One ./stack.ts run; wall clock (node start, config, SSH included) and the run's own total. */
async function timedStack(work: string, config: string): Promise<Timed> {
  const timings = join(work, 'timings.json');
  const started = Date.now();
  const r = await $({ cwd: work, nothrow: true, env: { ...process.env, CI: 'true' } })`${join(REPO, 'stack.ts')} --config ${config} --verbose --timings ${timings}`;
  const wallMs = Date.now() - started;
  if (r.exitCode !== 0) console.log(r.stdout.split('\n').slice(-30).join('\n'));
  const runMs = r.exitCode === 0 ? (JSON.parse(readFileSync(timings, 'utf8')) as { totalMs: number }).totalMs : NaN;
  return { ok: r.exitCode === 0, wallMs, runMs };
}

export async function benchRerun(suite: Suite): Promise<void> {
  const hosts = await startTestHosts({ count: 1, prefix: 'sbr', suite, log: (l) => console.error(`[hosts] ${l}`) });
  const work = mkdtempSync(join(tmpdir(), 'stackts-bench-rerun-'));
  try {
    const h = hosts.hosts[0]!;
    writeFileSync(join(work, 'seed.raw'), Buffer.alloc(1024 * 1024, 'bench '));
    await $`qemu-img convert -f raw -O qcow2 ${join(work, 'seed.raw')} ${join(work, 'bench.qcow2')}`;
    const localrc = [`TARGET_HOST=${h.target}`, `SSH_KEY=${h.keyPath}`, `SSH_KNOWN_HOSTS=${hosts.knownHostsPath}`, 'VIRT_DRIVER=fake', 'APT_UNSAFE_IO=True', `IMAGE_URLS=file://${join(work, 'bench.qcow2')}`, ''].join('\n');
    const conf = join(work, 'local.conf');
    writeFileSync(conf, `[[local|localrc]]\n${localrc}`);
    const first = await timedStack(work, conf);
    if (!first.ok) {
      console.log('bench rerun: the first stack failed; no ratios.');
      process.exitCode = 1;
      return;
    }
    const same = await timedStack(work, conf);
    writeFileSync(conf, `[[local|localrc]]\n${localrc}\n[[post-config|$GLANCE_API_CONF]]\n[DEFAULT]\nshow_image_direct_url = True\n`);
    const changed = await timedStack(work, conf);
    const ratio = (t: Timed, of: 'wallMs' | 'runMs') => (t.ok ? (t[of] / first[of]).toFixed(3) : 'failed');
    console.log('');
    console.log(`first run:                         ${(first.wallMs / 1000).toFixed(1)} s wall, ${(first.runMs / 1000).toFixed(1)} s run`);
    console.log(`no-change re-run:                  ${(same.wallMs / 1000).toFixed(1)} s wall, ${(same.runMs / 1000).toFixed(1)} s run`);
    console.log(`changed-setting re-run (glance):   ${(changed.wallMs / 1000).toFixed(1)} s wall, ${(changed.runMs / 1000).toFixed(1)} s run`);
    console.log(`ratio no-change / first:           ${ratio(same, 'wallMs')} wall, ${ratio(same, 'runMs')} run   (goal: < 0.10)`);
    console.log(`ratio changed-setting / first:     ${ratio(changed, 'wallMs')} wall, ${ratio(changed, 'runMs')} run   (goal: < 0.15)`);
  } finally {
    await hosts.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
