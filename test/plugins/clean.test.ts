// clean means clean: a stopped MariaDB is started to drop the databases, and whatever stays
// behind is named and fails the run instead of a "Cleaned".
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanTasks } from '../../lib/clean.ts';
import { removeOwnDirsCommand } from '../../lib/own-dirs.ts';
import { createLogger } from '../../lib/log.ts';
import type { ServicePlugin } from '../../lib/plugin.ts';
import { runTasks } from '../../lib/tasks.ts';
import { dropServiceDatabases } from '../../lib/db-admin.ts';
import { cleanService } from '../../lib/service/lifecycle.ts';
import { DEBIAN_SYSV, RecordingHost, makeContext } from '../fixtures/recording-host.ts';

const dir = mkdtempSync(join(tmpdir(), 'stackts-clean-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A host with MariaDB installed but stopped until `service mariadb start` runs. */
function stoppedMariadb(left: { databases?: string; accounts?: string[] } = {}) {
  let started = false;
  let accountQueries = 0;
  const host = new RecordingHost()
    .reply(/command -v mariadb/, { stdout: '/usr/bin/mariadb' })
    .reply(/mariadb (start|status)/, (c) => {
      if (/mariadb start/.test(c)) return (started = true), { stdout: 'started' };
      return started ? { stdout: 'running' } : { stdout: 'stopped' };
    })
    .reply(/^mariadb --batch --skip-column-names -e 'SELECT 1'$/, () => (started ? { stdout: '1' } : { exitCode: 1, stderr: "Can't connect to local server through socket" }))
    .reply(/^mariadb --batch --skip-column-names$/, (_c, _n) => ({ stdout: '' }));
  const original = host.run.bind(host);
  // Answer the SELECTs by what they ask (stdin), the way the server would.
  host.run = async (command, opts = {}) => {
    const input = opts.input ?? '';
    if (/FROM mysql\.user/.test(input)) {
      host.commands.push({ command, input, opts });
      const hosts = accountQueries++ === 0 ? ['localhost', '127.0.0.1'] : (left.accounts ?? []);
      return { command, exitCode: 0, stdout: hosts.join('\n'), stderr: '', durationMs: 1 };
    }
    if (/information_schema\.schemata/.test(input)) {
      host.commands.push({ command, input, opts });
      return { command, exitCode: 0, stdout: left.databases ?? '', stderr: '', durationMs: 1 };
    }
    return original(command, opts);
  };
  return host;
}

describe('clean: databases', () => {
  it('a stopped MariaDB is started before its databases and every account of the user are dropped', async () => {
    const host = stoppedMariadb();
    const ctx = makeContext(host, DEBIAN_SYSV);
    const left = await dropServiceDatabases(ctx, ['nova', 'nova_api'], 'nova');
    expect(left).toEqual([]);
    const startAt = host.commands.findIndex((c) => /mariadb start/.test(c.command));
    const dropAt = host.commands.findIndex((c) => /DROP DATABASE/.test(c.input ?? ''));
    expect(startAt).toBeGreaterThanOrEqual(0);
    expect(dropAt).toBeGreaterThan(startAt);
    const drop = host.commands[dropAt]!.input!;
    expect(drop).toContain('DROP DATABASE IF EXISTS `nova`;');
    expect(drop).toContain('DROP DATABASE IF EXISTS `nova_api`;');
    expect(drop).toContain("DROP USER IF EXISTS 'nova'@'localhost';");
    expect(drop).toContain("DROP USER IF EXISTS 'nova'@'127.0.0.1';");
  });

  it('what is still there after the drop is returned by name', async () => {
    const host = stoppedMariadb({ databases: 'glance', accounts: ['10.0.0.5'] });
    const left = await dropServiceDatabases(makeContext(host, DEBIAN_SYSV), ['glance'], 'glance');
    expect(left).toEqual(['database glance', 'database user glance@10.0.0.5']);
  });

  it('no MariaDB installed: nothing to drop, nothing started', async () => {
    const host = new RecordingHost().reply(/command -v mariadb/, { exitCode: 1 });
    expect(await dropServiceDatabases(makeContext(host, DEBIAN_SYSV), ['glance'], 'glance')).toEqual([]);
    expect(host.commandLines.some((c) => /start/.test(c))).toBe(false);
  });
});

describe('clean: the run', () => {
  const plugin = (name: string, clean: ServicePlugin['clean'], daemons?: ServicePlugin['daemons']): ServicePlugin => ({
    name,
    services: [],
    needs: [],
    packages: async () => [],
    clean,
    ...(daemons ? { daemons } : {}),
  });

  it('one plugin failing does not stop the others; everything left is named and the run fails', async () => {
    const host = new RecordingHost()
      // The daemon's status: still running.
      .reply(/status/, { stdout: 'running' });
    const ctx = makeContext(host, DEBIAN_SYSV);
    const outputs = join(dir, 'out1');
    writeFileSync(join(dir, 'x'), '');
    const ran: string[] = [];
    const plugins = [
      plugin('first', async () => void ran.push('first')),
      plugin('broken', async () => {
        throw new Error('rabbitmqctl: node down\nmore');
      }),
      plugin('last', async () => void ran.push('last'), () => [{ name: 'memcached', unit: 'memcached' }]),
    ];
    const out: string[] = [];
    const log = createLogger({ debug: false, out: (l) => out.push(l) });
    const r = await runTasks(cleanTasks(ctx, plugins, { purge: false, outputsDir: outputs }), { renderer: 'plain', log, defaultTimeoutMs: 10_000 });
    expect(ran).toEqual(['last', 'first']);
    expect(r.ok).toBe(false);
    expect(r.message).toContain('clean could not remove everything on h1');
    expect(r.message).toContain('broken: rabbitmqctl: node down');
    expect(r.message).toContain('process memcached still runs');
  });

  it('nothing left: the run succeeds and the outputs beside the config are gone', async () => {
    const host = new RecordingHost().reply(/status/, { stdout: 'stopped' });
    const ctx = makeContext(host, DEBIAN_SYSV);
    const outputs = join(dir, 'out2');
    rmSync(outputs, { recursive: true, force: true });
    mkdirSync(outputs);
    writeFileSync(join(outputs, 'openrc-admin'), 'export OS_PASSWORD=x');
    const log = createLogger({ debug: false, out: () => undefined });
    const r = await runTasks(cleanTasks(ctx, [plugin('a', async () => undefined, () => [{ name: 'memcached', unit: 'memcached' }])], { purge: false, outputsDir: outputs }), {
      renderer: 'plain',
      log,
      defaultTimeoutMs: 10_000,
    });
    expect(r.ok, r.message).toBe(true);
    expect(existsSync(join(outputs, 'openrc-admin'))).toBe(false);
    expect(host.commandLines).toContain(removeOwnDirsCommand(['/var/lib/stack-ts', '/var/log/stack-ts']));
  });

  it('a state or log directory stack.ts did not make is named, not removed, and the run fails', async () => {
    const host = new RecordingHost().reply(/status/, { stdout: 'stopped' }).reply(/made-by-stack-ts/, { stdout: '/var/lib/stack-ts\n' });
    const ctx = makeContext(host, DEBIAN_SYSV);
    const log = createLogger({ debug: false, out: () => undefined });
    const r = await runTasks(cleanTasks(ctx, [plugin('a', async () => undefined)], { purge: false, outputsDir: join(dir, 'out3') }), { renderer: 'plain', log, defaultTimeoutMs: 10_000 });
    expect(r.ok).toBe(false);
    expect(r.message).toContain('/var/lib/stack-ts on h1: not removed, stack.ts did not make it (no .made-by-stack-ts in it)');
    expect(host.commandLines.some((c) => /rm -rf -- \/var\/lib\/stack-ts( |$)/m.test(c) && !c.includes('made-by-stack-ts'))).toBe(false);
  });
});

describe('clean: databases of a service on another host than MariaDB', () => {
  it("are dropped on the database host, and nothing is started or dropped on the service's own host", async () => {
    const dbHost = stoppedMariadb();
    // The controller has the mariadb client (python3-pymysql pulls no server, but a host may have one for its own use).
    const ctlHost = new RecordingHost({ name: 'controller' }).reply(/command -v mariadb/, { stdout: '/usr/bin/mariadb' }).reply(/SELECT 1/, { exitCode: 1 });
    const db = makeContext(dbHost, DEBIAN_SYSV);
    const ctl = { ...makeContext(ctlHost, DEBIAN_SYSV), on: (s: string) => (s === 'mysql' ? db : ctl) } as ReturnType<typeof makeContext>;
    await cleanService(ctl, { databases: ['keystone'], dbUser: 'keystone' });
    expect(dbHost.commands.some((c) => /DROP DATABASE IF EXISTS `keystone`;/.test(c.input ?? ''))).toBe(true);
    expect(ctlHost.commandLines.filter((c) => /mariadb|mysql/.test(c))).toEqual([]);
    expect(ctl.cloud.leftBehind).toEqual([]);
  });
});
