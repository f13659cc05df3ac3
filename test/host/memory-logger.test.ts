import { describe, expect, it } from 'vitest';
import { MemoryLogger } from '../fixtures/memory-logger.ts';

describe('MemoryLogger (the test logger)', () => {
  it('masks registered secrets in records and lines, the longest first', () => {
    const log = new MemoryLogger();
    log.addSecret('pa$$');
    log.addSecret('pa$$word');
    log.addSecret('');
    log.command({ host: 'h1', command: 'mysql -ppa$$word', exitCode: 0, stdout: 'pa$$', stderr: 'x pa$$word y', durationMs: 1 });
    log.info('password is pa$$word');
    log.warn('plain');
    expect(log.records[0]).toMatchObject({ command: 'mysql -p***', stdout: '***', stderr: 'x *** y' });
    expect(log.lines).toEqual([
      { level: 'info', message: 'password is ***' },
      { level: 'warn', message: 'plain' },
    ]);
    expect(log.everything()).not.toContain('pa$$');
    expect(log.mask('no secret here')).toBe('no secret here');
  });
});
