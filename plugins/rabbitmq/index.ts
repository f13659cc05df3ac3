// RabbitMQ: the message bus between nova's services.
//
// - It, epmd (4369) and the Erlang distribution (25672) listen on every interface by default;
//   rabbitmq-env.conf (a shell file sourced by rabbitmq-env, so edited line by line, not as ini)
//   pins all three to RABBIT_HOST.
//   epmd always adds 127.0.0.1 itself, but rabbitmqctl (and the init script's `rabbitmqctl wait`)
//   find the node rabbit@HOSTNAME through epmd at the address the host's own name resolves to
//   (127.0.1.1 on many Debian hosts, the LAN address on others): that address joins
//   ERL_EPMD_ADDRESS, or the CLI could not reach its own node. epmd only maps node names to
//   ports, so this exposes little; the AMQP listener stays on RABBIT_HOST only.
// - A dedicated user (RABBIT_USERID), never guest. The broker's first boot makes it instead of guest
//   (advanced.config's default_user: no rabbitmqctl at all on a first run, each one an Erlang VM
//   start of ~1 s of CPU); a broker database from before gets it from rabbitmqctl, and loses guest.
//   Passwords go to rabbitmqctl on stdin only: rabbitmqctl (3.8+) reads the password from stdin when the argument is left out
//   (add_user, change_password, authenticate_user), and a command line is visible in ps.
//   rabbitmqctl trims the line it reads, so a password with surrounding whitespace is refused.
//   Those three run without -q: since RabbitMQ 3.13 (Debian 13 has 4.0.5) the rabbitmqctl script
//   starts the CLI with a stdin only when it sees exactly `add_user NAME` (two arguments) and with
//   Erlang's -noinput otherwise - `rabbitmqctl -q add_user NAME` then waits for a password forever.
//   Without -q every release reads the password, so nothing here depends on the RabbitMQ version.
// - What is already so is asked over AMQP (./amqp.ts), as the services ask it: a login, and for
//   register and verify a queue declared, published to and read back. rabbitmqctl, an Erlang VM
//   start each time, is kept for the changes and for when nothing answers AMQP.

import net from 'node:net';
import { stopDaemon, type DaemonSpec } from '../../lib/daemon.ts';
import { serviceLogTail } from '../../lib/log-tail.ts';
import { StackError } from '../../lib/errors.ts';
import { type ConfigFile, type ServicePlugin, type StackContext } from '../../lib/plugin.ts';
import type { PortSpec } from '../../lib/preflight.ts';
import { infraPlugin } from '../../lib/service/descriptor.ts';
import { PORTS as ENDPOINT_PORTS } from '../../lib/endpoints.ts';
import { sh } from '../../lib/shell.ts';
import { waitedForInput } from '../../lib/host/errors.ts';
import { lastLines, pollUntil } from '../../lib/wait.ts';
import { startOrRestart } from '../../lib/restart.ts';
import { deleteShellVar, setShellVar } from '../../lib/env-file.ts';
import { probeLogin, type BrokerAnswer } from './amqp.ts';

export const AMQP_PORT = ENDPOINT_PORTS.amqp;
export const PORTS: readonly PortSpec[] = [
  { port: AMQP_PORT, service: 'rabbit', owners: ['beam.smp'] },
  { port: 25672, service: 'rabbit', owners: ['beam.smp'] },
  { port: 4369, service: 'rabbit', owners: ['epmd'] },
];

export const ENV_FILE = '/etc/rabbitmq/rabbitmq-env.conf';
/** Read by the node at boot (Erlang terms); only its first boot uses what stack.ts puts there. */
export const ADVANCED_CONFIG = '/etc/rabbitmq/advanced.config';
const ADVANCED_MARK = '%% Written by stack.ts';
/** Debian's postinst copies this to ENV_FILE; `clean` puts it back. */
export const PACKAGED_ENV_FILE = '/usr/share/rabbitmq/rabbitmq-env.conf';
const LOG_DIR = '/var/log/rabbitmq';

/** Where Debian's init script has the node write its pid (bookworm's 3.10 and trixie's 4.0 alike). */
export const PID_FILE = '/var/run/rabbitmq/pid';
const SPEC: DaemonSpec = { name: 'rabbitmq-server', unit: 'rabbitmq-server', sysvPid: { file: PID_FILE, comm: 'beam.smp' } };

/** RABBIT_HOST is the listen address from the address table (what the other hosts use, never 0.0.0.0). */
const setting = (ctx: StackContext, name: 'RABBIT_HOST' | 'RABBIT_USERID' | 'RABBIT_PASSWORD' | 'STACK_STATE_DIR'): string =>
  name === 'RABBIT_HOST' ? ctx.endpoints.listen.rabbit : String(ctx.config.settings[name]);

const ctl = (...args: string[]): string => sh('rabbitmqctl', '-q', ...args);

/** Why a password cannot go through rabbitmqctl's stdin unchanged, or undefined. */
export function rabbitPasswordProblem(password: string): string | undefined {
  if (password === '') return 'it is empty';
  if (/[\r\n]/.test(password)) return 'it contains a line break (rabbitmqctl reads one line)';
  if (password.trim() !== password) return 'it starts or ends with whitespace (rabbitmqctl trims what it reads)';
  // oslo.messaging (Zed) rebuilds the URL for kombu with urllib's quote(), which leaves '/' as is:
  // kombu then takes what follows it for the host and every service fails to reach RabbitMQ.
  if (password.includes('/')) return "it contains '/', which OpenStack's messaging library (oslo.messaging) passes on unencoded, breaking the connection URL";
  return undefined;
}

/** Addresses the host's own name resolves to (from `getent hosts NAME` output). */
export function ownAddressesOf(getentOutput: string): string[] {
  return getentOutput
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((a) => net.isIP(a) !== 0);
}

const isLoopback = (a: string): boolean => a.startsWith('127.') || a === '::1';

/**
 * The one address the Erlang distribution (25672) listens on. rabbitmqctl reaches the node at
 * the address the host's own name resolves to, and the listener takes a single address; the
 * distribution speaks IPv4 (inet_tcp) unless told otherwise. So: RABBIT_HOST when the own name
 * points there (or resolves to nothing), else the loopback address it points to (127.0.1.1 on
 * many Debian hosts: only local users reach it), else the own name's address - never all of them.
 */
export function distributionAddress(bind: string, ownAddresses: readonly string[]): string {
  const own = ownAddresses.filter((a) => net.isIPv4(a));
  const bindV4 = net.isIPv4(bind) ? bind : undefined;
  if (bindV4 && (own.length === 0 || own.includes(bindV4))) return bindV4;
  return own.find(isLoopback) ?? own[0] ?? bindV4 ?? '127.0.0.1';
}

/** `-kernel inet_dist_use_interface {10,0,0,5}`: an Erlang tuple on erl's command line. */
export const distributionErlArgs = (address: string): string => `-kernel inet_dist_use_interface {${address.split('.').join(',')}}`;

/** The variables renderEnvFile sets; clean removes them when there is no packaged file to restore. */
export const ENV_VARS = ['NODE_IP_ADDRESS', 'ERL_EPMD_ADDRESS', 'SERVER_ADDITIONAL_ERL_ARGS'] as const;

/**
 * Pure: the env file with our settings, from the host's current (or the packaged) text.
 * SERVER_ADDITIONAL_ERL_ARGS reaches erl's command line in Debian's rabbitmq-server script on
 * both 3.10 (bookworm) and 4.0 (trixie); the CLI tools read CTL_ERL_ARGS instead, so it only
 * moves the server's distribution listener.
 */
export function renderEnvFile(current: string, rabbitHost: string, ownAddresses: readonly string[]): string {
  const bind = rabbitHost === 'localhost' ? '127.0.0.1' : rabbitHost;
  const epmd = [...new Set([bind, ...ownAddresses])].join(',');
  let text = current;
  if (!/^# Set by stack\.ts/m.test(text)) {
    text = `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}# Set by stack.ts: AMQP on RABBIT_HOST only; epmd and the Erlang distribution there and where the own host name points.\n`;
  }
  text = setShellVar(text, 'NODE_IP_ADDRESS', bind);
  text = setShellVar(text, 'ERL_EPMD_ADDRESS', epmd);
  text = setShellVar(text, 'SERVER_ADDITIONAL_ERL_ARGS', distributionErlArgs(distributionAddress(bind, ownAddresses)));
  return text;
}

/** A string as an Erlang binary literal's text: backslash and double quote escaped (UTF-8 as /utf8 reads it). */
export const erlangBinaryText = (s: string): string => s.replace(/[\\"]/g, (c) => `\\${c}`);

/**
 * Pure: advanced.config that has the node's first boot (an empty broker database) make RABBIT_USERID
 * with RABBIT_PASSWORD and every permission on /, instead of guest. A node whose database already
 * has users ignores it; register's check finds the user either way.
 */
export function renderAdvancedConfig(user: string, password: string): string {
  const bin = (s: string) => `<<"${erlangBinaryText(s)}"/utf8>>`;
  return [
    `${ADVANCED_MARK}: the broker's first boot makes this user instead of guest (./stack.ts clean removes this file).`,
    '[{rabbit, [',
    `  {default_user, ${bin(user)}},`,
    `  {default_pass, ${bin(password)}},`,
    // As add_user makes it: no tags (the default is administrator, for a management plugin not run here).
    '  {default_user_tags, []},',
    '  {default_vhost, <<"/">>},',
    '  {default_permissions, [<<".*">>, <<".*">>, <<".*">>]}',
    ']}].',
    '',
  ].join('\n');
}

/** The node's newest log, else the journal (or the daemon's output). */
const logTail = (ctx: StackContext) => serviceLogTail(ctx, { newestIn: LOG_DIR, daemon: SPEC });

/**
 * Of a running node: nothing accepts AMQP on its port, so the broker inside it is stopped
 * (rabbitmqctl stop_app). A TCP connect from the host itself: rabbitmqctl would start an Erlang VM
 * (2-20 s on a loaded host) for the same answer.
 */
async function brokerStopped(ctx: StackContext): Promise<boolean> {
  const host = setting(ctx, 'RABBIT_HOST');
  const probe = `timeout 5 bash -c ${sh(`exec 3<>/dev/tcp/${host}/${AMQP_PORT}`)}`;
  const r = await ctx.host.run(probe, { check: false, timeoutMs: 15_000, label: `does anything accept AMQP on ${host}:${AMQP_PORT}` });
  return r.exitCode !== 0;
}

/**
 * A login at RABBIT_HOST:5672 through a forward from the host (RABBIT_USERID and RABBIT_PASSWORD),
 * with the permission round trip when asked. Never throws: a forward that cannot open is
 * "unreachable" like a refused connection.
 */
async function brokerLogin(ctx: StackContext, permissions: boolean): Promise<BrokerAnswer> {
  const host = setting(ctx, 'RABBIT_HOST');
  let fwd;
  try {
    fwd = await ctx.host.forward(AMQP_PORT, host === 'localhost' ? '127.0.0.1' : host);
  } catch (err) {
    return { kind: 'unreachable', detail: (err as Error).message };
  }
  try {
    return await probeLogin({ port: fwd.port, user: setting(ctx, 'RABBIT_USERID'), password: setting(ctx, 'RABBIT_PASSWORD'), permissions });
  } finally {
    await fwd.close();
  }
}

/** The broker's answer as the end of a sentence about RABBIT_USERID, masked. */
const refusal = (ctx: StackContext, a: Exclude<BrokerAnswer, { kind: 'ok' }>): string => {
  const user = setting(ctx, 'RABBIT_USERID');
  const what = { refused: `refuses the login of ${user} with RABBIT_PASSWORD`, forbidden: `lets ${user} in but refuses what the services need on vhost /`, unreachable: 'does not answer AMQP' }[a.kind];
  return `${what}: ${ctx.log.mask(stripColours(a.detail))}`;
};

/** rabbitmqctl colours its usage text and errors even when nobody reads them on a terminal. */
const stripColours = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '');

/** `rabbitmqctl COMMAND USER` exactly (see the top of this file for why), with the password on stdin; output masked. */
async function ctlWithPassword(ctx: StackContext, command: 'add_user' | 'change_password' | 'authenticate_user', user: string) {
  const label = `rabbitmqctl ${command} ${user}`;
  const r = await ctx.host.run(sh('rabbitmqctl', command, user), { secret: setting(ctx, 'RABBIT_PASSWORD'), check: false, timeoutMs: 60_000, label });
  const prompt = waitedForInput(r);
  if (prompt !== undefined) {
    throw new StackError(
      `${label} on ${ctx.host.name} is waiting for input: it asked "${prompt}" after reading the password from stdin.`,
      `This rabbitmqctl does not take the password from stdin as stack.ts expects; run \`rabbitmqctl ${command} ${user}\` there by hand to see what it asks, and report it.`,
    );
  }
  return { ...r, stdout: ctx.log.mask(r.stdout), stderr: ctx.log.mask(r.stderr) };
}

async function ctlOrThrow(ctx: StackContext, args: string[], label: string, accept?: RegExp): Promise<void> {
  const r = await ctx.host.run(ctl(...args), { check: false, timeoutMs: 60_000, label });
  if (r.exitCode === 0 || (accept && accept.test(r.stdout + r.stderr))) return;
  throw new StackError(`${label} failed on ${ctx.host.name}: ${ctx.log.mask(lastLines(r.stderr || r.stdout, 5))}`, 'Is rabbitmq-server running? (rabbitmqctl status)', await logTail(ctx));
}

/**
 * The node starts epmd and leaves it running when it stops (without systemd nothing else ever
 * stops it). Once no Erlang node is registered any more it is ours to stop; `epmd -kill` itself
 * refuses while nodes are registered, so another Erlang program's epmd is left alone.
 */
export const STOP_EPMD =
  'command -v epmd >/dev/null 2>&1 || exit 0; ' +
  "for i in 1 2 3 4 5 6 7 8 9 10; do if epmd -names 2>/dev/null | grep -q '^name '; then sleep 1; else epmd -kill >/dev/null 2>&1; exit 0; fi; done; " +
  'echo "epmd still has registered nodes: left running" >&2';

async function stopEpmd(ctx: StackContext): Promise<void> {
  const r = await ctx.host.run(STOP_EPMD, { check: false, timeoutMs: 30_000, label: 'stop epmd' });
  if (r.stderr.trim()) ctx.log.warn(`${ctx.host.name}: ${r.stderr.trim()}`);
}

const plugin: ServicePlugin = infraPlugin({ name: 'rabbitmq', services: ['rabbit'], ports: PORTS }, {
  async preflight(ctx) {
    const pw = rabbitPasswordProblem(setting(ctx, 'RABBIT_PASSWORD'));
    if (pw) throw new StackError(`RABBIT_PASSWORD cannot be used: ${pw}.`, 'Set another RABBIT_PASSWORD in localrc (or remove it to have one generated).');
    if (setting(ctx, 'RABBIT_USERID') === 'guest') {
      throw new StackError('RABBIT_USERID is guest, the user stack.ts deletes (it has a well-known password).', 'Set RABBIT_USERID=stackrabbit (the default) or another name.');
    }
  },

  async configFiles(ctx): Promise<ConfigFile[]> {
    const current = (await ctx.host.readFileIfExists(ENV_FILE)) ?? (await ctx.host.readFileIfExists(PACKAGED_ENV_FILE)) ?? '';
    const own = await ctx.host.run('getent hosts "$(hostname)"', { check: false, timeoutMs: 10_000, label: 'resolve own hostname' });
    const password = setting(ctx, 'RABBIT_PASSWORD');
    // The file holds it escaped: masked in that form too (plan's diff).
    if (erlangBinaryText(password) !== password) ctx.log.addSecret(erlangBinaryText(password));
    return [
      {
        path: ENV_FILE,
        content: renderEnvFile(current, setting(ctx, 'RABBIT_HOST'), ownAddressesOf(own.stdout)),
        mode: 0o644,
        owner: 'rabbitmq:rabbitmq',
      },
      // The password: readable by the broker's group only.
      { path: ADVANCED_CONFIG, content: renderAdvancedConfig(setting(ctx, 'RABBIT_USERID'), password), mode: 0o640, owner: 'root:rabbitmq' },
    ];
  },

  async start(ctx) {
    // advanced.config is not among the files whose change restarts the node: only a first boot reads
    // what stack.ts puts there, and a changed password is set by register.
    const started = await startOrRestart(ctx, SPEC, [ENV_FILE]);
    // A re-run: the node was running with this configuration. If it answers a login it has booted
    // and serves (a refusal too: the password is register's business).
    const answer = started.action === 'running' ? await brokerLogin(ctx, false) : undefined;
    if (answer && answer.kind !== 'unreachable') return;
    // A node whose broker was stopped inside it (rabbitmqctl stop_app) runs but takes no AMQP
    // connection; starting the service again would fail ("node already running"): start the app.
    if (started.action === 'running' && (await brokerStopped(ctx))) {
      ctx.log.info(`${ctx.host.name}: RabbitMQ's node runs but its broker was stopped; rabbitmqctl start_app`);
      await ctlOrThrow(ctx, ['start_app'], 'rabbitmqctl start_app');
    }
    // Booted once it answers a login at all. Asked over AMQP, not with rabbitmqctl await_startup,
    // an Erlang VM start per try.
    const timeoutMs = Number(ctx.config.settings.SERVICE_TIMEOUT) * 1000;
    const res = await pollUntil(
      async () => {
        const answer = await brokerLogin(ctx, false);
        return { ok: answer.kind !== 'unreachable', detail: answer.kind === 'unreachable' ? answer.detail : '' };
      },
      { timeoutMs, intervalMs: 250 },
    );
    if (!res.ok) {
      throw new StackError(
        `RabbitMQ on ${ctx.host.name} did not finish starting within ${Math.round(res.elapsedMs / 1000)} s: ${ctx.log.mask(res.detail ?? '')}`,
        `Look at the log below; check that RABBIT_HOST (${setting(ctx, 'RABBIT_HOST')}) is an address of ${ctx.host.name} and that its own name resolves.`,
        await logTail(ctx),
      );
    }
    await started.markStarted();
  },

  async register(ctx) {
    const user = setting(ctx, 'RABBIT_USERID');
    // One AMQP round trip proves a re-run's register done: our user logs in with RABBIT_PASSWORD
    // and may declare, publish and read on /. guest needs no look: a broker database that still
    // holds our user is the one its first boot made without guest, or this register deleted guest
    // from (a reset makes guest anew and drops our user, and then this check fails and everything
    // below runs).
    const answer = await brokerLogin(ctx, true);
    if (answer.kind === 'ok') return;
    // Let in but forbidden: the password is right. No AMQP answer: rabbitmqctl decides, as it did.
    const accepted = answer.kind === 'forbidden' || (answer.kind === 'unreachable' && (await ctlWithPassword(ctx, 'authenticate_user', user)).exitCode === 0);
    if (!accepted) {
      const add = await ctlWithPassword(ctx, 'add_user', user);
      if (add.exitCode !== 0) {
        if (!/already.exists/i.test(add.stdout + add.stderr)) {
          throw new StackError(`Could not create the RabbitMQ user ${user} on ${ctx.host.name}: ${lastLines(add.stderr || add.stdout, 5)}`, 'Is rabbitmq-server running? (rabbitmqctl status)');
        }
        // It exists from an earlier run, with another password: make it RABBIT_PASSWORD again.
        const change = await ctlWithPassword(ctx, 'change_password', user);
        if (change.exitCode !== 0) {
          throw new StackError(`Could not set the password of RabbitMQ user ${user} on ${ctx.host.name}: ${lastLines(change.stderr || change.stdout, 5)}`);
        }
        ctx.cloud.brokerPasswordRestored = true;
        ctx.log.warn(`${ctx.host.name}: RabbitMQ did not accept ${user} with RABBIT_PASSWORD (changed behind stack.ts): set back; the services that use RabbitMQ are restarted to connect again`);
      }
    }
    await ctlOrThrow(ctx, ['set_permissions', '-p', '/', user, '.*', '.*', '.*'], `rabbitmqctl set_permissions ${user}`);
    if (answer.kind === 'forbidden') {
      ctx.cloud.brokerPermissionsRestored = true;
      ctx.log.warn(`${ctx.host.name}: RabbitMQ let ${user} in but refused it on vhost / (its permissions changed behind stack.ts): set back; the services that use RabbitMQ are restarted to connect again`);
    }
    await ctlOrThrow(ctx, ['delete_user', 'guest'], 'rabbitmqctl delete_user guest', /no_such_user|does not exist|not found/i);
  },

  async verify(ctx) {
    const answer = await brokerLogin(ctx, true);
    if (answer.kind !== 'ok') {
      throw new StackError(
        `RabbitMQ on ${ctx.host.name} ${refusal(ctx, answer)}`,
        'Run stack.ts again to set the password and permissions back, or look at `rabbitmqctl list_users` and `list_user_permissions` on the host.',
        await logTail(ctx),
      );
    }
  },

  daemons: (ctx) => [{ ...SPEC, link: `nova and neutron -> RabbitMQ (AMQP at ${setting(ctx, 'RABBIT_HOST')}:5672)`, ownLog: `${LOG_DIR}/rabbit@*.log` }],

  links: async (ctx) => [
    {
      service: 'RabbitMQ',
      link: `nova and neutron -> RabbitMQ (AMQP at ${setting(ctx, 'RABBIT_HOST')}:5672)`,
      log: `${LOG_DIR}/rabbit@*.log`,
      hint: 'Its Erlang node runs without the broker (as after rabbitmqctl stop_app); ./stack.ts starts the broker again (rabbitmqctl start_app).',
      check: async () => ((await brokerStopped(ctx)) ? 'runs its Erlang node, but the broker inside it is stopped: nothing accepts AMQP connections on 5672' : undefined),
    },
    {
      service: 'RabbitMQ',
      link: `nova and neutron -> RabbitMQ (AMQP at ${setting(ctx, 'RABBIT_HOST')}:5672, as ${setting(ctx, 'RABBIT_USERID')})`,
      log: `${LOG_DIR}/rabbit@*.log`,
      hint: "The broker user's password or its permissions on / were changed behind stack.ts: ./stack.ts sets it back to RABBIT_PASSWORD and restarts the services that lost their connection (the permissions too: '.*' '.*' '.*').",
      check: async () => {
        const answer = await brokerLogin(ctx, false);
        return answer.kind === 'ok' ? undefined : refusal(ctx, answer);
      },
    },
  ],

  async stop(ctx) {
    await stopDaemon(ctx.host, ctx.facts, SPEC, setting(ctx, 'STACK_STATE_DIR'));
    await stopEpmd(ctx);
  },

  async clean(ctx) {
    const user = setting(ctx, 'RABBIT_USERID');
    await ctx.host.run(ctl('delete_user', user), { check: false, timeoutMs: 60_000, label: `rabbitmqctl delete_user ${user}` });
    await stopDaemon(ctx.host, ctx.facts, SPEC, setting(ctx, 'STACK_STATE_DIR'));
    await stopEpmd(ctx);
    const advanced = await ctx.host.readFileIfExists(ADVANCED_CONFIG);
    if (advanced?.startsWith(ADVANCED_MARK)) await ctx.host.run(sh('rm', '-f', ADVANCED_CONFIG), { label: `remove ${ADVANCED_CONFIG}` });
    const current = await ctx.host.readFileIfExists(ENV_FILE);
    if (current !== null) {
      const packaged = await ctx.host.readFileIfExists(PACKAGED_ENV_FILE);
      const restored = packaged ?? ENV_VARS.reduce(deleteShellVar, current).replace(/^# Set by stack\.ts.*\n/m, '');
      if (restored !== current) await ctx.host.writeFile(ENV_FILE, restored, { mode: 0o644, owner: 'rabbitmq:rabbitmq' });
    }
  },
});

export default plugin;
