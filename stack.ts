#!/usr/bin/env -S sh -c 'exec node --import "$(dirname "$0")/node_modules/tsx/dist/loader.mjs" "$0" "$@"'
// stack.ts: one command from a localrc to a verified OpenStack cloud. See README.md.
// Exit codes: 0 ok, 1 a task failed, 2 bad input (command line, config file, unreachable host).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, readConfigFile, ttyPrompt, REPO_ROOT, SECRET_NAMES, type Config, type DetectInput } from './lib/config/index.ts';
import { createLogger, type RunLogger } from './lib/log.ts';
import { renderError } from './lib/errors-render.ts';
import { openHost } from './lib/host/index.ts';
import { allInOne, loadTopology, type Topology } from './lib/topology.ts';
import { probeHosts, type ProbedHost } from './lib/probe.ts';
import { computeEndpoints, formatEndpoints, type Endpoints } from './lib/endpoints.ts';
import type { Logger } from './lib/log-types.ts';
import type { KnownHostsPolicy } from './lib/host/known-hosts.ts';
import { hostAddresses } from './lib/host/address.ts';
import type { Host, HostFacts } from './lib/host/types.ts';
import { orderPlugins } from './lib/plan.ts';
import { cloudVerifyTasks, makeCloudContexts, perHost, pluginsOn, preflightTask, removeNamesTask, stackTasks, stopTasks, teardownOrder, verifyTasks, type MutableContext } from './lib/stack-tasks.ts';
import { chooseRenderer, runTasks, type TaskHandle, type TaskNode } from './lib/tasks.ts';
import { summary, writeOutputs } from './lib/outputs.ts';
import { cleanTasks } from './lib/clean.ts';
import { exitCodeOf } from './lib/errors.ts';
import { handleInterrupts, onInterrupt } from './lib/interrupt.ts';
import { PLUGINS } from './plugins/index.ts';
import { imageName } from './lib/image.ts';
import { EXPORT_FORMATS, type ExportFormat } from './lib/kolla/formats.ts';
import { verifyReport } from './lib/verify-report.ts';
import { acquireLock, currentHolder, hostLockStore, LockHeldError, localLockStore, type HeldLock } from './lib/run-lock.ts';

const COMMANDS = ['stack', 'unstack', 'clean', 'plan', 'verify', 'status', 'export'] as const;
/** The commands that print one JSON document on stdout with --json. */
const JSON_COMMANDS: readonly Command[] = ['plan', 'verify', 'status'];
/** Commands that only read the hosts: no lock, no log file, nothing written on a host. */
const READ_ONLY: readonly Command[] = ['plan', 'status', 'export'];
type Command = (typeof COMMANDS)[number];

const HELP = `Usage: ./stack.ts [command] [options]

Commands:
  stack      install, configure, start and verify the cloud (default)
  unstack    stop every service stack.ts started; data is kept
  clean      remove databases, configs, data, logs and state stack.ts made (packages too with --purge)
  plan       print the tasks per host and the config file changes as diffs; changes nothing
  verify     re-check the whole pipeline of a stacked cloud
  status     show each service on each host
  export kolla-ansible DIR
             write kolla-ansible's multinode inventory, globals.yml and passwords.yml (0600)
             for this cloud into DIR; reads the hosts, changes nothing on them

Options:
  --config FILE   localrc or local.conf to read (default: ./local.conf, else ./localrc, else defaults)
  --verbose       one plain line per step instead of the live tree
  --debug         also print every command run on every host (passwords masked)
  --yes           never ask: generate passwords that are not set
  --purge         with clean: remove the packages too
  --json          with plan, verify, status: one JSON document on stdout instead of the text
  --timings FILE  write each step's timing as JSON (used by npm run bench)
  --help, --version

Exit codes: 0 ok, 1 a task failed, 2 bad input (command line, config, unreachable host).
Every setting, its default and what it does: localrc.example.`;

class UsageError extends Error {}

function parseCli(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      verbose: { type: 'boolean', short: 'v' },
      debug: { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      purge: { type: 'boolean' },
      timings: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  });
  if (values.config === '') throw new UsageError('--config was given an empty file name: name the localrc or local.conf to read, or leave --config out.');
  const command = (positionals[0] ?? 'stack') as Command;
  if (!COMMANDS.includes(command)) throw new UsageError(`Unknown command "${command}". Commands: ${COMMANDS.join(', ')}.`);
  let exportTo: { format: ExportFormat; dir: string } | undefined;
  if (command === 'export') {
    const [, format, dir, ...more] = positionals;
    if (!format || !dir || more.length) throw new UsageError(`export takes a format and a directory: ./stack.ts export kolla-ansible DIR${positionals.length > 1 ? ` (got: ${positionals.slice(1).join(' ')})` : ''}`);
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`export writes ${EXPORT_FORMATS.join(', ')}, not "${format}": ./stack.ts export kolla-ansible DIR`);
    exportTo = { format: format as ExportFormat, dir };
  } else if (positionals.length > 1) throw new UsageError(`One command at a time; got: ${positionals.join(' ')}`);
  if (values.json && !JSON_COMMANDS.includes(command)) throw new UsageError(`--json goes with ${JSON_COMMANDS.join(', ')}, not with ${command}.`);
  return { command, exportTo, ...values };
}

/** --config, else local.conf, else localrc in the current directory, else the documented defaults. */
function configFile(given: string | undefined): { file: string; defaults: boolean } {
  if (given) return { file: resolve(given), defaults: false };
  for (const name of ['local.conf', 'localrc']) if (existsSync(name)) return { file: resolve(name), defaults: false };
  return { file: join(REPO_ROOT, 'localrc.example'), defaults: true };
}

interface Session {
  config: Config;
  topology: Topology;
  endpoints: Endpoints;
  /** The first host (the all-in-one's only one). */
  host: Host;
  facts: HostFacts;
  log: RunLogger;
  ctx: MutableContext;
  /** One context per host, in the hosts file's order. */
  ctxs: MutableContext[];
}

/** SSH_KNOWN_HOSTS empty: $SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts (the SSH layer's default). */
const knownHostsPolicy = (s: { SSH_KNOWN_HOSTS: string; SSH_ACCEPT_NEW_HOST_KEYS: boolean }, readOnly: boolean): KnownHostsPolicy => ({
  ...(s.SSH_KNOWN_HOSTS ? { file: s.SSH_KNOWN_HOSTS } : {}),
  acceptNew: s.SSH_ACCEPT_NEW_HOST_KEYS,
  // plan and status change nothing, known_hosts included.
  recordNothing: readOnly,
});

/** The all-in-one from TARGET_HOST, or the hosts file; every host probed at once (exit 2 on a problem). */
/**
 * How long one probe command (reading os-release, the addresses, resolving names) may take: twice
 * the login's allowance, at most COMMAND_TIMEOUT. They only read small files, and a host that took
 * the login but never answers must not hold `plan` for COMMAND_TIMEOUT (15 minutes by default).
 */
const probeTimeoutMs = (s: DetectInput): number => Math.min(s.COMMAND_TIMEOUT, 2 * s.SSH_CONNECT_TIMEOUT) * 1000;

async function probeAll(settings: DetectInput, log: Logger, connectTimeoutS: number, readOnly: boolean): Promise<{ topology: Topology; probed: ProbedHost[] }> {
  const topology = settings.HOSTS_FILE
    ? await loadTopology(settings.HOSTS_FILE, relative(process.cwd(), settings.HOSTS_FILE) || settings.HOSTS_FILE)
    : allInOne({ target: settings.TARGET_HOST, sshKey: settings.SSH_KEY, ip: '', services: new Set() });
  const probed = await probeHosts(topology, (spec) => openHost(spec.target, { sshKey: spec.sshKey || settings.SSH_KEY || undefined, connectTimeoutS, log, commandTimeoutMs: probeTimeoutMs(settings), knownHosts: knownHostsPolicy(settings, readOnly), ...(topology.file ? { name: spec.name } : {}) }));
  return { topology, probed };
}

async function open(opts: ReturnType<typeof parseCli>, readOnly: boolean): Promise<Session> {
  const { file, defaults } = configFile(opts.config);
  let probe: { topology: Topology; probed: ProbedHost[] } | undefined;
  // The terminal logger exists before the config: a config error must be shown, and holds no secret.
  const early = createLogger({ debug: !!opts.debug });
  const interactive = !!process.stdin.isTTY && !opts.yes && !process.env.CI;
  const { config: loaded, warnings } = await loadConfig(file, {
    interactive,
    prompt: ttyPrompt(),
    readOnly,
    detect: async (raw) => {
      probe = await probeAll(raw, early, raw.SSH_CONNECT_TIMEOUT, readOnly);
      const { topology, probed } = probe;
      const first = probed[0]!;
      if (!topology.file) return { HOST_IP: first.address, CIRROS_ARCH: first.facts.arch };
      // Several hosts: HOST_IP is the controller's; images are for the compute hosts' architecture.
      const controller = probed.find((p) => p.spec.services.has('key')) ?? first;
      const compute = probed.find((p) => p.spec.services.has('n-cpu')) ?? first;
      return { HOST_IP: controller.address, CIRROS_ARCH: compute.facts.arch };
    },
    // HOST_IP is the controller's address (the only host's in an all-in-one).
    hostAddresses: async () => {
      const p = probe?.probed.find((h) => h.spec.services.has('key')) ?? probe?.probed[0];
      return p ? hostAddresses(p.host) : [];
    },
  });
  if (defaults) early.info(`No local.conf or localrc here: using the defaults (every setting is in ${file}).`);
  for (const w of warnings) early.warn(`${w.origin}: ${w.message}`);
  await early.close();
  if (!probe) throw new Error('config loaded without probing the target host');
  const topology = probe.topology.file
    ? probe.topology
    : allInOne({ target: loaded.settings.TARGET_HOST, sshKey: loaded.settings.SSH_KEY, ip: '', services: loaded.services, name: probe.probed[0]!.host.name });
  // With a hosts file, the hosts' roles and services are the enabled services.
  const config: Config = topology.file ? Object.freeze({ ...loaded, services: topology.services }) : loaded;
  const logFile = readOnly ? undefined : join(config.settings.RUN_LOG_DIR, `${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  const log = createLogger({ file: logFile, debug: !!opts.debug, verbose: !!opts.verbose });
  for (const name of SECRET_NAMES) log.addSecret(String(config.settings[name]));
  const addresses = new Map(probe.probed.map((p) => [p.spec.name, p.address]));
  const endpoints = computeEndpoints(config, topology, addresses);
  // Commands from here on go to the run's log: reopen the hosts with it.
  await Promise.allSettled(probe.probed.map((p) => p.host.close()));
  const opened = await Promise.all(
    probe.probed.map(async (p) => {
      const host = openHost(p.spec.target, {
        sshKey: p.spec.sshKey || config.settings.SSH_KEY || undefined,
        connectTimeoutS: config.settings.SSH_CONNECT_TIMEOUT,
        log,
        commandTimeoutMs: config.settings.COMMAND_TIMEOUT * 1000,
        knownHosts: knownHostsPolicy(config.settings, readOnly),
        // A hosts file's names are the hosts' names everywhere (task ids, the address table, Nova).
        ...(topology.file ? { name: p.spec.name } : {}),
      });
      return { name: p.spec.name, host, facts: p.facts, release: p.release };
    }),
  );
  const ctxs = makeCloudContexts({ config, topology, endpoints, hosts: opened, log, dryRun: readOnly });
  const ctx = ctxs[0]!;
  return { config, topology, endpoints, host: ctx.host, facts: ctx.facts, log, ctx, ctxs };
}

const outputsDir = (config: Config) => join(dirname(config.file), '.stack');

async function run(s: Session, tasks: TaskNode[], opts: ReturnType<typeof parseCli>) {
  const renderer = chooseRenderer({ tty: !!process.stdout.isTTY, ci: !!process.env.CI, verbose: !!opts.verbose || !!opts.debug });
  return runTasks(tasks, { renderer, log: s.log, defaultTimeoutMs: s.config.settings.COMMAND_TIMEOUT * 1000 });
}

/** plan runs the preflight outside the task runner: nothing to show, nothing to cancel. */
const silentHandle: TaskHandle = { output: () => undefined, title: () => undefined, progressed: () => undefined, signal: new AbortController().signal };

async function commandPlan(s: Session, json: boolean): Promise<number> {
  const plugins = orderPlugins(s.config, PLUGINS);
  // What stack would refuse, plan refuses the same way (exit 2): the preflight only reads.
  for (const c of s.ctxs) await preflightTask(c, pluginsOn(c, plugins)).run!(silentHandle);
  const tasks = stackTasks(s.ctxs, plugins);
  const mask = (t: string) => s.log.mask(t);
  const { collectPlan, formatPlan } = await import('./lib/plan-report.ts');
  const report = await collectPlan({ hosts: s.ctxs.map((c) => ({ ctx: c, plugins: pluginsOn(c, plugins) })), tasks, endpoints: s.endpoints, topology: s.topology, invented: s.config.inventedSecrets ?? [], mask });
  const text = json
    ? JSON.stringify(report, null, 2)
    : formatPlan(report, tasks, formatEndpoints(s.endpoints, s.topology, mask), relative(process.cwd(), s.config.secretsFile) || s.config.secretsFile);
  process.stdout.write(mask(text) + '\n');
  return 0;
}

async function commandStatus(s: Session, json: boolean): Promise<number> {
  const plugins = orderPlugins(s.config, PLUGINS);
  const { collectStatus, formatStatus } = await import('./lib/status-report.ts');
  const status = await collectStatus(s.ctxs.map((c) => ({ ctx: c, plugins: pluginsOn(c, plugins) })));
  process.stdout.write(s.log.mask(json ? JSON.stringify({ hosts: status }, null, 2) + '\n' : formatStatus(status)));
  return 0;
}

async function commandExport(s: Session, dir: string): Promise<number> {
  const hosts = s.ctxs.map((c) => ({ spec: s.topology.hosts.find((h) => h.name === c.host.name)!, host: c.host, facts: c.facts, release: c.release, address: c.address }));
  const { exportKollaAnsible } = await import('./lib/kolla/export.ts');
  const r = await exportKollaAnsible({ config: s.config, hosts }, resolve(dir));
  for (const n of r.notes) s.log.warn(n);
  const shown = r.files.map((f) => relative(process.cwd(), f) || f);
  process.stdout.write(
    [
      `Wrote kolla-ansible's inventory ${shown[0]}, ${shown[1]} and ${shown[2]} (mode 0600: this cloud's passwords, never printed).`,
      'Next steps: README.md, "Moving on to kolla-ansible".',
    ].join('\n') + '\n',
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parseCli>;
  try {
    opts = parseCli(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}\n`);
    return exitCodeOf(err, 'setup');
  }
  if (opts.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (opts.version) {
    process.stdout.write(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version + '\n');
    return 0;
  }
  // Commands that change the host take the lock beside the config first (before the config is
  // read: a second run must touch nothing), then the target host's once it is known.
  const locked = !READ_ONLY.includes(opts.command);
  const me = currentHolder(['./stack.ts', ...argv].join(' '));
  const locks: HeldLock[] = [];
  const releaseLocks = async () => {
    for (const l of locks.reverse()) await l.release().catch(() => undefined);
  };
  handleInterrupts();
  onInterrupt(releaseLocks);
  let s: Session;
  try {
    if (locked) {
      // The lock's directory is made beside the config: only once the config is a file we can read.
      await readConfigFile(configFile(opts.config).file);
      locks.push(await acquireLock(localLockStore(join(dirname(configFile(opts.config).file), '.stack', 'run.lock')), me));
    }
    s = await open(opts, READ_ONLY.includes(opts.command));
  } catch (err) {
    await releaseLocks();
    process.stderr.write((err instanceof LockHeldError ? `${err.message}\n${err.hint}` : renderError(err, undefined, (t) => t, { debug: !!opts.debug })) + '\n');
    return exitCodeOf(err, 'setup');
  }
  // From here a Ctrl-C frees the locks, ends the running commands (closing the host), keeps the log.
  onInterrupt(async () => {
    // The host lock is released through the host: before the connection closes.
    await releaseLocks();
    await s.host.close().catch(() => undefined);
    await s.log.close();
  });
  if (locked) {
    try {
      for (const c of s.ctxs) locks.push(await acquireLock(hostLockStore(c.host), me));
    } catch (err) {
      await releaseLocks();
      await closeAll(s);
      await s.log.close();
      process.stderr.write((err instanceof LockHeldError ? `${err.message}\n${err.hint}` : String(err)) + '\n');
      return exitCodeOf(err, 'setup');
    }
    for (const l of locks) if (l.tookOverFrom) s.log.warn(`Took over ${l.where} from pid ${l.tookOverFrom.pid} ("${l.tookOverFrom.command}", since ${l.tookOverFrom.since}), which no longer runs.`);
  }
  try {
    const plugins = orderPlugins(s.config, PLUGINS);
    switch (opts.command) {
      case 'plan':
        return await commandPlan(s, !!opts.json);
      case 'status':
        return await commandStatus(s, !!opts.json);
      case 'export':
        return await commandExport(s, opts.exportTo!.dir);
      case 'verify': {
        const hostsAndPlugins = s.ctxs.map((c) => ({ ctx: c, plugins: pluginsOn(c, plugins) }));
        const tree = hostsAndPlugins.length === 1 ? [verifyTasks(hostsAndPlugins[0]!.ctx, hostsAndPlugins[0]!.plugins)] : [cloudVerifyTasks(hostsAndPlugins)];
        // With --json the steps go to stderr as plain lines (the logger's terminal stream), stdout holds the document.
        const r = await run(s, tree, opts.json ? { ...opts, verbose: true } : opts);
        if (opts.json) process.stdout.write(s.log.mask(JSON.stringify(verifyReport(tree, r, (t) => s.log.mask(t)), null, 2)) + '\n');
        return r.ok ? 0 : exitCodeOf(r.error, 'run');
      }
      case 'unstack':
      case 'clean': {
        const clean = opts.command === 'clean';
        const build = (c: MutableContext) =>
          clean
            ? [...cleanTasks(c, pluginsOn(c, plugins), { purge: !!opts.purge, outputsDir: outputsDir(s.config) }), ...(s.ctxs.length > 1 ? [removeNamesTask(c)] : [])]
            : stopTasks(c, pluginsOn(c, plugins), false);
        const r = await run(s, perHost(teardownOrder(s.ctxs, plugins), clean ? 'clean every host' : 'unstack every host', build), opts);
        if (!r.ok) return exitCodeOf(r.error, 'run');
        const names = s.ctxs.map((c) => c.host.name).join(', ');
        s.log.info(clean ? `Cleaned ${names}.` : `Stopped every service on ${names}; data is kept. ./stack.ts brings it back.`);
        return 0;
      }
      case 'stack': {
        const r = await run(s, stackTasks(s.ctxs, plugins), opts);
        if (opts.timings) writeFileSync(opts.timings, JSON.stringify({ ok: r.ok, totalMs: r.totalMs, timings: r.timings }, null, 2));
        if (!r.ok) {
          s.log.error(`Stack failed${r.failedTask ? ` at ${r.failedTask}` : ''}. Full log: ${s.log.file}`);
          return exitCodeOf(r.error, 'run');
        }
        const controller = s.topology.hostFor('key') ? s.ctx.on('key') : s.ctx;
        const outputs = await writeOutputs(s.config, outputsDir(s.config), controller.host, s.endpoints.url.identity);
        process.stdout.write(
          s.log.mask(
            summary({
              config: s.config,
              host: s.ctxs.map((c) => c.host.name).join(', '),
              release: controller.release,
              identity: s.endpoints.url.identity,
              outputs,
              images: s.config.settings.IMAGE_URLS.map(imageName),
              notes: (await Promise.all(s.ctxs.flatMap((c) => pluginsOn(c, plugins).map(async (p) => (await p.describe?.(c)) ?? [])))).flat(),
              timings: r.timings,
              totalMs: r.totalMs,
            }),
          ) + '\n',
        );
        return 0;
      }
    }
  } catch (err) {
    s.log.error(renderError(err, s.log.file, (t) => s.log.mask(t), { debug: !!opts.debug }));
    return exitCodeOf(err, 'run');
  } finally {
    await releaseLocks();
    await closeAll(s);
    await s.log.close();
  }
}

const closeAll = (s: Session) => Promise.allSettled(s.ctxs.map((c) => c.host.close()));

process.exitCode = await main(process.argv.slice(2));
// A step stopped by another's failure is not waited for (a hung step cannot hang the run), and its
// work may still poll a cloud API for a while; the command's result is known, so it does not wait.
// Named on stderr: what stays open after the hosts were closed is worth a bug report.
const lingering = setTimeout(() => {
  const open = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout' && r !== 'TTYWrap');
  process.stderr.write(`stack.ts: exiting with work still open (${open.join(', ') || 'timers'}): a step stopped by a failure is not waited for\n`);
  process.exit();
}, 3000);
lingering.unref();
