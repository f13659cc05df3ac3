// verify --json: every check with its result, seconds and, for the one that failed, the broken
// link; the document parses and holds no password, whether verify passed or failed.
import { describe, expect, it } from 'vitest';
import type { DaemonSpec } from '../../lib/daemon.ts';
import type { ServicePlugin } from '../../lib/plugin.ts';
import { verifyTasks, type MutableContext } from '../../lib/stack-tasks.ts';
import { runTasks } from '../../lib/tasks.ts';
import { verifyReport, type VerifyReport } from '../../lib/verify-report.ts';
import { escapedForms } from '../../lib/log.ts';
import { DEBIAN_SYSV, RecordingHost, makeContext } from '../fixtures/recording-host.ts';

const PASSWORDS = { ADMIN_PASSWORD: `Adm'n "pw" 1`, SERVICE_PASSWORD: 'Svc$pw-22', DATABASE_PASSWORD: 'Db\\pw:333', RABBIT_PASSWORD: 'Rb pw/4444' };

const api: DaemonSpec = { name: 'fake-api', argv: ['/usr/bin/fake-api'], logFile: '/var/log/fake-api.out', link: 'clients -> fake-api (its API)' };
/** A plugin whose check fails with a message quoting the admin password (as a careless client might). */
const fake = (checkFails: boolean): ServicePlugin => ({
  name: 'fake',
  services: [],
  needs: [],
  packages: async () => [],
  daemons: () => [api],
  verify: async () => {
    if (checkFails) throw new Error(`token refused for admin:${PASSWORDS.ADMIN_PASSWORD}`);
  },
});

async function verifyJson(running: boolean, checkFails = false): Promise<{ text: string; report: VerifyReport; ok: boolean }> {
  const host = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/./, { stdout: '' }).reply(/fake-api\.pid/, { stdout: running ? 'running 4242\n' : 'stopped\n' });
  const ctx = makeContext(host, DEBIAN_SYSV, PASSWORDS);
  for (const v of Object.values(PASSWORDS)) ctx.log.addSecret(v);
  const tree = [verifyTasks(ctx as unknown as MutableContext, [fake(checkFails)])];
  const run = await runTasks(tree, { renderer: 'plain', log: ctx.log, defaultTimeoutMs: 30_000 });
  const text = ctx.log.mask(JSON.stringify(verifyReport(tree, run, (t) => ctx.log.mask(t)), null, 2));
  return { text, report: JSON.parse(text) as VerifyReport, ok: run.ok };
}

const noPassword = (text: string) => {
  for (const v of Object.values(PASSWORDS)) for (const form of escapedForms(v)) expect(text.includes(form), `a form of ${v}`).toBe(false);
};

describe('verify --json', () => {
  it('a passing verify: every check passes, with its seconds', async () => {
    const { text, report, ok } = await verifyJson(true);
    expect(ok).toBe(true);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.id, c.result])).toEqual([
      ['h1/links/verify', 'pass'],
      ['h1/fake/verify', 'pass'],
      ['h1/links/passed', 'pass'],
    ]);
    for (const c of report.checks) expect(typeof c.seconds).toBe('number');
    expect(report.checks[0]).toMatchObject({ host: 'h1', service: 'links', check: 'every daemon runs, every link holds' });
    noPassword(text);
  });

  it('a stopped daemon: the links check fails naming the broken link, and the pass is not recorded', async () => {
    const { text, report } = await verifyJson(false);
    expect(report.ok).toBe(false);
    expect(report.checks[0]).toMatchObject({ id: 'h1/links/verify', result: 'fail', link: 'clients -> fake-api (its API)' });
    expect(report.checks[0]!.error).toMatch(/fake-api on h1 is not running/);
    expect(report.checks.filter((c) => c.result === 'fail').map((c) => c.id)).toEqual(['h1/links/verify']);
    expect(report.checks.at(-1)).toMatchObject({ id: 'h1/links/passed', result: 'not run' });
    noPassword(text);
  });

  it("a failing functional check: its error is shown masked, the password never", async () => {
    const { text, report } = await verifyJson(true, true);
    const failed = report.checks.find((c) => c.result === 'fail')!;
    expect(failed.id).toBe('h1/fake/verify');
    expect(failed.error).toBe('token refused for admin:***');
    noPassword(text);
  });
});
