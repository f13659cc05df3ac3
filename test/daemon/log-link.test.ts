// Security: root prepares each daemon's log inside the service's own log directory. A link the
// service user planted at the log's name must not turn that into a chown (or truncation) of the
// link's target as root. Runs the real command startCommands emits, through LocalHost, as root.

import { chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logFileCommand, startCommands, type DaemonSpec } from '../../lib/daemon.ts';
import { LocalHost } from '../../lib/host/local.ts';
import type { HostFacts } from '../../lib/host/types.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe.runIf(isRoot)('a link planted at a log file name', () => {
  const host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 10_000 });

  for (const mode of ['argv-ssd', 'argv-systemd'] as const) {
    it(`leaves the link's target untouched (${mode}'s command)`, async () => {
      const base = mkdtempSync(join(tmpdir(), 'stackts-loglink-'));
      dirs.push(base);
      const logDir = join(base, 'svc');
      mkdirSync(logDir, { mode: 0o750 });
      chownSync(logDir, NOBODY, NOBODY);
      const target = join(base, 'secret');
      writeFileSync(target, 'root only\n', { mode: 0o600 });
      const log = join(logDir, 'svc.log');
      symlinkSync(target, log);

      const spec: DaemonSpec = { name: 'svc', user: 'nobody', group: 'nogroup', argv: ['/bin/true'], logFile: log };
      const facts = { family: 'debian', init: mode === 'argv-systemd' ? 'systemd' : 'sysv' } as HostFacts;
      const line = startCommands(facts, spec, join(base, 'state')).find((l) => l.includes('chown') && l.includes(log));
      expect(line, 'startCommands prepares the log with logFileCommand').toBe(logFileCommand('nobody', 'nogroup', log));
      await host.run(line!);

      const t = statSync(target);
      expect({ uid: t.uid, gid: t.gid, mode: t.mode & 0o7777, text: readFileSync(target, 'utf8') }).toEqual({ uid: 0, gid: 0, mode: 0o600, text: 'root only\n' });
      const l = lstatSync(log);
      expect(l.isFile(), 'the log is now a plain file of its own').toBe(true);
      expect([l.uid, l.gid]).toEqual([NOBODY, NOBODY]);
    });
  }

  it('keeps an existing log and its lines, and hands it to the user', async () => {
    const base = mkdtempSync(join(tmpdir(), 'stackts-loglink-'));
    dirs.push(base);
    const log = join(base, 'svc.log');
    writeFileSync(log, 'earlier lines\n');
    await host.run(logFileCommand('nobody', 'nogroup', log));
    expect(readFileSync(log, 'utf8')).toBe('earlier lines\n');
    expect(statSync(log).uid).toBe(NOBODY);
  });
});
