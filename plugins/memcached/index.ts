// memcached: the token cache keystonemiddleware uses in every API service.
//
// memcached has no authentication: the listen address is its only protection, so it is set
// explicitly to RABBIT_HOST (127.0.0.1 all-in-one) even though Debian's default already says so.
// Debian reads option lines from /etc/memcached.conf; the RHEL family reads OPTIONS from
// /etc/sysconfig/memcached. Both are edited in place, comments and other options kept.

import net from 'node:net';
import { stopDaemon, type DaemonSpec } from '../../lib/daemon.ts';
import { serviceLogTail } from '../../lib/log-tail.ts';
import { StackError } from '../../lib/errors.ts';
import { type ConfigFile, type ServicePlugin, type StackContext } from '../../lib/plugin.ts';
import type { PortSpec } from '../../lib/preflight.ts';
import { infraPlugin } from '../../lib/service/descriptor.ts';
import { PORTS as ENDPOINT_PORTS } from '../../lib/endpoints.ts';
import { lastLines, pollUntil } from '../../lib/wait.ts';
import { startOrRestart } from '../../lib/restart.ts';
import { getShellVar, setShellVar } from '../../lib/env-file.ts';

export const MEMCACHED_PORT = ENDPOINT_PORTS.memcache;
export const PORTS: readonly PortSpec[] = [{ port: MEMCACHED_PORT, service: 'memcache', owners: ['memcached'] }];

export const DEBIAN_CONF = '/etc/memcached.conf';
export const DEBIAN_PACKAGED_CONF = '/usr/share/memcached/memcached.conf.default';
export const RHEL_CONF = '/etc/sysconfig/memcached';

const SPEC: DaemonSpec = { name: 'memcached', unit: 'memcached' };

/** The address the other hosts use for memcached, from the address table (never 0.0.0.0). */
const listenAddress = (ctx: StackContext): string => ctx.endpoints.listen.memcache;
const stateDir = (ctx: StackContext): string => String(ctx.config.settings.STACK_STATE_DIR);

const LISTEN_LINE = /^\s*(-l|--listen)([\s=])\s*\S+\s*$/;

/** Pure: Debian's memcached.conf with exactly one active `-l ADDRESS` line. */
export function renderDebianConf(current: string, address: string): string {
  const lines = current.split('\n');
  const idx = lines.findIndex((l) => LISTEN_LINE.test(l));
  if (idx >= 0) {
    lines[idx] = `-l ${address}`;
    // memcached would listen on every -l given: keep only ours.
    return lines.filter((l, i) => i === idx || !LISTEN_LINE.test(l)).join('\n');
  }
  const body = current === '' || current.endsWith('\n') ? current : `${current}\n`;
  return `${body}# Set by stack.ts: memcached has no authentication, listen on the address services use only.\n-l ${address}\n`;
}

/** Pure: the RHEL sysconfig file with `-l ADDRESS` in OPTIONS, other options kept. */
export function renderRhelConf(current: string, address: string): string {
  const options = getShellVar(current, 'OPTIONS') ?? '';
  const words = options.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-l' || w === '--listen') i++; // drop the flag and its value
    else if (/^(-l|--listen=)./.test(w)) continue;
    else out.push(w);
  }
  const value = [`-l ${address}`, ...out].join(' ');
  // The file is sourced by the unit as EnvironmentFile: double quotes are what it understands.
  const text = setShellVar(current, 'OPTIONS', value);
  return text.replace(/^(\s*)OPTIONS=.*$/m, `$1OPTIONS="${value}"`);
}

/** Ask memcached for its stats over TCP; resolves with the STAT lines. */
export function memcachedStats(port: number, host = '127.0.0.1', timeoutMs = 5000): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer to "stats" within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err?: Error, stats?: Record<string, string>): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(stats!);
    };
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write('stats\r\n'));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (/^(ERROR|CLIENT_ERROR|SERVER_ERROR)/m.test(buf)) return done(new Error(`memcached answered: ${lastLines(buf, 1)}`));
      if (!buf.includes('END\r\n')) return;
      const stats: Record<string, string> = {};
      for (const m of buf.matchAll(/^STAT (\S+) (.*)\r$/gm)) stats[m[1]!] = m[2]!;
      done(undefined, stats);
    });
    sock.on('error', (err) => done(err));
    sock.on('close', () => done(new Error(`connection closed before the end of the stats (${buf.length} bytes)`)));
  });
}

async function stats(ctx: StackContext): Promise<Record<string, string>> {
  const fwd = await ctx.host.forward(MEMCACHED_PORT, listenAddress(ctx));
  try {
    return await memcachedStats(fwd.port);
  } finally {
    await fwd.close();
  }
}

/** Debian's package logs to /var/log/memcached.log; elsewhere the journal (or the daemon's output) says it. */
const logTail = (ctx: StackContext) =>
  serviceLogTail(ctx, { ...(ctx.facts.family === 'debian' ? { file: '/var/log/memcached.log' } : {}), daemon: SPEC });

const plugin: ServicePlugin = infraPlugin({ name: 'memcached', services: ['memcache'], ports: PORTS }, {
  async configFiles(ctx): Promise<ConfigFile[]> {
    if (ctx.facts.family === 'rhel') {
      const current = (await ctx.host.readFileIfExists(RHEL_CONF)) ?? '';
      return [{ path: RHEL_CONF, content: renderRhelConf(current, listenAddress(ctx)), mode: 0o644 }];
    }
    const current = (await ctx.host.readFileIfExists(DEBIAN_CONF)) ?? (await ctx.host.readFileIfExists(DEBIAN_PACKAGED_CONF)) ?? '';
    return [{ path: DEBIAN_CONF, content: renderDebianConf(current, listenAddress(ctx)), mode: 0o644 }];
  },

  async start(ctx) {
    const started = await startOrRestart(ctx, SPEC, [ctx.facts.family === 'rhel' ? RHEL_CONF : DEBIAN_CONF]);
    const res = await pollUntil(async () => ({ ok: 'pid' in (await stats(ctx)) }), {
      timeoutMs: Number(ctx.config.settings.SERVICE_TIMEOUT) * 1000,
      intervalMs: 500,
    });
    if (!res.ok) {
      throw new StackError(
        `memcached on ${ctx.host.name} does not answer "stats" on ${listenAddress(ctx)}:${MEMCACHED_PORT}: ${res.detail ?? ''}`,
        `Check that ${listenAddress(ctx)} (memcached in the address table of ./stack.ts plan) is an address of ${ctx.host.name}.`,
        await logTail(ctx),
      );
    }
    await started.markStarted();
  },

  async verify(ctx) {
    const s = await stats(ctx).catch((err: Error) => {
      throw new StackError(
        `memcached at ${listenAddress(ctx)}:${MEMCACHED_PORT} on ${ctx.host.name} does not answer: ${err.message}`,
        `Is it running? (service memcached status on ${ctx.host.name}) Keystone tokens are cached there.`,
      );
    });
    if (!s.pid) throw new StackError(`memcached on ${ctx.host.name} answered "stats" without a pid: not memcached?`);
  },

  daemons: (ctx) => [{ ...SPEC, link: `keystone and the API services -> memcached (their token cache at ${listenAddress(ctx)}:${MEMCACHED_PORT})`, ...(ctx.facts.family === 'debian' ? { ownLog: '/var/log/memcached.log' } : {}) }],

  async stop(ctx) {
    await stopDaemon(ctx.host, ctx.facts, SPEC, stateDir(ctx));
  },

  async clean(ctx) {
    // Only the listen address was changed, and Debian's packaged default is 127.0.0.1 too:
    // the file stays (it belongs to the package); stopping is all there is to undo.
    await stopDaemon(ctx.host, ctx.facts, SPEC, stateDir(ctx));
  },
});

export default plugin;
