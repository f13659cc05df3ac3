// The network settings refused before any host is reached, each with the localrc line that is wrong.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type LoadOptions } from '../../lib/config/index.ts';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
const opts: LoadOptions = { interactive: false, readOnly: true, env: {} };

async function load(text: string): Promise<ConfigError | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'stack-net-'));
  dirs.push(dir);
  await writeFile(join(dir, 'localrc'), `VIRT_DRIVER=fake\n${text}`);
  return loadConfig(join(dir, 'localrc'), opts).then(
    () => undefined,
    (e: unknown) => e as ConfigError,
  );
}

describe('network settings', () => {
  it('the defaults load', async () => {
    expect(await load('')).toBeUndefined();
  });

  it.each([
    ['FIXED_RANGE=10.0.0.0', /localrc:2: FIXED_RANGE: "10.0.0.0" is not a network in CIDR form/],
    ["FLOATING_RANGE=172.24.4.0/33", /localrc:2: FLOATING_RANGE: the prefix \/33 of 172.24.4.0\/33 leaves no room/],
    ['FLOATING_RANGE=172.24.4.1/24', /localrc:2: FLOATING_RANGE: 172.24.4.1\/24 has host bits set: the network is 172.24.4.0\/24/],
    ['FIXED_RANGE=10.0.300.0/24', /"10.0.300.0" in 10.0.300.0\/24 is not an IPv4 address/],
    ['FIXED_RANGE=172.24.0.0/16', /localrc:\d: FLOATING_RANGE=172.24.4.0\/24 overlaps FIXED_RANGE=172.24.0.0\/16/],
    ['PUBLIC_NETWORK_GATEWAY=172.24.5.1', /localrc:2: PUBLIC_NETWORK_GATEWAY=172.24.5.1 is outside FLOATING_RANGE=172.24.4.0\/24/],
    ['NETWORK_GATEWAY=10.0.3.255', /localrc:2: NETWORK_GATEWAY=10.0.3.255 is the broadcast address of 10.0.0.0\/22/],
    ['NETWORK_GATEWAY=gw.example.org', /localrc:2: NETWORK_GATEWAY=gw.example.org is not an IPv4 address/],
    ['Q_AGENT=linuxbridge', /localrc:2: Q_AGENT=linuxbridge is not one of ovn/],
    ['OVS_DATAPATH_TYPE=dpdk', /localrc:2: OVS_DATAPATH_TYPE=dpdk is not one of/],
    ['PUBLIC_BRIDGE="br/ex"', /PUBLIC_BRIDGE="br\/ex" is not an interface name/],
    ['PUBLIC_INTERFACE=a-name-far-too-long0', /PUBLIC_INTERFACE="a-name-far-too-long0" is not an interface name/],
  ])('%s is refused with its line', async (line, message) => {
    const err = await load(`${line}\n`);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toMatch(message);
  });

  it("a range moved by IPV4_ADDRS_SAFE_TO_USE is checked after expansion, at its line", async () => {
    const err = await load('IPV4_ADDRS_SAFE_TO_USE=172.24.4.0/23\n');
    expect(err?.message).toMatch(/localrc:2: FLOATING_RANGE=172.24.4.0\/24 overlaps FIXED_RANGE=172.24.4.0\/23/);
  });
});
