import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config/errors.ts';
import { renderError } from '../../lib/errors-render.ts';
import { CommandError } from '../../lib/host/types.ts';
import { createLogger } from '../../lib/log.ts';
import { StackError } from '../../lib/errors.ts';

const lines = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`).join('\n');

describe('renderError', () => {
  it('CommandError: host, exit code, command, last 20 stderr lines, log path', () => {
    const err = new CommandError(
      'h1',
      { command: 'systemctl start nova-api', exitCode: 3, stdout: 'ignored', stderr: lines(30, 'err') + '\n', durationMs: 50 },
      false,
    );
    const text = renderError(err, '/var/log/stack/stack.log');
    const out = text.split('\n');
    expect(out[0]).toBe('Command failed on h1 (exit 3): systemctl start nova-api');
    expect(text).not.toContain('err-10');
    for (let i = 11; i <= 30; i++) expect(text).toContain(`    err-${i}`);
    expect(text).not.toContain('ignored');
    expect(out.at(-1)).toBe('Full log: /var/log/stack/stack.log');
  });

  it('CommandError with empty stderr shows stdout; a timeout says so; its own logFile wins', () => {
    const err = new CommandError('h2', { command: 'keystone-manage db_sync', exitCode: -1, stdout: 'progress\n', stderr: '', durationMs: 61_000 }, true, '/tmp/own.log');
    const text = renderError(err, '/tmp/run.log');
    expect(text).toContain('Command timed out on h2 after 61 s: keystone-manage db_sync');
    expect(text).toContain('stdout:\n    progress');
    expect(text).toContain('Full log: /tmp/own.log');
  });

  it('StackError: message, service log tail with its file, what to do, full log', () => {
    const err = new StackError('glance-api did not answer on 127.0.0.1:9292 within 60 s', 'check the log below, fix glance-api.conf, run stack.ts again', {
      file: '/var/log/glance/glance-api.log',
      lines: 'ERROR oslo_service bind failed\n',
    });
    expect(renderError(err, '/tmp/run.log').split('\n')).toEqual([
      'glance-api did not answer on 127.0.0.1:9292 within 60 s',
      'Last lines of /var/log/glance/glance-api.log:',
      '    ERROR oslo_service bind failed',
      'What to do: check the log below, fix glance-api.conf, run stack.ts again',
      'Full log: /tmp/run.log',
    ]);
  });

  it('ConfigError: every issue on its own line with its origin', () => {
    const err = new ConfigError([
      { origin: 'localrc:3', message: 'ADMIN_PASSWORD is empty', hint: 'set it or remove the line' },
      { origin: 'localrc:9', message: 'unknown service "n-foo"' },
    ]);
    expect(renderError(err).split('\n')).toEqual([
      'The configuration has 2 problems:',
      '  localrc:3: ADMIN_PASSWORD is empty',
      '      set it or remove the line',
      '  localrc:9: unknown service "n-foo"',
    ]);
  });

  it('other errors: message only, the stack only with debug', () => {
    const err = new Error('boom');
    expect(renderError(err)).toBe('boom');
    expect(renderError(err, undefined, undefined, { debug: true })).toContain('errors-render.test.ts');
    expect(renderError('plain string')).toBe('plain string');
  });

  it('a wrapper error shows its CommandError cause', () => {
    const cause = new CommandError('h1', { command: 'false', exitCode: 1, stdout: '', stderr: 'nope', durationMs: 1 }, false);
    const text = renderError(new Error('starting nova', { cause }), '/tmp/x.log');
    expect(text.split('\n')).toEqual(['starting nova', 'Caused by:', '  Command failed on h1 (exit 1): false', '  Last lines of its stderr:', '      nope', '  Full log: /tmp/x.log']);
  });

  it('applies the mask to everything it renders', () => {
    const log = createLogger({ debug: false, out: () => {} });
    log.addSecret('hunter2!');
    const err = new CommandError('h1', { command: "mysql -p'hunter2!'", exitCode: 1, stdout: '', stderr: 'bad hunter2!', durationMs: 1 }, false);
    const text = renderError(err, undefined, log.mask);
    expect(text).not.toContain('hunter2');
    expect(text).toContain("mysql -p'***'");
  });
});
