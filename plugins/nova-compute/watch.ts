// nova-compute watched while the run waits for it: a compute that died is reported at once with
// its own cause, not after SERVICE_TIMEOUT as "never reported to nova-conductor".

import { linesSince } from '../../lib/log-cause.ts';
import { StackError } from '../../lib/errors.ts';

export interface ComputeDeath {
  readonly message: string;
  readonly hint: string;
  /** The daemon whose log explains it better than nova-compute's own (libvirtd). */
  readonly blame?: 'libvirtd';
}

/** The last line of the log that names an error (CRITICAL before ERROR), without its timestamp prefix. */
function lastErrorLine(log: string): string | undefined {
  const lines = log.split('\n').filter((l) => l.trim() !== '');
  const pick = (re: RegExp) => [...lines].reverse().find((l) => re.test(l));
  const line = pick(/\bCRITICAL\b/) ?? pick(/\bERROR\b/) ?? pick(/^\w*(Error|Exception|Unavailable)\b/);
  // "2026-11-27 12:00:00.123 4242 CRITICAL nova [-] Unhandled error: ..." -> "Unhandled error: ..."
  return line?.replace(/^\S+ \S+ \d+ (CRITICAL|ERROR) \S+ (\[[^\]]*\] )?/, '').trim();
}

/**
 * Why nova-compute exited, from what its log says since `since` (when this host last passed
 * verify) and whether libvirtd still runs. An older error is a fault already repaired: quoted as
 * the cause of this exit it would send the reader after the wrong thing.
 */
export function computeDeathCause(host: string, tail: string, libvirtdRunning: boolean | undefined, since?: Date): ComputeDeath {
  const log = since ? linesSince(tail, since) : tail;
  const cause = lastErrorLine(log);
  if (/HypervisorUnavailable|libvirt-sock|Failed to connect socket|libvirtError/.test(log)) {
    return {
      message: `nova-compute on ${host} exited: it cannot connect to libvirt${cause ? ` (${cause})` : ''}`,
      hint:
        libvirtdRunning === false
          ? `libvirtd is not running on ${host}: its log below says why; \`./stack.ts\` starts it again.`
          : `libvirtd runs on ${host} but refused nova: check that user nova is in group libvirt and the libvirtd log below.`,
      blame: 'libvirtd',
    };
  }
  return {
    message: `nova-compute on ${host} exited${cause ? `: ${cause}` : ' without an error in its log'}`,
    hint: 'Its log below says why (a config error in nova-compute.conf, RabbitMQ or Placement credentials).',
  };
}

export function computeDeathError(d: ComputeDeath, log: { file: string; lines: string }): StackError {
  return new StackError(d.message, d.hint, log);
}
