// The all-in-one end to end on a Debian trixie test host: see allinone-body.ts.
import { allInOne } from './allinone-body.ts';

allInOne('trixie');
