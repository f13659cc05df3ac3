// npm run bench's command line: parts and the Debian release its test hosts run.
import { describe, expect, it } from 'vitest';
import { BENCH_PARTS, parseBenchArgs, releaseRan } from '../../bench/options.ts';

describe('parseBenchArgs', () => {
  it('runs every part but the fan-out on bookworm by default; the fan-out when asked for', () => {
    expect(parseBenchArgs([])).toEqual({ parts: BENCH_PARTS.filter((p) => p !== 'fanout'), suite: 'bookworm' });
    expect(parseBenchArgs(['--only', 'fanout']).parts).toEqual(['fanout']);
  });

  it('takes --suite trixie and --only, in the bench order whatever the order asked', () => {
    expect(parseBenchArgs(['--suite', 'trixie', '--only', 'rerun,libvirt'])).toEqual({ parts: ['libvirt', 'rerun'], suite: 'trixie' });
    expect(parseBenchArgs(['--only', 'libvirt', '--only', 'allinone']).parts).toEqual(['allinone', 'libvirt']);
  });

  it('refuses an unknown suite or part with the usage line', () => {
    expect(() => parseBenchArgs(['--suite', 'sid'])).toThrow(/--suite sid: the test hosts are built for bookworm or trixie\.\nusage: npm run bench/);
    expect(() => parseBenchArgs(['--only', 'libvrt'])).toThrow(/--only libvrt: no such bench part\.\nusage: .*parts: allinone, floor, three-host, libvirt, rerun, fanout/);
    expect(() => parseBenchArgs(['--fast'])).toThrow(/--fast[\s\S]*usage: npm run bench/);
  });
});

describe('releaseRan', () => {
  it("reads the release from the stack summary's first line", () => {
    expect(releaseRan('...\nOpenStack 2025.1 (epoxy) is up on stb1.\n')).toBe('OpenStack 2025.1 (epoxy)');
    expect(releaseRan('OpenStack 2022.2 (zed) is up on local.')).toBe('OpenStack 2022.2 (zed)');
    expect(releaseRan('stack failed')).toMatch(/not in the output/);
  });
});
