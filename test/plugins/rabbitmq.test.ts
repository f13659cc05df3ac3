import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { StackError } from '../../lib/errors.ts';
import rabbitmq, { ADVANCED_CONFIG, ENV_FILE, PACKAGED_ENV_FILE, STOP_EPMD, distributionAddress, rabbitPasswordProblem, renderAdvancedConfig, renderEnvFile } from '../../plugins/rabbitmq/index.ts';
import { getShellVar, setShellVar } from '../../lib/env-file.ts';
import { DEBIAN_SYSTEMD, DEBIAN_SYSV, RecordingHost, RHEL_SYSTEMD, makeContext } from '../fixtures/recording-host.ts';
import { classify, type BrokerAnswer, type LoginProbe } from '../../plugins/rabbitmq/amqp.ts';

// The AMQP logins the plugin makes, answered from a script (the real protocol runs in the
// end-to-end suite against Debian's broker). Unscripted: nothing answers, as with no broker.
const amqp = vi.hoisted(() => ({ answers: [] as BrokerAnswer[], probes: [] as LoginProbe[] }));
vi.mock('../../plugins/rabbitmq/amqp.ts', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  probeLogin: async (p: LoginProbe): Promise<BrokerAnswer> => {
    amqp.probes.push(p);
    return amqp.answers.shift() ?? { kind: 'unreachable', detail: 'connect ECONNREFUSED 127.0.0.1:5672' };
  },
}));
beforeEach(() => {
  amqp.answers.length = 0;
  amqp.probes.length = 0;
});

// Test data: the shape of the rabbitmq-env.conf template Debian's rabbitmq-server 3.10 installs.
const PACKAGED = `# Defaults to rabbit. This can be useful if you want to run more than one node
# per machine - RABBITMQ_NODENAME should be unique per erlang-node-and-machine
# combination.
#NODENAME=rabbit

# By default RabbitMQ will bind to all interfaces, on IPv4 and IPv6 if
# available. Set this if you only want to bind to one network interface or#
# address family.
#NODE_IP_ADDRESS=127.0.0.1

# Defaults to 5672.
#NODE_PORT=5672
`;

const PASSWORD = "rabbit pa$$ 'w\"d";

const runningHost = (facts = DEBIAN_SYSV, files: Record<string, string> = {}) =>
  new RecordingHost({ facts, files })
    .reply(/status|is-active|rabbitmq\/pid/, [{ stdout: 'stopped\n' }, { stdout: 'running\n' }])
    .reply(/getent hosts/, { stdout: '127.0.1.1       h1\n' });

describe('rabbitmq-env.conf', () => {
  it('sets both addresses next to the packaged examples and keeps every packaged line in order', async () => {
    const host = runningHost(DEBIAN_SYSV, { [PACKAGED_ENV_FILE]: PACKAGED });
    const [file] = await rabbitmq.configFiles!(makeContext(host, DEBIAN_SYSV));
    expect(file!.path).toBe(ENV_FILE);
    const lines = file!.content.split('\n');
    expect(lines[lines.indexOf('#NODE_IP_ADDRESS=127.0.0.1') + 1]).toBe('NODE_IP_ADDRESS=127.0.0.1');
    // 127.0.1.1: where the host's own name points, so rabbitmqctl finds epmd there.
    expect(getShellVar(file!.content, 'ERL_EPMD_ADDRESS')).toBe('127.0.0.1,127.0.1.1');
    // The Erlang distribution on the one address rabbitmqctl dials: the own name's loopback one.
    expect(getShellVar(file!.content, 'SERVER_ADDITIONAL_ERL_ARGS')).toBe('-kernel inet_dist_use_interface {127,0,1,1}');
    const ours = /^(NODE_IP_ADDRESS=|ERL_EPMD_ADDRESS=|SERVER_ADDITIONAL_ERL_ARGS=|# Set by stack\.ts)/;
    expect(lines.filter((l) => ours.test(l))).toHaveLength(4);
    expect(lines.filter((l) => !ours.test(l)).join('\n')).toBe(PACKAGED);
    expect(host.writes).toEqual([]);
  });

  it('re-running over the written file changes no byte; the host file wins over the packaged template', async () => {
    const host = runningHost(DEBIAN_SYSV, { [PACKAGED_ENV_FILE]: PACKAGED });
    const ctx = makeContext(host, DEBIAN_SYSV);
    const [first] = await rabbitmq.configFiles!(ctx);
    await host.writeFile(ENV_FILE, first!.content);
    const [second] = await rabbitmq.configFiles!(ctx);
    expect(second!.content).toBe(first!.content);
  });

  it('the own name\'s address joins epmd\'s list whatever it is (rabbitmqctl looks for the node there)', async () => {
    const host = runningHost(DEBIAN_SYSV, { [PACKAGED_ENV_FILE]: PACKAGED }).reply(/getent hosts/, { stdout: '10.99.0.11      h1\n' });
    const [file] = await rabbitmq.configFiles!(makeContext(host, DEBIAN_SYSV));
    expect(getShellVar(file!.content, 'NODE_IP_ADDRESS')).toBe('127.0.0.1');
    expect(getShellVar(file!.content, 'ERL_EPMD_ADDRESS')).toBe('127.0.0.1,10.99.0.11');
  });

  it('multi-host: binds RABBIT_HOST, and replaces an active assignment and drops later duplicates', () => {
    const current = 'NODE_IP_ADDRESS=0.0.0.0\nexport ERL_EPMD_ADDRESS=0.0.0.0\nNODE_IP_ADDRESS=::\n';
    const out = renderEnvFile(current, '10.99.0.11', []);
    expect(out).toContain('NODE_IP_ADDRESS=10.99.0.11\n');
    expect(out).toContain('export ERL_EPMD_ADDRESS=10.99.0.11\n');
    expect(out.match(/NODE_IP_ADDRESS=/g)).toHaveLength(1);
  });

  it('the Erlang distribution listens on RABBIT_HOST when the own name points there, never on every interface', () => {
    const out = renderEnvFile(PACKAGED, '10.99.0.11', ['10.99.0.11']);
    expect(getShellVar(out, 'SERVER_ADDITIONAL_ERL_ARGS')).toBe('-kernel inet_dist_use_interface {10,99,0,11}');
    // What sh does with the line: one variable, the Erlang tuple intact (no brace or glob expansion).
    const sourced = execFileSync('sh', ['-c', `${out}\nset -f; printf '%s\\n' $SERVER_ADDITIONAL_ERL_ARGS`], { encoding: 'utf8' });
    expect(sourced.split('\n')).toEqual(['-kernel', 'inet_dist_use_interface', '{10,99,0,11}', '']);
  });

  it.each([
    ['the own name points at RABBIT_HOST', '10.0.0.5', ['10.0.0.5'], '10.0.0.5'],
    ['the own name resolves to nothing', '10.0.0.5', [], '10.0.0.5'],
    ['the own name points at 127.0.1.1 (Debian default)', '127.0.0.1', ['127.0.1.1'], '127.0.1.1'],
    ['loopback preferred over another LAN address', '10.0.0.5', ['10.0.0.9', '127.0.1.1'], '127.0.1.1'],
    ['the own name points at another address: rabbitmqctl dials that one', '10.0.0.5', ['10.0.0.9'], '10.0.0.9'],
    ['an IPv6 RABBIT_HOST: the IPv4 distribution uses the own IPv4 address', 'fd00::5', ['fd00::5', '10.0.0.5'], '10.0.0.5'],
    ['an IPv6 RABBIT_HOST and no IPv4 name: loopback', 'fd00::5', ['fd00::5'], '127.0.0.1'],
  ])('distribution address: %s', (_why, bind, own, expected) => {
    expect(distributionAddress(bind, own)).toBe(expected);
    expect(distributionAddress(bind, own)).not.toBe('0.0.0.0');
  });

  it('setShellVar quotes what the shell would split, and appends to a file without the variable', () => {
    expect(setShellVar('A=1', 'B', 'two words')).toBe("A=1\nB='two words'\n");
    expect(getShellVar(setShellVar('', 'B', "it's"), 'B')).toBe("it's");
  });
});

describe('rabbitmq start', () => {
  it.each([
    ['sysv', DEBIAN_SYSV, 'service rabbitmq-server start'],
    ['systemd', DEBIAN_SYSTEMD, 'systemctl enable --now rabbitmq-server'],
    ['rhel', RHEL_SYSTEMD, 'systemctl enable --now rabbitmq-server'],
  ])('%s: starts the unit and waits until it answers a login, with no rabbitmqctl', async (_n, facts, cmd) => {
    const host = runningHost(facts);
    amqp.answers.push({ kind: 'unreachable', detail: 'connect ECONNREFUSED' }, { kind: 'ok' });
    await rabbitmq.start!(makeContext(host, facts));
    expect(host.commandLines[1]).toContain(cmd);
    expect(amqp.probes).toHaveLength(2);
    expect(host.commandLines.filter((c) => c.startsWith('rabbitmqctl'))).toEqual([]);
  });

  it('a broker that refuses the login has booted: the password is register\'s to set', async () => {
    const host = runningHost();
    amqp.answers.push({ kind: 'refused', detail: '403 (ACCESS-REFUSED)' });
    await rabbitmq.start!(makeContext(host, DEBIAN_SYSV));
    expect(amqp.probes).toHaveLength(1);
  });

  it('a node that never comes up fails with the newest log file\'s tail', async () => {
    const host = runningHost().reply(/ls -t \/var\/log\/rabbitmq/, { stdout: '/var/log/rabbitmq/rabbit@h1.log\nBOOT FAILED: eaddrnotavail\n' });
    const err = (await rabbitmq.start!(makeContext(host, DEBIAN_SYSV, { SERVICE_TIMEOUT: 1 })).catch((e: unknown) => e)) as StackError;
    expect(err).toBeInstanceOf(StackError);
    expect(err.message).toContain('did not finish starting');
    expect(err.message).toContain('ECONNREFUSED');
    expect(amqp.probes.length).toBeGreaterThan(1);
    expect(err.logTail).toEqual({ file: '/var/log/rabbitmq/rabbit@h1.log', lines: 'BOOT FAILED: eaddrnotavail\n' });
  });
});

describe('advanced.config: the first boot makes our user, not guest', () => {
  it('names the user, the password escaped as an Erlang binary, and every permission on /', () => {
    const text = renderAdvancedConfig('stackrabbit', 'a"b\\c $@:\'é');
    expect(text).toContain('{default_user, <<"stackrabbit"/utf8>>}');
    expect(text).toContain('{default_pass, <<"a\\"b\\\\c $@:\'é"/utf8>>}');
    expect(text).toContain('{default_vhost, <<"/">>}');
    expect(text).toContain('{default_user_tags, []}');
    expect(text).toContain('{default_permissions, [<<".*">>, <<".*">>, <<".*">>]}');
    // One Erlang term, ended: brackets balance and it closes with "].".
    const body = text.split('\n').filter((l) => !l.startsWith('%%')).join('\n').replace(/<<"(?:[^"\\]|\\.)*"(?:\/utf8)?>>/g, 'B');
    expect([...body].filter((c) => c === '[').length).toBe([...body].filter((c) => c === ']').length);
    expect([...body].filter((c) => c === '{').length).toBe([...body].filter((c) => c === '}').length);
    expect(body.trim().endsWith(']}].')).toBe(true);
  });

  it('is written readable by the broker\'s group only, and masked where plan shows it (escaped form too)', async () => {
    const host = runningHost();
    const ctx = makeContext(host, DEBIAN_SYSV);
    const files = await rabbitmq.configFiles!(ctx);
    const adv = files.find((f) => f.path === ADVANCED_CONFIG)!;
    expect(adv.mode).toBe(0o640);
    expect(adv.owner).toBe('root:rabbitmq');
    // PASSWORD has a double quote: the file holds it as \", which must be masked too.
    expect(adv.content).toContain('\\"');
    expect(ctx.log.mask(adv.content)).not.toMatch(/rabbit pa\$\$/);
  });

  it('clean removes the file it wrote, and leaves one it did not', async () => {
    const ours = runningHost(DEBIAN_SYSV, { [ADVANCED_CONFIG]: renderAdvancedConfig('stackrabbit', 'x') });
    await rabbitmq.clean!(makeContext(ours, DEBIAN_SYSV));
    expect(ours.commandLines).toContain(`rm -f ${ADVANCED_CONFIG}`);
    const theirs = runningHost(DEBIAN_SYSV, { [ADVANCED_CONFIG]: '[{rabbit, [{log_levels, [{connection, debug}]}]}].\n' });
    await rabbitmq.clean!(makeContext(theirs, DEBIAN_SYSV));
    expect(theirs.commandLines).not.toContain(`rm -f ${ADVANCED_CONFIG}`);
  });
});

/** A first run's broker: no such user yet, so our password is refused until add_user. */
const noUserYet = (host: RecordingHost) => host.reply(/authenticate_user/, { exitCode: 65, stderr: 'Error: failed to authenticate user "stackrabbit"' });

describe('rabbitmq register: the user', () => {
  it('creates the user with the password on stdin only, sets permissions, deletes guest', async () => {
    const host = noUserYet(runningHost());
    const ctx = makeContext(host, DEBIAN_SYSV, { RABBIT_PASSWORD: PASSWORD });
    await rabbitmq.register!(ctx);
    expect(host.commandLines).toEqual([
      'rabbitmqctl authenticate_user stackrabbit',
      'rabbitmqctl add_user stackrabbit',
      "rabbitmqctl -q set_permissions -p / stackrabbit '.*' '.*' '.*'",
      'rabbitmqctl -q delete_user guest',
    ]);
    expect(host.commands[0]!.input).toBe(`${PASSWORD}\n`);
    expect(host.commands[1]!.input).toBe(`${PASSWORD}\n`);
    expect(host.visibleText).not.toContain(PASSWORD);
    expect(ctx.cloud.brokerPasswordRestored).toBe(false);
  });

  it('a re-run whose user logs in with RABBIT_PASSWORD neither adds it nor changes its password', async () => {
    const host = runningHost();
    const ctx = makeContext(host, DEBIAN_SYSV, { RABBIT_PASSWORD: PASSWORD });
    await rabbitmq.register!(ctx);
    expect(host.commandLines).toEqual([
      'rabbitmqctl authenticate_user stackrabbit',
      "rabbitmqctl -q set_permissions -p / stackrabbit '.*' '.*' '.*'",
      'rabbitmqctl -q delete_user guest',
    ]);
    expect(ctx.cloud.brokerPasswordRestored).toBe(false);
  });

  it('an existing user gets its password changed (stdin again); a guest already gone is fine', async () => {
    const host = noUserYet(runningHost())
      .reply(/add_user/, { exitCode: 70, stderr: 'Error:\nuser_already_exists: stackrabbit' })
      .reply(/delete_user guest/, { exitCode: 70, stderr: 'Error:\nUser "guest" does not exist' });
    const ctx = makeContext(host, DEBIAN_SYSV, { RABBIT_PASSWORD: PASSWORD });
    await rabbitmq.register!(ctx);
    const change = host.commands.find((c) => c.command === 'rabbitmqctl change_password stackrabbit')!;
    expect(change.input).toBe(`${PASSWORD}\n`);
    expect(host.visibleText).not.toContain(PASSWORD);
    expect(ctx.cloud.brokerPasswordRestored).toBe(true);
  });

  it('asks for the password with exactly `rabbitmqctl add_user NAME`: RabbitMQ 4\'s script gives the CLI no stdin for more arguments', async () => {
    const host = noUserYet(runningHost());
    const ctx = makeContext(host, DEBIAN_SYSV, { RABBIT_PASSWORD: PASSWORD });
    await rabbitmq.register!(ctx);
    const reading = host.commands.filter((c) => c.input !== undefined);
    expect(reading.map((c) => c.command)).toEqual(['rabbitmqctl authenticate_user stackrabbit', 'rabbitmqctl add_user stackrabbit']);
    // rabbitmq-server 4.0.5's /usr/lib/rabbitmq/bin/rabbitmqctl: `case "$@" in *add_user*) if [ "$#" -eq 2 ]` -> input.
    for (const c of reading) expect(c.command.split(' ').slice(1)).toHaveLength(2);
  });

  it('a rabbitmqctl that still waits for input is named as such, not as a dead server', async () => {
    const host = noUserYet(runningHost()).reply(/add_user/, { waitingForInput: 'Password:' });
    await expect(rabbitmq.register!(makeContext(host, DEBIAN_SYSV))).rejects.toThrow(/rabbitmqctl add_user stackrabbit on h1 is waiting for input: it asked "Password:"/);
  });

  it('any other add_user failure stops the run', async () => {
    const host = noUserYet(runningHost()).reply(/add_user/, { exitCode: 69, stderr: 'Error: unable to perform an operation on node' });
    await expect(rabbitmq.register!(makeContext(host, DEBIAN_SYSV))).rejects.toThrow(/Could not create the RabbitMQ user stackrabbit/);
  });

  it('verify logs in over AMQP with RABBIT_PASSWORD and proves the permissions, no rabbitmqctl; a refusal is named', async () => {
    const ok = runningHost();
    amqp.answers.push({ kind: 'ok' });
    await rabbitmq.verify!(makeContext(ok, DEBIAN_SYSV, { RABBIT_PASSWORD: PASSWORD }));
    expect(ok.commands).toEqual([]);
    expect(amqp.probes).toMatchObject([{ user: 'stackrabbit', password: PASSWORD, permissions: true }]);
    // Through a forward from the broker's host to its AMQP port, closed afterwards.
    expect(ok.forwards).toMatchObject([{ remotePort: 5672, closed: true }]);
    amqp.answers.push({ kind: 'refused', detail: `Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN."` });
    await expect(rabbitmq.verify!(makeContext(runningHost(), DEBIAN_SYSV))).rejects.toThrow(/RabbitMQ on h1 refuses the login of stackrabbit with RABBIT_PASSWORD: Handshake terminated/);
    amqp.answers.push({ kind: 'forbidden', detail: `Operation failed: QueueDeclare; 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - configure access to queue 'amq.gen-x' in vhost '/' refused"` });
    await expect(rabbitmq.verify!(makeContext(runningHost(), DEBIAN_SYSV))).rejects.toThrow(/lets stackrabbit in but refuses what the services need on vhost \/: .*configure access/);
  });
});

describe('rabbitmq: a re-run asks AMQP instead of starting Erlang VMs', () => {
  it('register: a login with the permission round trip that passes runs no rabbitmqctl at all', async () => {
    const host = runningHost();
    amqp.answers.push({ kind: 'ok' });
    await rabbitmq.register!(makeContext(host, DEBIAN_SYSV, { RABBIT_PASSWORD: PASSWORD }));
    expect(host.commandLines).toEqual([]);
    expect(amqp.probes).toMatchObject([{ user: 'stackrabbit', password: PASSWORD, permissions: true }]);
  });

  it('register: let in but forbidden (permissions cleared) sets the permissions again, restarts the clients, and neither adds the user nor changes its password', async () => {
    const host = runningHost();
    amqp.answers.push({ kind: 'forbidden', detail: 'Handshake terminated by server: 530 (NOT-ALLOWED)' });
    const ctx = makeContext(host, DEBIAN_SYSV);
    await rabbitmq.register!(ctx);
    expect(host.commandLines).toEqual(["rabbitmqctl -q set_permissions -p / stackrabbit '.*' '.*' '.*'", 'rabbitmqctl -q delete_user guest']);
    expect(ctx.cloud.brokerPasswordRestored).toBe(false);
    // The clients the broker shut out do not connect again by themselves: they are restarted.
    expect(ctx.cloud.brokerRestartReason()).toMatch(/permissions were set back/);
  });

  it('register: a refused login (password changed behind us) goes the whole way: add_user finds it, change_password sets it back', async () => {
    const host = runningHost().reply(/add_user/, { exitCode: 70, stderr: 'Error:\nuser_already_exists: stackrabbit' });
    amqp.answers.push({ kind: 'refused', detail: '403 (ACCESS-REFUSED)' });
    const ctx = makeContext(host, DEBIAN_SYSV);
    await rabbitmq.register!(ctx);
    // rabbitmqctl is not asked again what the broker already said over AMQP.
    expect(host.commandLines.slice(0, 2)).toEqual(['rabbitmqctl add_user stackrabbit', 'rabbitmqctl change_password stackrabbit']);
    expect(ctx.cloud.brokerPasswordRestored).toBe(true);
  });

  it('start: a node already running that takes our login is neither restarted nor waited for', async () => {
    const host = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/status|is-active|rabbitmq\/pid/, { stdout: 'running\n' }).reply(/getent hosts/, { stdout: '127.0.1.1       h1\n' });
    const ctx = makeContext(host, DEBIAN_SYSV);
    // The first start records the configuration it started with; the second finds it unchanged.
    amqp.answers.push({ kind: 'ok' });
    await rabbitmq.start!(ctx);
    expect(host.commandLines.filter((c) => /rabbitmqctl/.test(c))).toEqual([]);
    const before = host.commandLines.length;
    amqp.answers.push({ kind: 'ok' });
    await rabbitmq.start!(ctx);
    expect(host.commandLines.slice(before).filter((c) => /rabbitmqctl|service|systemctl/.test(c))).toEqual([]);
    expect(amqp.probes.at(-1)).toMatchObject({ permissions: false });
  });

  it('start: a running node that refuses our login has booted: one login asked, register sets the password', async () => {
    const host = new RecordingHost({ facts: DEBIAN_SYSV }).reply(/status|is-active|rabbitmq\/pid/, { stdout: 'running\n' }).reply(/getent hosts/, { stdout: '127.0.1.1       h1\n' });
    const ctx = makeContext(host, DEBIAN_SYSV);
    amqp.answers.push({ kind: 'ok' });
    await rabbitmq.start!(ctx);
    const before = host.commandLines.length;
    amqp.answers.push({ kind: 'refused', detail: '403' });
    await rabbitmq.start!(ctx);
    expect(host.commandLines.slice(before).filter((c) => /rabbitmqctl|service|systemctl/.test(c))).toEqual([]);
    expect(amqp.probes).toHaveLength(2);
  });

  it('start: a running node that answers no login and whose broker is stopped gets start_app, then is waited for', async () => {
    const host = new RecordingHost({ facts: DEBIAN_SYSV })
      .reply(/status|is-active|rabbitmq\/pid/, { stdout: 'running\n' })
      .reply(/getent hosts/, { stdout: '127.0.1.1       h1\n' })
      .reply(/dev\/tcp/, { exitCode: 1 });
    const ctx = makeContext(host, DEBIAN_SYSV);
    amqp.answers.push({ kind: 'ok' });
    await rabbitmq.start!(ctx);
    const before = host.commandLines.length;
    amqp.answers.push({ kind: 'unreachable', detail: 'ECONNREFUSED' }, { kind: 'unreachable', detail: 'ECONNREFUSED' }, { kind: 'ok' });
    await rabbitmq.start!(ctx);
    expect(host.commandLines.slice(before).filter((c) => /rabbitmqctl/.test(c))).toEqual(['rabbitmqctl -q start_app']);
    expect(amqp.probes).toHaveLength(4);
  });

  it('the password link: a refused login names the link; no answer at all is left to the broker-stopped link', async () => {
    const links = await rabbitmq.links!(makeContext(runningHost(), DEBIAN_SYSV));
    const login = links.find((l) => /as stackrabbit/.test(l.link))!;
    amqp.answers.push({ kind: 'ok' });
    expect(await login.check()).toBeUndefined();
    amqp.answers.push({ kind: 'refused', detail: '403 (ACCESS-REFUSED)' });
    expect(await login.check()).toMatch(/^refuses the login of stackrabbit with RABBIT_PASSWORD/);
  });
});

describe('amqp: what a failed login or operation means', () => {
  it.each([
    ['the login refused', 'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"', 'login', 'refused'],
    ['no permissions on the vhost', 'Handshake terminated by server: 530 (NOT-ALLOWED) with message "NOT_ALLOWED - access to vhost \'/\' refused"', 'login', 'forbidden'],
    // What amqplib 2.3 says when RabbitMQ closes at Connection.Open (clear_permissions, seen on Debian 12's 3.10).
    ['the vhost refused at open', 'Expected ConnectionOpenOk; got <ConnectionClose channel:0>', 'login', 'forbidden'],
    ['a queue refused', "Operation failed: QueueDeclare; 403 (ACCESS-REFUSED) with message \"ACCESS_REFUSED - configure access to queue 'amq.gen-1'\"", 'permissions', 'forbidden'],
    ['nothing listening', 'connect ECONNREFUSED 127.0.0.1:40123', 'login', 'unreachable'],
    ['the forward closed it', 'Socket closed abruptly during opening handshake', 'login', 'unreachable'],
  ] as const)('%s', (_why, text, stage, kind) => {
    expect(classify(new Error(text), stage).kind).toBe(kind);
  });
});

describe('rabbitmq preflight', () => {
  it('refuses passwords rabbitmqctl would change (whitespace around, line breaks) and the guest user', async () => {
    expect(rabbitPasswordProblem(' x')).toMatch(/whitespace/);
    expect(rabbitPasswordProblem('a\nb')).toMatch(/line break/);
    // Seen in the end-to-end run: nova-compute failed with "Port could not be cast to integer value as 'Rb%3A'".
    expect(rabbitPasswordProblem('Rb:/@x')).toMatch(/contains '\/'.*oslo\.messaging/);
    expect(rabbitPasswordProblem(PASSWORD)).toBeUndefined();
    const host = new RecordingHost();
    await expect(rabbitmq.preflight!(makeContext(host, DEBIAN_SYSV, { RABBIT_PASSWORD: 'pw ' }))).rejects.toThrow(/RABBIT_PASSWORD cannot be used/);
    await expect(rabbitmq.preflight!(makeContext(host, DEBIAN_SYSV, { RABBIT_USERID: 'guest' }))).rejects.toThrow(/guest/);
  });
});

describe('rabbitmq stop and clean', () => {
  it('stop stops the unit, then epmd once no node is registered', async () => {
    const host = runningHost(DEBIAN_SYSV);
    await rabbitmq.stop!(makeContext(host, DEBIAN_SYSV));
    expect(host.commandLines[0]).toContain('service rabbitmq-server stop');
    expect(host.commandLines[1]).toBe(STOP_EPMD);
  });

  it('the epmd script kills only an epmd without registered nodes (run with a fake epmd)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stackts-epmd-'));
    try {
      const fake = (names: string) =>
        writeFileSync(join(dir, 'epmd'), `#!/bin/sh\ncase "$1" in -names) printf '%s' '${names}' ;; -kill) echo killed >> ${dir}/log ;; esac\n`, { mode: 0o755 });
      const run = () => spawnSync('/bin/sh', ['-c', STOP_EPMD.replace(/sleep 1/g, 'true')], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' });
      fake('epmd: up and running on port 4369 with data:\n');
      expect(run().status).toBe(0);
      expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('killed\n');
      rmSync(join(dir, 'log'));
      fake('epmd: up and running on port 4369 with data:\nname rabbit at port 25672\n');
      const r = run();
      expect(r.stderr).toContain('left running');
      expect(existsSync(join(dir, 'log'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('clean deletes the user, stops, and puts the packaged env file back', async () => {
    const host = runningHost(DEBIAN_SYSV, { [PACKAGED_ENV_FILE]: PACKAGED, [ENV_FILE]: renderEnvFile(PACKAGED, '127.0.0.1', []) });
    await rabbitmq.clean!(makeContext(host, DEBIAN_SYSV));
    expect(host.commandLines[0]).toBe('rabbitmqctl -q delete_user stackrabbit');
    expect(host.commandLines[1]).toContain('service rabbitmq-server stop');
    expect(host.files.get(ENV_FILE)).toBe(PACKAGED);
  });

  it('without a packaged template, clean removes just our lines', async () => {
    const mine = renderEnvFile('# mine\nNODENAME=r1\n', '127.0.0.1', []);
    const host = runningHost(RHEL_SYSTEMD, { [ENV_FILE]: mine });
    await rabbitmq.clean!(makeContext(host, RHEL_SYSTEMD));
    expect(host.files.get(ENV_FILE)).toBe('# mine\nNODENAME=r1\n');
  });
});
