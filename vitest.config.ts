import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { longestFirst } from './test/e2e/order.ts';

/** vitest's own order (failed first, then by its cached durations), with the long e2e files at the front. */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return longestFirst(await super.sort(files), (f) => f.moduleId);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real daemons (sshd, mysqld) and test hosts; forks isolate them.
    pool: 'forks',
    // Vitest's default on 2 cores is one worker, so the end-to-end files (each mostly waiting on its
    // test host's package install and service starts) would run one after another; two at once keeps
    // CI well inside its time on 2 cores (load ~4-6 measured with two test clouds building).
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    sequence: { sequencer: LongestFirst },
    testTimeout: 60_000,
    hookTimeout: 600_000,
  },
});
