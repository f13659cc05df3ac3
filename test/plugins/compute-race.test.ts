// nova-compute's register and verify against a scripted Nova where the compute node record comes
// seconds after the service reports up (issue 15 §1): a mapping into cell1 at "service up" maps
// nothing, and os-hypervisors hides an unmapped node until a later mapping maps it.
// Also: what verify does before its test server (issue 15 §2), on the same scripted Nova.

import { FLAVORS } from '../../lib/flavors.ts';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as realDb from '../../lib/db.ts';
import type { Db } from '../../lib/db.ts';
import novaCompute from '../../plugins/nova-compute/index.ts';
import nova from '../../plugins/nova/index.ts';
import rabbitmq from '../../plugins/rabbitmq/index.ts';
import { isBack } from '../../plugins/nova/reports.ts';
import { explainingLines } from '../../lib/log-cause.ts';
import { configDigest } from '../../lib/restart.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { RUN_STARTED_MS } from '../../plugins/nova-compute/leftovers.ts';
import { StackError } from '../../lib/errors.ts';
import type { StackContext } from '../../lib/plugin.ts';
import { json } from '../fixtures/http-server.ts';
import { DEBIAN_SYSV, RecordingHost, makeContext } from '../fixtures/recording-host.ts';
import { ADMIN_PASSWORD, startFakeCloud, type FakeCloud } from '../openstack/fake-cloud.ts';

/** The compute host as Nova sees it: when its service is up, when its node record exists, whether cells v2 mapped it. */
interface ComputeScript {
  serviceUpAt: number;
  nodeAt: number;
  mapped: boolean;
  discoveries: number;
  /** What os-services says of nova-compute on h1 (its last heartbeat; up/down and enabled/disabled). */
  compute: { updated_at: string; state: 'up' | 'down'; status: 'enabled' | 'disabled' };
  /** nova-conductor's and nova-scheduler's rows, when a test wants them. */
  control: { binary: string; updated_at: string }[];
}

let cloud: FakeCloud;
let script: ComputeScript;

beforeAll(async () => {
  cloud = await startFakeCloud();
  cloud.srv.route('GET', '/compute/v2.1/os-services', (_req, res) =>
    json(res, 200, {
      services: [
        ...(Date.now() >= script.serviceUpAt ? [{ id: 's1', binary: 'nova-compute', host: 'h1', zone: 'nova', ...script.compute }] : []),
        ...script.control.map((c, i) => ({ id: `c${i}`, host: 'h1', zone: 'internal', status: 'enabled', state: 'up', ...c })),
      ],
    }),
  );
  // nova's register keeps the flavors it finds: all of them are there.
  cloud.srv.route('GET', '/compute/v2.1/flavors/detail', (_req, res) => json(res, 200, { flavors: FLAVORS.map((f, i) => ({ id: `f${i}`, ...f })) }));
  // Nova lists a compute node only once a cell maps its host.
  cloud.srv.route('GET', '/compute/v2.1/os-hypervisors/detail', (_req, res) =>
    json(res, 200, { hypervisors: script.mapped ? [{ id: 'hv-1', hypervisor_hostname: 'h1', state: 'up', status: 'enabled' }] : [] }),
  );
});
afterAll(async () => cloud?.close());
beforeEach(() => {
  const now = Date.now();
  // Measured on the failed first run: service up 16:46:13, node record 16:46:19.
  script = { serviceUpAt: now, nodeAt: now + 2500, mapped: false, discoveries: 0, compute: { updated_at: '2026-11-27T16:46:13.000000', state: 'up', status: 'enabled' }, control: [] };
});

vi.mock('../../lib/db.ts', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../lib/db.ts')>();
  return { ...orig, openDb: vi.fn(orig.openDb) };
});

/** The admin database as the compute node's record and its mapping stand in it. */
function novaDb(): Db {
  const none = async () => undefined;
  return {
    ensureDatabase: async () => 'exists',
    ensureUser: none,
    tableCount: async () => 3,
    tables: async () => [],
    dropDatabase: none,
    dropUser: none,
    close: none,
    query: async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
      if (/FROM nova_api\.cell_mappings WHERE name = 'cell1'/.test(sql)) return [{ id: 2 }] as T[];
      if (/FROM nova\.compute_nodes WHERE mapped = 0/.test(sql)) {
        script.discoveries++;
        // Only a node that has its record can be mapped.
        return (Date.now() >= script.nodeAt && !script.mapped ? [{ id: 1, host: 'h1' }] : []) as T[];
      }
      if (/^INSERT IGNORE INTO nova_api\.host_mappings/.test(sql)) expect(params).toEqual([2, 'h1']);
      if (/^UPDATE nova\.compute_nodes SET mapped = 1/.test(sql)) script.mapped = true;
      return [];
    },
  };
}
beforeEach(() => void vi.mocked(realDb.openDb).mockImplementation(async () => novaDb()));

function computeHost(): RecordingHost {
  return new RecordingHost({ facts: DEBIAN_SYSV }).reply(/run\/[\w-]+\.pid/, { stdout: 'running 4242\n' });
}

function contextOn(host: RecordingHost): StackContext {
  const base = makeContext(host, DEBIAN_SYSV, { ADMIN_PASSWORD, VIRT_DRIVER: 'fake', SERVICE_TIMEOUT: 20 });
  const url = { ...base.endpoints.url, identity: cloud.url, image: cloud.url, placement: `${cloud.url}/placement`, compute: `${cloud.url}/compute/v2.1`, metadata: `${cloud.url}/metadata` };
  return { ...base, endpoints: { ...base.endpoints, url } };
}

describe('a compute node that appears seconds after its service reports up', () => {
  it('register maps the host once its node exists: Nova lists the hypervisor when register returns', async () => {
    await novaCompute.register!(contextOn(computeHost()));
    expect(script.mapped).toBe(true);
    // The first look came before the node's record and was repeated.
    expect(script.discoveries).toBeGreaterThan(1);
  }, 30_000);

  it("verify's wait for the hypervisor discovers again (a host left unmapped by an earlier run)", async () => {
    script.nodeAt = Date.now();
    const ctx = contextOn(computeHost());
    // No Neutron: verify ends after the hypervisor and Placement checks.
    cloud.srv.route('GET', '/placement/resource_providers', (_req, res) => json(res, 200, { resource_providers: [{ uuid: 'rp-1', name: 'h1', generation: 1 }] }));
    cloud.srv.route('GET', '/placement/resource_providers/rp-1/inventories', (_req, res) => json(res, 200, { inventories: { VCPU: { total: 2 }, MEMORY_MB: { total: 2048 } }, resource_provider_generation: 1 }));
    await novaCompute.verify!({ ...ctx, config: { ...ctx.config, services: new Set([...ctx.config.services].filter((s) => s !== 'q-svc')) } });
    expect(script.mapped).toBe(true);
  }, 30_000);
});

describe('the lines shown when a wait runs out', () => {
  it("the window's warnings and errors come first, not only the last lines (a libvirt capabilities dump)", () => {
    const xml = Array.from({ length: 40 }, (_, i) => `  <cpu id='${i}'/>`);
    const log = [
      '2026-11-27 16:40:00.000 7 ERROR nova.compute.manager [-] an error of an earlier run',
      '2026-11-27 16:46:13.000 7 WARNING nova.compute.resource_tracker [-] No compute node record for host h1: ComputeHostNotFound',
      '2026-11-27 16:46:19.000 7 INFO nova.virt.libvirt.host [-] Libvirt host capabilities <capabilities>',
      ...xml,
    ].join('\n');
    const shown = explainingLines(log, new Date('2026-11-27T16:46:00Z'), 10);
    expect(shown).toContain('No compute node record for host h1');
    expect(shown).not.toContain('an error of an earlier run');
    expect(shown.indexOf('No compute node record')).toBeLessThan(shown.indexOf("<cpu id='39'/>"));
    expect(shown.split('\n').length).toBeLessThanOrEqual(10 + 10 + 2);
  });
});

describe('test servers an earlier run left behind', () => {
  it('verify deletes them before it boots its own, and says so; a server of this run is kept', async () => {
    script.nodeAt = Date.now();
    script.mapped = true;
    cloud.srv.route('GET', '/placement/resource_providers', (_req, res) => json(res, 200, { resource_providers: [{ uuid: 'rp-1', name: 'h1', generation: 1 }] }));
    cloud.srv.route('GET', '/placement/resource_providers/rp-1/inventories', (_req, res) => json(res, 200, { inventories: { VCPU: { total: 2 }, MEMORY_MB: { total: 2048 } }, resource_provider_generation: 1 }));
    const killed = { id: 'srv-killed', name: `stack-verify-${RUN_STARTED_MS - 3_600_000}`, status: 'ACTIVE' };
    const errored = { id: 'srv-error', name: `stack-verify-${RUN_STARTED_MS - 60_000}`, status: 'ERROR' };
    const ours = { id: 'srv-ours', name: `stack-verify-${RUN_STARTED_MS + 1}`, status: 'BUILD' };
    const user = { id: 'srv-user', name: 'my-stack-verify-1', status: 'ACTIVE' };
    cloud.nova.others.push(killed, errored, ours, user);
    const ctx = contextOn(computeHost());
    // Glance has no image here, so verify stops right after the cleanup, before creating a server.
    const err = await novaCompute.verify!(ctx).catch((e: unknown) => e as Error);
    expect(String(err)).toMatch(/No active image in Glance/);
    expect(cloud.nova.others.map((x) => x.id)).toEqual(['srv-ours', 'srv-user']);
    expect(cloud.writes()).toEqual(expect.arrayContaining(['DELETE /compute/v2.1/servers/srv-killed', 'DELETE /compute/v2.1/servers/srv-error']));
    const said = (ctx.log as unknown as { lines: string[] }).lines.join('\n');
    expect(said).toMatch(/removed 2 test server\(s\) an earlier run left behind.*stack-verify-\d+ \(srv-killed\).*stack-verify-\d+ \(srv-error\)/);
    cloud.nova.others.length = 0;
  }, 30_000);
});

/** The stamp of a daemon last started with these (absent) files and its own command line: a re-run finds nothing changed. */
function unchangedStamps(host: RecordingHost, specs: readonly DaemonSpec[], files: readonly string[]): void {
  for (const d of specs) host.files.set(`/var/lib/stack-ts/run/${d.name}.config-sha256`, `${configDigest(files.map((path) => ({ path, content: null })), d.argv)}\n`);
}

describe('a re-run waits until what it restarted is back before verify', () => {
  it('nova-compute restarted (libvirtd came back, or its config changed): register waits for a report from the new process, up and enabled', async () => {
    script.nodeAt = Date.now();
    script.mapped = true;
    // The old process's last heartbeat still reads "up" (service_down_time is 60 s), and
    // nova-compute disabled itself when libvirt went away.
    script.compute = { updated_at: '2026-11-27T16:46:13.000000', state: 'up', status: 'disabled' };
    const ctx = contextOn(computeHost());
    await novaCompute.start!(ctx);
    expect((ctx.log as unknown as { lines: string[] }).lines.join('\n')).toMatch(/restarting nova-compute/);
    // It enables itself on its first report, 1.5 s later; the old heartbeat would have passed at once.
    setTimeout(() => (script.compute = { updated_at: '2026-11-27T16:46:30.000000', state: 'up', status: 'enabled' }), 1500);
    const started = Date.now();
    await novaCompute.register!(ctx);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  }, 30_000);

  it('an up and enabled service with a new heartbeat after the restart is back at once; an old heartbeat while enabled is not', () => {
    const svc = { id: 's1', binary: 'nova-compute', host: 'h1', zone: 'nova', status: 'enabled', state: 'up', updated_at: 'T0' } as const;
    const restarted = new Map([['s1', 'T0']]);
    expect(isBack(svc, restarted)).toBe(false);
    expect(isBack({ ...svc, updated_at: 'T1' }, restarted)).toBe(true);
    expect(isBack({ ...svc, updated_at: 'T1', status: 'disabled' }, restarted)).toBe(false);
    expect(isBack(svc, undefined)).toBe(true);
  });

  it("RabbitMQ's password changed behind the services: register sets it back, and the running clients are restarted and waited for", async () => {
    script.nodeAt = Date.now();
    script.mapped = true;
    const host = computeHost()
      .reply(/rabbitmqctl add_user/, { exitCode: 70, stderr: 'Error:\nuser_already_exists: stackrabbit' })
      .reply(/rabbitmqctl authenticate_user/, { exitCode: 65, stderr: 'Error: failed to authenticate user "stackrabbit"' })
      .reply(/delete_user guest/, { exitCode: 70, stderr: 'Error:\nUser "guest" does not exist' });
    const ctx = contextOn(host);
    unchangedStamps(host, novaCompute.daemons!(ctx), ['/etc/nova/nova-compute.conf']);
    // Nothing changed in the files: without the password repair, nothing would restart.
    await novaCompute.start!(ctx);
    expect((ctx.log as unknown as { lines: string[] }).lines.join('\n')).not.toMatch(/restarting nova-compute/);

    await rabbitmq.register!(ctx);
    expect(host.commandLines).toContain('rabbitmqctl change_password stackrabbit');
    await novaCompute.start!(ctx);
    const said = (ctx.log as unknown as { lines: string[] }).lines.join('\n');
    expect(said).toMatch(/RabbitMQ did not accept stackrabbit with RABBIT_PASSWORD .*set back/);
    expect(said).toMatch(/restarting nova-compute: its RabbitMQ user's password was set back/);
    // Disconnected, it stopped reporting: "enabled/down" until the restarted process reports.
    script.compute = { updated_at: '2026-11-27T16:40:00.000000', state: 'down', status: 'enabled' };
    setTimeout(() => (script.compute = { updated_at: '2026-11-27T16:50:00.000000', state: 'up', status: 'enabled' }), 1500);
    const started = Date.now();
    await novaCompute.register!(ctx);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  }, 30_000);

  it('a running nova-compute that Nova lists as down (disconnected, the password set back by hand) is restarted and waited for', async () => {
    script.nodeAt = Date.now();
    script.mapped = true;
    script.compute = { updated_at: '2026-11-27T16:40:00.000000', state: 'down', status: 'enabled' };
    const host = computeHost();
    const ctx = contextOn(host);
    unchangedStamps(host, novaCompute.daemons!(ctx), ['/etc/nova/nova-compute.conf']);
    await novaCompute.start!(ctx);
    expect((ctx.log as unknown as { lines: string[] }).lines.join('\n')).toMatch(/restarting nova-compute: Nova lists it as down \(its last report: 2026-11-27T16:40:00\.000000\)/);
    setTimeout(() => (script.compute = { updated_at: '2026-11-27T16:50:00.000000', state: 'up', status: 'enabled' }), 1500);
    const started = Date.now();
    await novaCompute.register!(ctx);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  }, 30_000);

  it('a password RabbitMQ still accepts restarts nothing', async () => {
    const host = computeHost()
      .reply(/rabbitmqctl add_user/, { exitCode: 70, stderr: 'Error:\nuser_already_exists: stackrabbit' })
      .reply(/delete_user guest/, { exitCode: 70, stderr: 'Error:\nUser "guest" does not exist' });
    const ctx = contextOn(host);
    await rabbitmq.register!(ctx);
    expect(ctx.cloud.brokerRestartReason()).toBeUndefined();
  });

  it('nova-conductor and nova-scheduler restarted for the broker: nova register waits for their new reports', async () => {
    const host = computeHost()
      .reply(/rabbitmqctl add_user/, { exitCode: 70, stderr: 'Error:\nuser_already_exists: stackrabbit' })
      .reply(/rabbitmqctl authenticate_user/, { exitCode: 65, stderr: 'Error: failed to authenticate user "stackrabbit"' });
    const ctx = contextOn(host);
    unchangedStamps(host, nova.daemons!(ctx), ['/etc/nova/nova.conf', '/etc/nova/stack-db.cnf']);
    script.control = [
      { binary: 'nova-conductor', updated_at: 'T0' },
      { binary: 'nova-scheduler', updated_at: 'T0' },
    ];
    await rabbitmq.register!(ctx);
    await nova.start!(ctx);
    const said = (ctx.log as unknown as { lines: string[] }).lines.join('\n');
    for (const d of ['nova-conductor', 'nova-scheduler', 'nova-api', 'nova-api-metadata']) expect(said).toMatch(new RegExp(`restarting ${d}: its RabbitMQ user's password was set back`));
    setTimeout(() => (script.control = [{ binary: 'nova-conductor', updated_at: 'T1' }, { binary: 'nova-scheduler', updated_at: 'T1' }]), 1500);
    const started = Date.now();
    await nova.register!(ctx);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  }, 30_000);
});

describe("the compute log shown with verify's failures", () => {
  it("nova-compute down: the window's warnings and errors come first, before a libvirt capabilities dump", async () => {
    script.compute = { updated_at: '2026-11-27T16:40:00.000000', state: 'down', status: 'enabled' };
    const now = new Date();
    const stamp = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');
    const log = [
      `${stamp(new Date(now.getTime() - 2 * 3_600_000))} 7 ERROR nova.compute.manager [-] an error of long ago`,
      `${stamp(new Date(now.getTime() - 60_000))} 7 ERROR oslo.messaging._drivers.impl_rabbit [-] Connection failed: ACCESS_REFUSED - Login was refused`,
      `${stamp(new Date(now.getTime() - 50_000))} 7 INFO nova.virt.libvirt.host [-] Libvirt host capabilities <capabilities>`,
      ...Array.from({ length: 60 }, (_, i) => `  <cpu id='${i}'/>`),
    ].join('\n');
    const host = computeHost().reply(/^tail -n 500 /, { stdout: `${log}\n` });
    const err = (await novaCompute.verify!(contextOn(host)).catch((e: unknown) => e)) as StackError;
    expect(err.message).toMatch(/nova-compute on h1 is enabled\/down in Nova/);
    const lines = err.logTail!.lines;
    expect(lines).toContain('ACCESS_REFUSED');
    expect(lines).not.toContain('an error of long ago');
    expect(lines.indexOf('ACCESS_REFUSED')).toBeLessThan(lines.indexOf("<cpu id='59'/>"));
  });
});
