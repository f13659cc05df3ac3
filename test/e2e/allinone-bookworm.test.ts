// The all-in-one end to end on a Debian bookworm test host: see allinone-body.ts.
import { allInOne } from './allinone-body.ts';

allInOne('bookworm');
