// The one mapping from what stopped a run to the process exit code (lib/errors.ts): every error
// kind stack.ts raises, before the first task (setup: nothing changed, always 2) and in the run
// (2 only for a refusal before anything changed, InputError; 1 for a failed step).

import { describe, expect, it } from 'vitest';
import { exitCodeOf, InputError, StackError } from '../../lib/errors.ts';
import { ConfigError } from '../../lib/config/errors.ts';
import { CommandError } from '../../lib/host/types.ts';
import { LockHeldError } from '../../lib/run-lock.ts';
import { DbError } from '../../lib/db.ts';
import { ApiError } from '../../lib/openstack/http.ts';
import { TaskCycleError, TaskTimeoutError } from '../../lib/tasks.ts';

const commandError = new CommandError('h1', { command: 'false', exitCode: 1, stdout: '', stderr: '', durationMs: 1 }, false);

const kinds: Array<[string, unknown, 1 | 2]> = [
  ['StackError', new StackError('a step failed', 'do this'), 1],
  ['InputError', new InputError('h1 is not ready; nothing was changed'), 2],
  ['InputError seen by name (a second copy of the module)', Object.assign(new Error('x'), { name: 'InputError' }), 2],
  ['CommandError', commandError, 1],
  ['ConfigError', new ConfigError({ origin: 'localrc:1', message: 'bad' }), 1],
  ['LockHeldError', new LockHeldError('/run/stack-ts.lock', null), 1],
  ['DbError', new DbError('no such table', 'localhost:3306'), 1],
  ['ApiError', new ApiError('refused', 'GET', 'http://h1:5000/v3'), 1],
  ['TaskTimeoutError', new TaskTimeoutError('t', 'a task', 1000), 1],
  ['TaskCycleError', new TaskCycleError(['a', 'b', 'a']), 1],
  ['a plain Error', new Error('boom'), 1],
  ['something not an Error', 'boom', 1],
  ['no error at all', undefined, 1],
];

describe('exitCodeOf', () => {
  it.each(kinds)('%s in the run', (_name, err, code) => {
    expect(exitCodeOf(err, 'run')).toBe(code);
  });

  it.each(kinds)('%s before the first task is bad input: 2', (_name, err) => {
    expect(exitCodeOf(err, 'setup')).toBe(2);
  });

  it('reads a failure as in the run when not told', () => {
    expect(exitCodeOf(new StackError('x'))).toBe(1);
    expect(exitCodeOf(new InputError('x'))).toBe(2);
  });

  it('InputError is a StackError (rendered the same way, with its hint)', () => {
    const err = new InputError('x', 'fix it');
    expect(err).toBeInstanceOf(StackError);
    expect(err.hint).toBe('fix it');
    expect(err.exitCode).toBe(2);
  });
});
