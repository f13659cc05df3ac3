import { describe, expect, it } from 'vitest';
import { fileTimes } from '../../.ci/report-times.ts';

describe(".ci/run's per-file times", () => {
  it("reads vitest's per-file lines, colours and all, passed and failed, and nothing else", () => {
    const out = [
      ' \x1b[32m✓\x1b[39m test/e2e/rerun-bookworm.test.ts \x1b[2m(\x1b[22m\x1b[2m32 tests\x1b[22m\x1b[2m)\x1b[22m\x1b[33m 1034934\x1b[2mms\x1b[22m\x1b[39m',
      ' ❯ test/e2e/allinone-bookworm.test.ts (30 tests | 2 failed) 1180123ms',
      ' ✓ test/config/table.test.ts (1 test) 238ms',
      '   ✓ three hosts from one command > plan prints the address table  3508ms',
      '[hosts] test hosts: teardown 1.01 s',
    ].join('\n');
    expect(fileTimes(out)).toEqual([
      { file: 'test/e2e/rerun-bookworm.test.ts', seconds: 1034.934, failed: false },
      { file: 'test/e2e/allinone-bookworm.test.ts', seconds: 1180.123, failed: true },
      { file: 'test/config/table.test.ts', seconds: 0.238, failed: false },
    ]);
  });
});
