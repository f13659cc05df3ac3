// A network device that another process makes (ovs-vswitchd a bridge's or an internal port's own
// device) appears a moment after the command that asked for it returns.

import { quote } from '../shell.ts';

/** A shell fragment that waits up to 10 s for the device to appear (what follows it fails if it never does). */
export const waitForLink = (dev: string): string =>
  `i=0; while ! ip link show dev ${quote(dev)} >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`;
