// The package step of a run: on a re-run with every package in place it installs nothing and
// keeps the release read when the host was opened (no second probe on the run's path); when it
// installed something, the release is read again from what was installed.
import { describe, expect, it } from 'vitest';
import { installTask } from '../../lib/stack-tasks.ts';
import { orderPlugins } from '../../lib/plan.ts';
import type { TaskHandle } from '../../lib/tasks.ts';
import { PLUGINS } from '../../plugins/index.ts';
import { recordingCloud } from '../fixtures/cloud.ts';
import type { RecordingHost } from '../fixtures/recording-host.ts';

const LAYOUT = `hosts:
  - name: aio
    address: root@10.0.0.12
    roles: [database, messaging, controller, compute]
`;

const MISSING = /dpkg-query -W -f='\$\{db:Status-Abbrev\}' "\$p"/;
const RELEASE = /echo '@@stackts:installed'/;

function oneHost(missing: string) {
  let host!: RecordingHost;
  const { config, ctxs } = recordingCloud(LAYOUT, { aio: '10.0.0.12' }, { VIRT_DRIVER: 'fake' }, (_n, h) => {
    host = h
      .reply(MISSING, { stdout: missing })
      .reply(RELEASE, { stdout: '@@stackts:installed\n2:27.0.0-1\n@@stackts:candidate\n2:27.0.0-1\n@@stackts:registry' });
  });
  const ctx = ctxs[0]!;
  const task = installTask(ctx, orderPlugins(config, PLUGINS));
  const t = { output: () => undefined, progressed: () => undefined } as unknown as TaskHandle;
  return { ctx, host, run: () => task.run!(t) };
}

describe('the package step', () => {
  it('with every package installed: makes its directories, installs nothing and keeps the release it was opened with', async () => {
    const { ctx, host, run } = oneHost('');
    const before = ctx.release;
    await run();
    const labels = host.commands.map((c) => c.opts.label ?? c.command);
    expect(labels).toContain('state and log directories');
    expect(host.commands.some((c) => MISSING.test(c.command))).toBe(true);
    expect(host.commands.some((c) => /apt-get .*install/.test(c.command))).toBe(false);
    expect(host.commands.some((c) => RELEASE.test(c.command))).toBe(false);
    expect(ctx.release).toBe(before);
  });

  it('with a package missing: installs it and reads the release from what is now installed', async () => {
    const { ctx, host, run } = oneHost('keystone\n');
    expect(ctx.release.name).toBe('zed');
    await run();
    expect(host.commands.some((c) => /apt-get .*install.* keystone/.test(c.command))).toBe(true);
    const install = host.commands.findIndex((c) => /apt-get .*install.* keystone/.test(c.command));
    const probe = host.commands.findIndex((c) => RELEASE.test(c.command));
    expect(probe).toBeGreaterThan(install);
    expect(ctx.release.name).toBe('epoxy');
  });
});
