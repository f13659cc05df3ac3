import { describe, expect, it } from 'vitest';
import { chooseDatapath, probeFromOutput } from '../../lib/network/datapath.ts';

describe('the Open vSwitch datapath', () => {
  it('reads the probe: tun, then the module', () => {
    expect(probeFromOutput('tun\nloaded\n')).toEqual({ tun: true, loaded: true, loadable: true });
    expect(probeFromOutput('loadable\n')).toEqual({ tun: false, loaded: false, loadable: true });
    expect(probeFromOutput('tun\nnone\n')).toEqual({ tun: true, loaded: false, loadable: false });
  });

  it('the kernel one where the module is loaded or loadable, without a warning', () => {
    for (const probe of [{ loaded: true, loadable: true, tun: true }, { loaded: false, loadable: true, tun: false }]) {
      const c = chooseDatapath('', probe, 'h1');
      expect(c.type).toBe('system');
      expect(c.warning).toBeUndefined();
      expect(c.error).toBeUndefined();
    }
  });

  it('the userspace one, with a warning that names the host, where the kernel has no module', () => {
    const c = chooseDatapath('', { loaded: false, loadable: false, tun: true }, 'h1');
    expect(c.type).toBe('netdev');
    expect(c.warning).toMatch(/^h1: the kernel has no openvswitch module; Open vSwitch uses its userspace datapath/);
    expect(c.error).toBeUndefined();
  });

  it('refuses what cannot work: system without a module, userspace without /dev/net/tun', () => {
    expect(chooseDatapath('system', { loaded: false, loadable: false, tun: true }, 'h1').error).toMatch(/OVS_DATAPATH_TYPE=system, but h1's kernel has no openvswitch module/);
    expect(chooseDatapath('', { loaded: false, loadable: false, tun: false }, 'h1').error).toMatch(/h1 has no openvswitch kernel module and no \/dev\/net\/tun/);
    expect(chooseDatapath('netdev', { loaded: true, loadable: true, tun: false }, 'h1').error).toMatch(/h1 has no \/dev\/net\/tun/);
  });

  it('OVS_DATAPATH_TYPE=netdev wins over a kernel that has the module', () => {
    const c = chooseDatapath('netdev', { loaded: true, loadable: true, tun: true }, 'h1');
    expect(c).toMatchObject({ type: 'netdev', reason: 'OVS_DATAPATH_TYPE=netdev' });
  });
});
