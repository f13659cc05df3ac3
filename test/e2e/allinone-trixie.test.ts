// The all-in-one end to end on a Debian trixie test host: see allinone-body.ts.
import { allInOne } from './allinone-body.ts';

allInOne('trixie', 'stack, verify, client, secrets, listeners, unstack and clean pass (18:17-18:36); stack again fails: nova-compute (Epoxy, fake driver) refuses "No local node identity found, but this is not our first startup"');
