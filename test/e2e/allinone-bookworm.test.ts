// The all-in-one end to end on a fresh Debian bookworm test host (see allinone-body.ts): the real
// package path, with image URLs refused before the host is touched and the install's progress.
// The re-run, fault and kill checks run on a cloud of their own (rerun-bookworm.test.ts), at the
// same time on the other test worker.
import { allInOne } from './allinone-body.ts';
import { freshInstallChecks } from './rerun-checks.ts';

allInOne('bookworm', freshInstallChecks);
