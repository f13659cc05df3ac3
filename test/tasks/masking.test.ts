// End to end: a run whose tasks print, log, run and throw a secret in every escaped form
// leaves no trace of it on the terminal nor in the log file.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CommandError } from '../../lib/host/types.ts';
import { createLogger } from '../../lib/log.ts';
import { StackError } from '../../lib/errors.ts';
import { quote } from '../../lib/shell.ts';
import { runTasks, type TaskNode } from '../../lib/tasks.ts';

const dir = mkdtempSync(join(tmpdir(), 'stackts-mask-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = `Zq9$ecret'!(x)"\\ &/+`;
const FORMS: Record<string, string> = {
  raw: SECRET,
  oslo: SECRET.split('$').join('$$'),
  uri: encodeURIComponent(SECRET),
  rfc3986: encodeURIComponent(SECRET).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
  shell: quote(SECRET),
  json: JSON.stringify(SECRET),
};
// Every form starts with these characters (the quoted ones after the quote).
const TRACE = 'Zq9';

const allForms = Object.values(FORMS).join(' | ');

function tree(log: ReturnType<typeof createLogger>, failWith: unknown): TaskNode[] {
  return [
    { id: 'h1', title: 'h1', host: 'h1', children: [
      { id: 'h1/keystone', title: 'keystone', service: 'keystone', children: [
        { id: 'h1/keystone/configure', title: 'configure', phase: 'configure', run: async (t) => {
          for (const f of Object.values(FORMS)) t.output(`connection = mysql+pymysql://keystone:${f}@127.0.0.1/keystone`);
          t.title(`configure (password ${FORMS.raw})`);
          log.info(`info ${allForms}`);
          log.warn(`warn ${allForms}`);
          log.debug(`debug ${allForms}`);
          log.command({ host: 'h1', command: `mysql -p${FORMS.shell} -e "select 1"`, exitCode: 0, stdout: `{"password": ${FORMS.json}}`, stderr: allForms, durationMs: 3 });
        } },
        { id: 'h1/keystone/bootstrap', title: 'bootstrap', phase: 'init', skip: () => `already bootstrapped with ${SECRET}` },
        { id: 'h1/keystone/init', title: 'init', phase: 'init', run: async () => { throw failWith; } },
      ] },
    ] },
  ];
}

const failures: Record<string, unknown> = {
  CommandError: new CommandError('h1', {
    command: `keystone-manage bootstrap --bootstrap-password ${FORMS.shell}`,
    exitCode: 1,
    stdout: allForms,
    stderr: `ERROR: ${allForms}\n${FORMS.uri}\n`,
    durationMs: 5,
  }, false),
  StackError: new StackError(`keystone refused ${FORMS.raw}`, `check ${FORMS.oslo} in keystone.conf`, { file: '/var/log/keystone/keystone.log', lines: allForms }),
  Error: new Error(`plain failure ${allForms}`, { cause: new Error(FORMS.json) }),
};

describe('no secret reaches the terminal or the log file', () => {
  for (const [kind, failWith] of Object.entries(failures)) {
    it(`plain renderer, --debug, failing with a ${kind}`, async () => {
      const file = join(dir, `${kind}.log`);
      const out: string[] = [];
      const log = createLogger({ file, debug: true, out: (l) => out.push(l) });
      log.addSecret(SECRET);
      const s = await runTasks(tree(log, failWith), { renderer: 'plain', log, defaultTimeoutMs: 5000 });
      await log.close();
      expect(s.ok).toBe(false);
      expect(s.failedTask).toBe('h1/keystone/init');

      const terminal = out.join('\n');
      const logText = readFileSync(file, 'utf8');
      // The run really produced the material: commands, outputs, the failure.
      expect(terminal).toContain('[h1] $ mysql -p');
      expect(terminal).toContain('connection = mysql+pymysql://keystone:***@127.0.0.1/keystone');
      expect(logText).toContain('warning: warn ***');
      expect(terminal).toContain('skipped (already bootstrapped with ***)');
      for (const [name, form] of Object.entries(FORMS)) {
        expect(terminal, `${name} form on the terminal`).not.toContain(form);
        expect(logText, `${name} form in the log file`).not.toContain(form);
      }
      expect(terminal).not.toContain(TRACE);
      expect(logText).not.toContain(TRACE);
      expect(String(s.message)).not.toContain(TRACE);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    });
  }

  it('tty renderer (listr2) output holds no trace either', async () => {
    const file = join(dir, 'tty.log');
    const written: string[] = [];
    const grab = (chunk: unknown) => { written.push(String(chunk)); return true; };
    const so = vi.spyOn(process.stdout, 'write').mockImplementation(grab as typeof process.stdout.write);
    const se = vi.spyOn(process.stderr, 'write').mockImplementation(grab as typeof process.stderr.write);
    try {
      const log = createLogger({ file, debug: false });
      log.addSecret(SECRET);
      const s = await runTasks(tree(log, failures.CommandError), { renderer: 'tty', log, defaultTimeoutMs: 5000 });
      await log.close();
      expect(s.ok).toBe(false);
    } finally {
      so.mockRestore();
      se.mockRestore();
    }
    const all = written.join('');
    expect(all).toContain('Command failed on h1 (exit 1)');
    expect(all).not.toContain(TRACE);
    expect(readFileSync(file, 'utf8')).not.toContain(TRACE);
  });
});
