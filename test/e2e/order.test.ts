import { describe, expect, it } from 'vitest';
import { longestFirst } from './order.ts';

describe('test file order for CI', () => {
  it('starts the long end-to-end files first, longest first, and keeps the order of the rest', () => {
    const files = [
      '/r/test/cli/bad-input.test.ts',
      '/r/test/e2e/allinone-bookworm.test.ts',
      '/r/test/tasks/runner.test.ts',
      '/r/test/e2e/multihost.test.ts',
      '/r/test/e2e/order.test.ts',
      '/r/test/e2e/allinone-trixie.test.ts',
      '/r/test/e2e/libvirt.test.ts',
      '/r/test/e2e/rerun-bookworm.test.ts',
    ];
    expect(longestFirst(files, (f) => f)).toEqual([
      '/r/test/e2e/rerun-bookworm.test.ts',
      '/r/test/e2e/allinone-bookworm.test.ts',
      '/r/test/e2e/allinone-trixie.test.ts',
      '/r/test/e2e/multihost.test.ts',
      '/r/test/e2e/libvirt.test.ts',
      '/r/test/cli/bad-input.test.ts',
      '/r/test/tasks/runner.test.ts',
      '/r/test/e2e/order.test.ts',
    ]);
  });
});
