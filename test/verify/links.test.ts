// Verify's diagnosis: the first broken link is named (service, host, link) with the lines of the
// service's own log from the failure's window, on a fake host and a fake Keystone.

import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkNamingTheLink, findBrokenLink, windowLines, windowStart } from '../../lib/links.ts';
import { verifyTasks, type MutableContext } from '../../lib/stack-tasks.ts';
import type { LinkCheck, ServicePlugin, StackContext } from '../../lib/plugin.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { StackError } from '../../lib/errors.ts';
import { adminSession, loginProven, registerService, serviceLinks } from '../../lib/service/lifecycle.ts';
import type { BrokerAnswer } from '../../plugins/rabbitmq/amqp.ts';
import keystone from '../../plugins/keystone/index.ts';
import rabbitmq, { ENV_FILE } from '../../plugins/rabbitmq/index.ts';
import { configStampPath } from '../../lib/restart.ts';
import { createHash } from 'node:crypto';
import { DEBIAN_SYSV, RecordingHost, makeContext } from '../fixtures/recording-host.ts';
import { ADMIN_PASSWORD, startFakeCloud, type FakeCloud } from '../openstack/fake-cloud.ts';

// RabbitMQ's AMQP logins, answered from a script; unscripted, nothing answers.
const amqp = vi.hoisted(() => ({ answers: [] as BrokerAnswer[] }));
vi.mock('../../plugins/rabbitmq/amqp.ts', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  probeLogin: async (): Promise<BrokerAnswer> => amqp.answers.shift() ?? { kind: 'unreachable', detail: 'connect ECONNREFUSED' },
}));
beforeEach(() => void (amqp.answers.length = 0));

const WINDOW = new Date('2026-11-27T14:00:00Z');
const LOG = [
  '2026-11-27 13:10:00.000 99 ERROR glance.api [-] an old failure that explains nothing now',
  '2026-11-27 14:00:05.000 99 INFO glance.common.wsgi [-] Caught SIGTERM, stopping children',
  '2026-11-27 14:00:06.000 99 INFO glance.common.wsgi [-] Waiting on 2 children to exit',
].join('\n');

const plugin = (name: string, daemons: DaemonSpec[], links: LinkCheck[] = []): ServicePlugin => ({
  name,
  services: [],
  needs: [],
  packages: async () => [],
  daemons: () => daemons,
  links: async () => links,
});

const spec = (name: string, log: string): DaemonSpec => ({ name, argv: [`/usr/bin/${name}`], logFile: `/var/log/${name}.out`, ownLog: log, link: `clients -> ${name} (its API)` });

/** A host where the named daemons run and the rest are stopped; the log files hold `LOG`. */
function host(running: readonly string[]): RecordingHost {
  return new RecordingHost({ facts: DEBIAN_SYSV })
    .reply(/run\/[\w-]+\.pid/, (cmd) => ({ stdout: running.some((d) => cmd.includes(`/${d}.pid`)) ? 'running 4242\n' : 'stopped\n' }))
    .reply(/^tail -n 500 /, { stdout: `${LOG}\n` });
}

const link = (service: string, result: string | undefined | Error, seen: string[] = []): LinkCheck => ({
  service,
  link: `${service} -> something`,
  log: `/var/log/${service}.log`,
  hint: `repair ${service}`,
  check: async () => {
    seen.push(service);
    if (result instanceof Error) throw result;
    return result;
  },
});

describe('findBrokenLink', () => {
  it('names a stopped daemon (service, host, link) with its log lines of the window only, before any link check', async () => {
    const seen: string[] = [];
    const ctx = makeContext(host(['mariadb-ish']), DEBIAN_SYSV);
    const plugins = [
      plugin('db', [spec('mariadb-ish', '/var/log/db.log')], [link('db', 'refuses logins', seen)]),
      plugin('glance', [spec('glance-api', '/var/log/glance/glance-api.log')]),
    ];
    const err = await findBrokenLink(ctx, plugins, WINDOW);
    expect(err).toBeInstanceOf(StackError);
    expect(err!.message).toMatch(/^glance-api on h1 is not running/);
    expect(err!.message).toContain('Broken link: clients -> glance-api (its API)');
    expect(err!.logTail?.file).toBe('/var/log/glance/glance-api.log');
    expect(err!.logTail?.lines).toContain('Caught SIGTERM');
    expect(err!.logTail?.lines).not.toContain('an old failure');
    // A dead daemon explains what fails after it: no link was checked.
    expect(seen).toEqual([]);
  });

  it("a stopped daemon whose own log says nothing of the window: its output file's lines instead", async () => {
    const h = host([])
      .reply(/^tail -n 500 \/var\/log\/glance\/glance-api\.log/, { stdout: '2026-11-27 13:10:00.000 99 INFO glance [-] long ago\n' })
      .reply(/^tail -n 500 \/var\/log\/glance-api\.out/, { stdout: '2026-11-27 14:00:07.000 99 CRITICAL glance [-] Unhandled error: out of memory\n' });
    const err = await findBrokenLink(makeContext(h, DEBIAN_SYSV), [plugin('glance', [spec('glance-api', '/var/log/glance/glance-api.log')])], WINDOW);
    expect(err!.logTail).toEqual({ file: '/var/log/glance-api.out', lines: '2026-11-27 14:00:07.000 99 CRITICAL glance [-] Unhandled error: out of memory' });
  });

  it('checks every link at once and names the first that fails in plugin order, even when a later one fails sooner', async () => {
    const started: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const ctx = makeContext(host(['a', 'b']), DEBIAN_SYSV);
    const timed = (service: string, result: string | undefined, wait?: Promise<void>): LinkCheck => ({
      ...link(service, result),
      check: async () => {
        started.push(service);
        await wait;
        return result;
      },
    });
    const plugins = [
      plugin('mariadb', [spec('a', '/l')], [timed('MariaDB', undefined)]),
      plugin('glance', [spec('b', '/l')], [timed('glance', 'cannot log in to Keystone', slow), timed('glance-db', 'has an empty database')]),
      plugin('nova', [], [timed('nova', 'x')]),
    ];
    const found = findBrokenLink(ctx, plugins, WINDOW);
    // Every check has started while the first broken one is still out: they run at once.
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toEqual(['MariaDB', 'glance', 'glance-db', 'nova']);
    release();
    const err = await found;
    expect(err!.message).toMatch(/^glance on h1 cannot log in to Keystone\.\n {2}Broken link: glance -> something/);
    expect(err!.hint).toBe('repair glance');
  });

  it('a check that cannot run is a broken link too, named with its error', async () => {
    const ctx = makeContext(host([]), DEBIAN_SYSV);
    const err = await findBrokenLink(ctx, [plugin('keystone', [], [link('keystone', new Error('connect ECONNREFUSED 10.0.0.1:5000\nstack'))])], WINDOW);
    expect(err!.message).toMatch(/^keystone on h1 cannot be checked: connect ECONNREFUSED 10\.0\.0\.1:5000\./);
  });

  it('a link nothing answers, while its daemon was still seen running: the daemon found gone a moment later is named', async () => {
    // uWSGI's master closes its socket, then waits for its workers: its pid outlives the port.
    let statusReads = 0;
    const h = new RecordingHost({ facts: DEBIAN_SYSV })
      .reply(/run\/[\w-]+\.pid/, () => ({ stdout: ++statusReads <= 2 ? 'running 4242\n' : 'stopped\n' }))
      .reply(/^tail -n 500 /, { stdout: `${LOG}\n` });
    const refused = new Error('POST http://10.0.0.1:5000/v3/auth/tokens -> nothing answers at 10.0.0.1:5000 (connection refused) - is keystone running?');
    const err = await findBrokenLink(makeContext(h, DEBIAN_SYSV), [plugin('keystone', [spec('keystone', '/var/log/keystone/keystone.log')], [link('keystone', refused)])], WINDOW);
    expect(err!.message).toMatch(/^keystone on h1 is not running/);
    expect(statusReads).toBe(3);
  });

  it('a link that fails otherwise, its daemon running: named at once, without waiting for the daemon', async () => {
    let statusReads = 0;
    const h = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/run\/[\w-]+\.pid/, () => (++statusReads, { stdout: 'running 4242\n' })).reply(/^tail -n 500 /, { stdout: '' });
    const err = await findBrokenLink(makeContext(h, DEBIAN_SYSV), [plugin('keystone', [spec('keystone', '/l')], [link('keystone', 'refuses the admin login (HTTP 401)')])], WINDOW);
    expect(err!.message).toMatch(/^keystone on h1 refuses the admin login/);
    expect(statusReads).toBe(2);
  });

  it('every daemon up and every link holding: nothing to report', async () => {
    const ctx = makeContext(host(['a']), DEBIAN_SYSV);
    expect(await findBrokenLink(ctx, [plugin('p', [spec('a', '/l')], [link('p', undefined)])], WINDOW)).toBeUndefined();
  });

  it('a cause the log names is quoted with its matching hint', async () => {
    const h = host([]).reply(/^tail -n 500 /, { stdout: '2026-11-27 14:00:01.000 1 ERROR oslo.messaging [-] AMQP server on 10.0.0.1:5672 is unreachable: [Errno 111] ECONNREFUSED\n' });
    const err = await findBrokenLink(makeContext(h, DEBIAN_SYSV), [plugin('nova', [], [link('nova', 'cannot reach the conductor')])], WINDOW);
    expect(err!.message).toContain('Its log says: 2026-11-27 14:00:01.000 1 ERROR oslo.messaging [-] AMQP server on 10.0.0.1:5672 is unreachable');
    expect(err!.hint).toMatch(/^RabbitMQ does not accept connections on 5672/);
  });
});

describe('a functional check of verify that fails', () => {
  const glance = () => [plugin('glance', [spec('glance-api', '/var/log/glance/glance-api.log')])];
  /** glance-api runs when the links step looks, and has stopped by the time the check after it fails. */
  function stoppingHost(): RecordingHost {
    let asked = 0;
    return new RecordingHost({ facts: DEBIAN_SYSV })
      .reply(/run\/[\w-]+\.pid/, () => ({ stdout: asked++ === 0 ? 'running 4242\n' : 'stopped\n' }))
      .reply(/^tail -n 500 /, { stdout: `${LOG}\n` });
  }

  it('is reported as the broken link that showed up meanwhile (a daemon that was still shutting down), not as the symptom', async () => {
    const ctx = makeContext(stoppingHost(), DEBIAN_SYSV);
    expect(await findBrokenLink(ctx, glance(), WINDOW)).toBeUndefined();
    const err = (await checkNamingTheLink(ctx, glance(), async () => {
      throw new StackError('glance-api exited: Connection refused', 'its log says why');
    }).catch((e: unknown) => e)) as StackError;
    expect(err.message).toMatch(/^glance-api on h1 is not running/);
    expect(err.message).toContain('Broken link: clients -> glance-api (its API)');
  });

  it("is wired into verify: a plugin's check that fails after the links step passed names the link", async () => {
    const ctx = makeContext(stoppingHost(), DEBIAN_SYSV) as unknown as MutableContext;
    const plugins = [{ ...glance()[0]!, verify: async () => Promise.reject(new StackError('HTTP 503 from glance', 'retry')) }];
    const [links, check] = verifyTasks(ctx, plugins).children!;
    await links!.run!(undefined as never);
    await expect(check!.run!(undefined as never)).rejects.toThrow(/^glance-api on h1 is not running[^]*Broken link: clients -> glance-api/);
  });

  it('keeps its own error when every link still holds', async () => {
    const ctx = makeContext(host(['glance-api']), DEBIAN_SYSV);
    const own = new StackError('no server booted', 'see the console');
    await expect(checkNamingTheLink(ctx, glance(), async () => Promise.reject(own))).rejects.toBe(own);
  });

  it('passes when the check passes, without looking at the links again', async () => {
    const h = host([]);
    await checkNamingTheLink(makeContext(h, DEBIAN_SYSV), glance(), async () => undefined);
    expect(h.commands.filter((c) => /\.pid/.test(c.command))).toEqual([]);
  });
});

describe('the log window', () => {
  it('starts a second before this host last passed verify, or an hour back without a record', async () => {
    const now = new Date('2026-11-27T15:00:00Z');
    const passed = new RecordingHost().reply(/^stat -c %Y /, { stdout: `${Date.parse('2026-11-27T14:30:00Z') / 1000}\n` });
    expect((await windowStart(makeContext(passed, DEBIAN_SYSV), now)).toISOString()).toBe('2026-11-27T14:29:59.000Z');
    const never = new RecordingHost().reply(/^stat -c %Y /, { exitCode: 1 });
    expect((await windowStart(makeContext(never, DEBIAN_SYSV), now)).toISOString()).toBe('2026-11-27T14:00:00.000Z');
    const longAgo = new RecordingHost().reply(/^stat -c %Y /, { stdout: `${Date.parse('2026-11-20T00:00:00Z') / 1000}\n` });
    expect((await windowStart(makeContext(longAgo, DEBIAN_SYSV), now)).toISOString()).toBe('2026-11-27T14:00:00.000Z');
  });

  it('a * in the log path reads the newest matching file (RabbitMQ names its log after the node)', async () => {
    const h = host([]);
    await windowLines(makeContext(h, DEBIAN_SYSV), '/var/log/rabbitmq/rabbit@*.log', WINDOW);
    expect(h.commandLines.at(-1)).toBe(`tail -n 500 "$(ls -t /var/log/rabbitmq/rabbit@*.log 2>/dev/null | head -n 1)" 2>/dev/null`);
  });
});

describe('RabbitMQ: a node whose broker was stopped inside it', () => {
  const refused = { exitCode: 1, stderr: 'bash: connect: Connection refused\n' };
  it('is a broken link of RabbitMQ, not of the services behind it', async () => {
    const h = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/\/dev\/tcp\/.*\/5672/, refused);
    const ctx = makeContext(h, DEBIAN_SYSV);
    const [check] = await rabbitmq.links!(ctx);
    expect(check!.service).toBe('RabbitMQ');
    expect(check!.link).toMatch(/^nova and neutron -> RabbitMQ \(AMQP at .*:5672\)$/);
    expect(await check!.check()).toMatch(/broker inside it is stopped/);
    h.reply(/\/dev\/tcp\/.*\/5672/, { exitCode: 0 });
    expect(await check!.check()).toBeUndefined();
  });

  it("a broker user whose password was changed behind the services: RabbitMQ and the link are named, and the password is not shown", async () => {
    const h = new RecordingHost({ facts: DEBIAN_SYSV });
    const ctx = makeContext(h, DEBIAN_SYSV);
    const [, login] = await rabbitmq.links!(ctx);
    expect(login!.link).toMatch(/^nova and neutron -> RabbitMQ \(AMQP at .*:5672, as stackrabbit\)$/);
    amqp.answers.push({ kind: 'refused', detail: 'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN."' });
    expect(await login!.check()).toBe('refuses the login of stackrabbit with RABBIT_PASSWORD: Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN."');
    expect(login!.hint).toMatch(/sets it back to RABBIT_PASSWORD and restarts the services that lost their connection/);
    expect(h.visibleText).not.toContain(String(ctx.config.settings.RABBIT_PASSWORD));
    amqp.answers.push({ kind: 'ok' });
    expect(await login!.check()).toBeUndefined();
  });

  it('a re-run starts the broker (start_app) instead of the service, which would fail on a running node', async () => {
    const h = new RecordingHost({ facts: DEBIAN_SYSV })
      .reply(/status|is-active|rabbitmq\/pid/, { stdout: 'running\n' })
      .reply(/\/dev\/tcp\/.*\/5672/, refused);
    const ctx = makeContext(h, DEBIAN_SYSV);
    // It runs with the config it was started with: nothing to restart.
    h.files.set(configStampPath(ctx.config.settings.STACK_STATE_DIR, { name: 'rabbitmq-server' }), `${createHash('sha256').update(`${ENV_FILE}\0\0`).digest('hex')}\n`);
    // No AMQP answer until the broker is started inside the node; then a login.
    amqp.answers.push({ kind: 'unreachable', detail: 'connect ECONNREFUSED' }, { kind: 'ok' });
    await rabbitmq.start!(ctx);
    const lines = h.commandLines;
    expect(lines.some((l) => /rabbitmqctl -q start_app/.test(l))).toBe(true);
    expect(lines.some((l) => /service rabbitmq-server start|init\.d\/rabbitmq-server start/.test(l))).toBe(false);
  });
});

describe('on a fake Keystone', () => {
  let cloud: FakeCloud;
  let ctx: StackContext;
  beforeAll(async () => {
    cloud = await startFakeCloud();
    cloud.tables.users!.push({ id: 'u-glance', name: 'glance', domain_id: 'default' });
    cloud.passwords.set('u-glance', 'glance-pw');
    const base = makeContext(new RecordingHost({ facts: DEBIAN_SYSV }), DEBIAN_SYSV, { ADMIN_PASSWORD });
    const url = { ...base.endpoints.url, identity: cloud.url, image: cloud.url, placement: `${cloud.url}/placement`, compute: `${cloud.url}/compute/v2.1` };
    ctx = { ...base, endpoints: { ...base.endpoints, url } };
  });
  afterAll(async () => cloud?.close());

  it("a service user whose password Keystone no longer takes: the service and its Keystone link are named", async () => {
    const [ok] = serviceLinks(ctx, { name: 'glance', user: 'glance', password: 'glance-pw', type: 'image', databases: [], log: '/var/log/glance/glance-api.log', probe: 'v2/images' });
    expect(await ok!.check()).toBeUndefined();
    cloud.passwords.set('u-glance', 'changed behind our back');
    const err = await findBrokenLink(ctx, [plugin('glance', [], [ok!])], WINDOW);
    expect(err!.message).toMatch(/^glance on h1 cannot log in to Keystone: Keystone rejects user glance's password \(HTTP 401\)\./);
    expect(err!.message).toContain('Broken link: glance -> Keystone (its service user glance');
    expect(err!.hint).toMatch(/\.\/stack\.ts sets it back/);
  });

  it('an endpoint on another host than the address table says: its service is named', async () => {
    const links = await keystone.links!(ctx);
    // Keystone gives the admin a token, and the catalog matches the table as registered.
    for (const l of links) expect(await l.check(), l.link).toBeUndefined();
    cloud.tables.endpoints!.find((e) => e.id === 'e-gl')!.url = 'http://10.99.99.99:9292';
    ctx.cloud.adminSession = undefined;
    const err = await findBrokenLink(ctx, [plugin('keystone', [], [...(await keystone.links!(ctx))])], WINDOW);
    expect(err!.message).toMatch(/^glance on h1 has its public endpoint at http:\/\/10\.99\.99\.99:9292 in the catalog, but the address table puts image on 127\.0\.0\.1:\d+/);
    expect(err!.message).toContain("Broken link: clients and services -> glance (its image endpoints in Keystone's catalog)");
  });

  it('plugins that ask for the admin token at once share one login; a register that changed nothing in the catalog keeps the token', async () => {
    const adminLogins = () =>
      cloud.srv.requests.filter((r) => r.method === 'POST' && r.url === '/v3/auth/tokens' && JSON.parse(r.body).auth.identity.password.user.name === 'admin').length;
    ctx.cloud.adminSession = undefined;
    const before = adminLogins();
    const sessions = await Promise.all([adminSession(ctx), adminSession(ctx), adminSession(ctx)]);
    expect(adminLogins() - before).toBe(1);
    expect(new Set(sessions.map((x) => x.token)).size).toBe(1);
    // Placement as the catalog already has it, on all three interfaces: the token still lists it right.
    const url = `${cloud.url}/placement`;
    await registerService(ctx, { user: 'placement', password: 'placement-pw', name: 'placement', type: 'placement', description: 'Placement API', url });
    ctx.cloud.adminSession = undefined;
    await registerService(ctx, { user: 'placement', password: 'placement-pw', name: 'placement', type: 'placement', description: 'Placement API', url });
    expect(ctx.cloud.adminSession).toBeDefined();
    // Its endpoints moved: the next caller needs a token whose catalog says so.
    await registerService(ctx, { user: 'placement', password: 'placement-pw', name: 'placement', type: 'placement', description: 'Placement API', url: `${cloud.url}/placement-moved` });
    expect(ctx.cloud.adminSession).toBeUndefined();
  });

  it("the service user's link asks Keystone only for a password this run's register did not see Keystone take", async () => {
    const logins = (name: string) => cloud.srv.requests.filter((r) => r.method === 'POST' && r.url === '/v3/auth/tokens' && JSON.parse(r.body).auth.identity.password.user.name === name).length;
    const svc = { user: 'cinder', password: 'cinder-pw', name: 'cinder', type: 'volumev3', description: 'Block Storage', url: `${cloud.url}/volume` };
    const fresh = { ...ctx, cloud: new (ctx.cloud.constructor as new () => typeof ctx.cloud)() };
    const [link] = serviceLinks(fresh, { name: 'cinder', user: 'cinder', password: 'cinder-pw', type: 'volumev3', databases: [], log: '/var/log/cinder/cinder-api.log', probe: '' });
    // First register: it creates the user, so nothing was proven; the link logs in.
    await registerService(fresh, svc);
    let before = logins('cinder');
    expect(await link!.check()).toBeUndefined();
    expect(logins('cinder') - before).toBe(1);
    // A re-run's register: Keystone takes the password as it stands; the link needs no login of its own.
    await registerService(fresh, svc);
    before = logins('cinder');
    expect(await link!.check()).toBeUndefined();
    expect(logins('cinder') - before).toBe(0);
    // Another run (verify alone, say) has seen nothing: its link asks, and a changed password is named.
    const cinderId = cloud.tables.users!.find((u) => u.name === 'cinder')!.id as string;
    cloud.passwords.set(cinderId, 'changed behind our back');
    const [again] = serviceLinks({ ...ctx, cloud: new (ctx.cloud.constructor as new () => typeof ctx.cloud)() }, { name: 'cinder', user: 'cinder', password: 'cinder-pw', type: 'volumev3', databases: [], log: '/var/log/cinder/cinder-api.log', probe: '' });
    expect(await again!.check()).toMatch(/Keystone rejects user cinder's password/);
  });

  it("a re-run's register of a service already in place is one login of its user (roles read from the token), and a lost role or password goes the whole way", async () => {
    const fresh = () => ({ ...ctx, cloud: new (ctx.cloud.constructor as new () => typeof ctx.cloud)() });
    const svc = { user: 'heat', password: 'heat-pw', name: 'heat', type: 'orchestration', description: 'Orchestration', url: `${cloud.url}/heat` };
    await registerService(fresh(), svc);
    cloud.srv.requests.length = 0;
    const again = fresh();
    await registerService(again, svc);
    // The admin's login, and the service user's: nothing looked up, nothing written.
    expect(cloud.srv.requests.filter((r) => r.method === 'GET')).toEqual([]);
    expect(cloud.srv.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /v3/auth/tokens', 'POST /v3/auth/tokens']);
    expect(loginProven(again, 'heat', 'heat-pw')).toBe(true);
    // The service role taken away behind us: the token says so, and register grants it again.
    const heatId = cloud.tables.users!.find((u) => u.name === 'heat')!.id as string;
    const serviceRole = cloud.tables.roles!.find((r) => r.name === 'service')!.id as string;
    const grant = [...cloud.assignments].find((a) => a.endsWith(`/${heatId}/${serviceRole}`))!;
    cloud.assignments.delete(grant);
    await registerService(fresh(), svc);
    expect(cloud.assignments.has(grant)).toBe(true);
    // Its password changed behind us: the login is refused and register sets it back.
    cloud.passwords.set(heatId, 'changed');
    cloud.srv.requests.length = 0;
    await registerService(fresh(), svc);
    expect(cloud.writes()).toContain(`PATCH /v3/users/${heatId}`);
    expect(cloud.passwords.get(heatId)).toBe('heat-pw');
  });
});
