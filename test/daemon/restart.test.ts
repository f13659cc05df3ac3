// A running daemon is restarted when what it started with changed: its config files, and for a
// daemon of ours its command line (API_WORKERS is a uWSGI flag, not a file).
import { describe, expect, it } from 'vitest';
import { startOrRestart } from '../../lib/restart.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { DEBIAN_SYSV, RecordingHost, makeContext } from '../fixtures/recording-host.ts';

const spec = (processes: number): DaemonSpec => ({ name: 'keystone', argv: ['/usr/bin/uwsgi_python3', '--processes', String(processes)], logFile: '/var/log/keystone/keystone.out', user: 'keystone' });

describe('startOrRestart', () => {
  it('keeps a running daemon whose files and command line are unchanged, restarts one whose command line changed', async () => {
    const host = new RecordingHost({ facts: DEBIAN_SYSV, files: { '/etc/keystone/keystone.conf': '[DEFAULT]\n' } }).reply(/keystone\.pid|status/, { stdout: 'running 42\n' });
    const ctx = makeContext(host, DEBIAN_SYSV);
    const files = ['/etc/keystone/keystone.conf'];
    // First seen: no stamp, so it is restarted with what stack.ts knows, and the stamp written.
    const first = await startOrRestart(ctx, spec(1), files);
    expect(first.action).toBe('restarted');
    await first.markStarted();
    expect((await startOrRestart(ctx, spec(1), files)).action).toBe('running');
    expect((await startOrRestart(ctx, spec(2), files)).action).toBe('restarted');
    host.files.set('/etc/keystone/keystone.conf', '[DEFAULT]\ndebug = True\n');
    expect((await startOrRestart(ctx, spec(1), files)).action).toBe('restarted');
  });
});
