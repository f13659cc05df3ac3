// Re-runs, the lock, faults and kills on a Debian bookworm all-in-one whose host starts from the
// allinone-fake package layer (its package step finds everything installed; allinone-bookworm
// proves the real install). See allinone-body.ts and rerun-checks.ts.
import { allInOne } from './allinone-body.ts';
import { ALLINONE_FAKE } from './layers.ts';
import { rerunChecks } from './rerun-checks.ts';

allInOne('bookworm', rerunChecks, undefined, { layer: ALLINONE_FAKE, prefix: 'stf' });
