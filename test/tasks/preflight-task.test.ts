// The preflight step asks the host, every plugin and the config files' rendering at once; what
// it reports stays as before: the host's and the plugins' findings first, all on one screen, and
// a config file that cannot be rendered only once the host is found ready.
import { describe, expect, it } from 'vitest';
import { preflightTask } from '../../lib/stack-tasks.ts';
import { StackError } from '../../lib/errors.ts';
import type { ServicePlugin } from '../../lib/plugin.ts';
import type { TaskHandle } from '../../lib/tasks.ts';
import { recordingCloud } from '../fixtures/cloud.ts';

const LAYOUT = `hosts:
  - name: aio
    address: root@10.0.0.12
    roles: [database, messaging, controller, compute]
`;

const plugin = (name: string, p: Partial<ServicePlugin>): ServicePlugin => ({ name, services: [name], needs: [], packages: () => [], ...p }) as unknown as ServicePlugin;
const t = {} as TaskHandle;

/** A host that is ready: root, memory and disk to spare, its name resolving, no port taken. */
function run(plugins: ServicePlugin[]) {
  const { ctxs } = recordingCloud(LAYOUT, { aio: '10.0.0.12' }, { VIRT_DRIVER: 'fake' }, (_n, h) => {
    h.files.set('/proc/meminfo', 'MemTotal: 16000000 kB\nMemAvailable: 15000000 kB\n');
    h.reply(/^id -u$/, { stdout: '0\n' })
      .reply(/df -Pm/, { stdout: '/dev/vda 100000 1000 99000 1% /\n' })
      .reply(/getent/, { stdout: 'aio\n10.0.0.12 aio\n' });
  });
  return preflightTask(ctxs[0]!, plugins).run!(t);
}

describe('the preflight step', () => {
  it('lists the plugins\' findings together, and not the config file that failed to render meanwhile', async () => {
    let rendered = false;
    const err = await run([
      plugin('a', { preflight: async () => { throw new StackError('A_PASSWORD cannot be used', 'set another'); } }),
      plugin('b', { preflight: async () => { throw new StackError('port 5000 is taken', 'stop it'); } }),
      plugin('c', { configFiles: async () => { rendered = true; throw new Error('cannot read /etc/c.conf'); } }),
    ]).then(() => new Error('no error'), (e: unknown) => e as Error);
    expect(err.message).toMatch(/aio is not ready; nothing was changed/);
    expect(err.message).toMatch(/A_PASSWORD cannot be used[\s\S]*port 5000 is taken/);
    expect(err.message).not.toMatch(/c\.conf/);
    expect(rendered).toBe(true); // it ran beside the checks
  });

  it('reports a config file that cannot be rendered once the host is ready', async () => {
    await expect(run([plugin('c', { configFiles: async () => { throw new Error('cannot read /etc/c.conf'); } })])).rejects.toThrow(/cannot read \/etc\/c\.conf/);
  });

  it('a plugin\'s crash (not a finding) is thrown as it is', async () => {
    await expect(run([plugin('a', { preflight: async () => { throw new TypeError('x is undefined'); } })])).rejects.toThrow(TypeError);
  });
});
