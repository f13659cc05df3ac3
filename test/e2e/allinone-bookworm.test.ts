// The all-in-one end to end on a Debian bookworm test host (see allinone-body.ts), whose one cloud
// also serves the re-run, fault and kill checks (rerun-checks.ts).
import { allInOne } from './allinone-body.ts';
import { rerunChecks } from './rerun-checks.ts';

allInOne('bookworm', rerunChecks);
