// Local commands run with a minimal environment: the operator's OpenStack credentials and oslo
// OS_<GROUP>__<OPT> overrides never reach a db sync or a client run on this machine.
import { afterEach, describe, expect, it } from 'vitest';
import { LocalHost } from '../../lib/host/local.ts';
import { MemoryLogger } from '../fixtures/memory-logger.ts';

describe('LocalHost environment', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  });
  it("passes none of the operator's variables, only PATH, a locale, HOME, proxies and what the caller gives", async () => {
    process.env.OS_PASSWORD = 'operator-secret';
    process.env.OS_DATABASE__CONNECTION = 'mysql://elsewhere';
    process.env.https_proxy = 'http://proxy.example:3128';
    const host = new LocalHost({ log: new MemoryLogger(), commandTimeoutMs: 30_000 });
    const r = await host.run('env', { env: { DEBIAN_FRONTEND: 'noninteractive' } });
    const names = r.stdout.split('\n').map((l) => l.split('=')[0]).filter((n) => n && n !== 'PWD' && n !== 'SHLVL' && n !== '_');
    expect(names.sort()).toEqual(['DEBIAN_FRONTEND', 'HOME', 'LANG', 'PATH', 'https_proxy']);
    expect(r.stdout).not.toContain('operator-secret');
  });
});
