// testHostSettings on hand-made TestHosts/TestHost objects: no test hosts are started.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/index.ts';
import { testHostSettings, type TestHost } from './index.ts';

const th = { keyPath: '/run/stk-1/id_ed25519', knownHostsPath: '/run/stk-1/known_hosts' };
const h: TestHost = { name: 'stk1', address: '10.99.3.11', sshPort: 22, user: 'root', keyPath: th.keyPath, target: 'root@10.99.3.11', rootDir: '/run/stk-1/stk1/root' };

const dir = mkdtempSync(join(tmpdir(), 'stackts-host-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('testHostSettings', () => {
  it('one host: TARGET_HOST, then the run key and known_hosts file', () => {
    expect(testHostSettings(th, h)).toEqual(['TARGET_HOST=root@10.99.3.11', 'SSH_KEY=/run/stk-1/id_ed25519', 'SSH_KNOWN_HOSTS=/run/stk-1/known_hosts']);
  });

  it('without a host (a HOSTS_FILE names them): only the key and known_hosts lines', () => {
    expect(testHostSettings(th)).toEqual(['SSH_KEY=/run/stk-1/id_ed25519', 'SSH_KNOWN_HOSTS=/run/stk-1/known_hosts']);
  });

  it('stack.ts reads the lines back as the settings that reach the host', async () => {
    const file = join(dir, 'localrc');
    writeFileSync(file, [...testHostSettings(th, h), ''].join('\n'));
    const { config } = await loadConfig(file, { interactive: false, readOnly: true, env: {} });
    expect(config.settings.TARGET_HOST).toBe('root@10.99.3.11');
    expect(config.settings.SSH_KEY).toBe('/run/stk-1/id_ed25519');
    expect(config.settings.SSH_KNOWN_HOSTS).toBe('/run/stk-1/known_hosts');
  });
});
