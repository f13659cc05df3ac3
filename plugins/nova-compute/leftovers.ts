// Test servers that an earlier verify left behind. verify deletes its server in a finally block,
// but a verify killed with SIGKILL (or a host that lost power) never gets there: the server stays
// ACTIVE, holding the RAM of a host that may have room for one guest only, and no later verify
// would notice. Each verify removes them first, and says so.

import { ApiError } from '../../lib/openstack/http.ts';
import type { Session } from '../../lib/openstack/keystone.ts';
import { deleteServer, getServer, listServersByName } from '../../lib/openstack/nova.ts';

export const TEST_SERVER_PREFIX = 'stack-verify-';

/** When this process (this run) started: its own test servers are named after a later time. */
export const RUN_STARTED_MS = Date.now();

/** The name of a test server made now: the prefix and the time, so a later run can tell it was not its own. */
export const testServerName = (now = Date.now()): string => `${TEST_SERVER_PREFIX}${now}`;

/** Was this server made by a verify of an earlier run (not by one of this run, on this or another host)? */
export function isLeftover(name: string, runStartedMs = RUN_STARTED_MS): boolean {
  const m = /^stack-verify-(\d+)$/.exec(name);
  return m !== null && Number(m[1]) < runStartedMs;
}

/**
 * Delete the test servers of earlier runs and wait until Nova has removed them (status aside: a
 * server in ERROR is deleted the same way). Returns their names, for the run to report.
 */
export async function removeLeftoverServers(s: Session, timeoutMs: number, runStartedMs = RUN_STARTED_MS): Promise<string[]> {
  const left = (await listServersByName(s, `^${TEST_SERVER_PREFIX}`)).filter((x) => isLeftover(x.name, runStartedMs));
  for (const x of left) await deleteServer(s, x.id);
  const deadline = Date.now() + timeoutMs;
  for (const x of left) {
    for (;;) {
      try {
        await getServer(s, x.id);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) break;
        throw err;
      }
      if (Date.now() > deadline) throw new Error(`the test server ${x.name} (${x.id}) left by an earlier run is still there ${Math.round(timeoutMs / 1000)} s after it was deleted`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  return left.map((x) => `${x.name} (${x.id})`);
}
