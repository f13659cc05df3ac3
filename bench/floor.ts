// npm run bench, its package-floor part: on a fresh test host, only the package transaction the
// all-in-one runs (the same packages, through the same code: apt-get update while the lists are
// stale, the policy-rc.d that keeps postinsts from starting daemons, one apt-get install), and
// nothing else. No installer of these packages can be faster: the all-in-one's total over this
// is what configuring, migrating, starting and verifying add.

import { join } from 'node:path';
import { startTestHosts, type Suite } from '../test/hosts/index.ts';
import { loadConfig } from '../lib/config/index.ts';
import { createLogger } from '../lib/log.ts';
import { openHost } from '../lib/host/index.ts';
import { detectFacts } from '../lib/host/detect.ts';
import { installPackages } from '../lib/packages.ts';
import { orderPlugins } from '../lib/plan.ts';
import type { StackContext } from '../lib/plugin.ts';
import type { HostFacts } from '../lib/host/types.ts';
import type { Config } from '../lib/config/types.ts';
import { PLUGINS } from '../plugins/index.ts';
import { benchLocalrc, benchWork } from './stack-run.ts';
import type { Measured } from './summary.ts';
import { writeFileSync } from 'node:fs';

/** The all-in-one's package set: every enabled plugin's packages(), as the install task asks for them. */
export async function allInOnePackages(config: Config, facts: HostFacts): Promise<string[]> {
  // packages() reads only the settings and the host's facts; a whole StackContext needs a stacked host.
  const ctx = { config, facts } as Pick<StackContext, 'config' | 'facts'> as StackContext;
  return [...new Set((await Promise.all(orderPlugins(config, PLUGINS).map((p) => p.packages(ctx)))).flat())];
}

/** Installs the all-in-one's packages on a fresh test host; undefined when apt failed. */
export async function benchFloor(suite: Suite): Promise<(Measured & { packages: number }) | undefined> {
  const hosts = await startTestHosts({ count: 1, prefix: 'stbf', suite, log: (l) => console.error(`[hosts] ${l}`) });
  const work = await benchWork('floor');
  const log = createLogger({ debug: false, out: () => {} });
  const h = hosts.hosts[0]!;
  const host = openHost(h.target, { sshKey: h.keyPath, connectTimeoutS: 15, log, commandTimeoutMs: 3_600_000, knownHosts: { file: hosts.knownHostsPath, acceptNew: false } });
  try {
    const localrc = join(work.dir, 'localrc');
    writeFileSync(localrc, benchLocalrc(hosts, work, h));
    const { config } = await loadConfig(localrc, { interactive: false, readOnly: true, env: {} });
    const facts = await detectFacts(host);
    const pkgs = await allInOnePackages(config, facts);
    const started = Date.now();
    await installPackages(host, facts, pkgs, { recommends: config.settings.INSTALL_RECOMMENDS, unsafeIo: config.settings.APT_UNSAFE_IO, offline: false });
    const wallMs = Date.now() - started;
    console.log('== package floor ==');
    console.log(`apt-get update + install of ${pkgs.length} packages on a fresh host: ${(wallMs / 1000).toFixed(1)} s`);
    return { wallMs, packages: pkgs.length };
  } catch (e) {
    console.log(`bench: the package floor failed: ${(e as Error).message}`);
    process.exitCode = 1;
    return undefined;
  } finally {
    await host.close().catch(() => undefined);
    await log.close();
    await hosts.stop();
    work.remove();
  }
}
