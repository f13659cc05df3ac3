// apt-cacher-ng on the bridge address: the hosts' only way to the Debian mirror. Its cache
// lives in the cache dir and outlives runs - that warm cache is what makes the e2e fast.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { procId, tail, tcpAccepts, waitFor, type ProcId } from './proc.ts';
import { ensureMachinePackages } from './machine-packages.ts';

export const PROXY_PORT = 3142;

export interface AptProxy {
  readonly url: string;
  readonly proc: ProcId;
  readonly child: ChildProcess;
}

export async function startAptProxy(o: {
  runDir: string;
  cacheDir: string;
  address: string;
  mirror: string;
  onSpawn: (p: ProcId) => void;
  log: (line: string) => void;
}): Promise<AptProxy> {
  await ensureMachinePackages(['apt-cacher-ng'], o.log);
  // A private copy of the packaged config: the stock backends_debian names a mirror this
  // machine cannot resolve ("503 Host not found"); ours names the machine's own mirror.
  const conf = join(o.runDir, 'acng-conf');
  const logDir = join(o.runDir, 'acng-log');
  mkdirSync(conf, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  mkdirSync(o.cacheDir, { recursive: true });
  for (const f of readdirSync('/etc/apt-cacher-ng')) copyFileSync(join('/etc/apt-cacher-ng', f), join(conf, f));
  writeFileSync(join(conf, 'backends_debian'), `${o.mirror}/\n`);

  const consoleLog = join(logDir, 'console.log');
  const fd = openSync(consoleLog, 'a');
  const child = spawn(
    'apt-cacher-ng',
    [
      '-c', conf,
      'ForeGround=1',
      `BindAddress=${o.address}`,
      `Port=${PROXY_PORT}`,
      `CacheDir=${o.cacheDir}`,
      `LogDir=${logDir}`,
      `PidFile=${join(o.runDir, 'acng.pid')}`,
      `SocketPath=${join(o.runDir, 'acng.socket')}`,
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  child.unref();
  let exited = false;
  child.on('exit', () => (exited = true));
  const proc = child.pid !== undefined ? procId(child.pid) : null;
  if (!proc) throw new Error(`apt-cacher-ng did not start (is the package installed?): ${tail(consoleLog, 10)}`);
  o.onSpawn(proc);
  await waitFor(
    async () => {
      if (exited) throw new Error(`apt-cacher-ng exited at start; ${consoleLog}:\n${tail(consoleLog, 15)}`);
      return (await tcpAccepts(o.address, PROXY_PORT)) ? true : undefined;
    },
    15_000,
    () => new Error(`apt-cacher-ng does not accept on ${o.address}:${PROXY_PORT} after 15 s; ${consoleLog}:\n${tail(consoleLog, 15)}`),
  );
  return { url: `http://${o.address}:${PROXY_PORT}`, proc, child };
}
