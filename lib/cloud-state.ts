// What the phases of one run hand to later phases: one object per run, typed field by field
// (it was an untyped cloud-wide map). What belongs to one host (a probe of its hardware) is kept
// per host, in a memo keyed by the host's name, so a second host never gets the first one's.

import type { Host } from './host/types.ts';
import type { Session } from './openstack/keystone.ts';

/** Names one per-host value and its type: `memoKey<HostProbe>('libvirt.probe')`. */
export interface MemoKey<T> {
  readonly name: string;
  /** Only for the type checker: the value's type. */
  readonly value?: T;
}

export const memoKey = <T>(name: string): MemoKey<T> => ({ name });

export class CloudState {
  /** The Keystone admin session the register and verify phases share (one token per run). */
  adminSession: Session | undefined = undefined;
  /** The admin login under way, which callers that find no session wait for. */
  adminLogin: Promise<Session> | undefined = undefined;
  /**
   * Service users (name and password) for which Keystone issued a token in this run's register:
   * verify's link check of the same password need not ask Keystone again within the run.
   */
  readonly keystoneLoginsProven = new Set<string>();
  /** The host that runs MariaDB, once its admin login exists (for a runner whose topology names none). */
  databaseHost: Host | undefined = undefined;
  /** nova-compute's clean has begun: its stop then also forgets the guest definitions. */
  computeCleaning = false;
  /** What clean could not remove; its last step reports them all. */
  readonly leftBehind: string[] = [];
  /** RabbitMQ's register set its user's password back after the broker refused it. */
  brokerPasswordRestored = false;
  /** RabbitMQ's register gave its user back the permissions on / that the broker refused. */
  brokerPermissionsRestored = false;
  /**
   * Nova services (re)started in this run, `binary@host` -> their reports (service id -> updated_at)
   * right after the restart: a later report comes from the new process (plugins/nova/reports.ts).
   */
  readonly novaRestarts = new Map<string, ReadonlyMap<string, string | null>>();

  /**
   * Why a running RabbitMQ client (nova's daemons, neutron) must be restarted in this run, or
   * undefined. After its broker password was changed behind it and set back by register, a client
   * that lost its connection stays disconnected (seen: "nova-compute on vm is enabled/down" after
   * the re-run): only a restart connects it again. Clients start after rabbitmq/register.
   */
  brokerRestartReason(): string | undefined {
    if (this.brokerPasswordRestored) return "its RabbitMQ user's password was set back, and a client refused by the broker does not connect again";
    // Seen: permissions cleared and set back, nova-compute stayed "enabled/down" until restarted.
    if (this.brokerPermissionsRestored) return "its RabbitMQ user's permissions were set back, and a client the broker shut out does not connect again";
    return undefined;
  }

  readonly #memos = new Map<string, Map<string, unknown>>();

  /**
   * The value of `key` for host `host`: computed on the first ask and kept for the run. Only a
   * value is kept: a failed compute is asked again next time.
   */
  async perHost<T>(key: MemoKey<T>, host: string, compute: () => Promise<T>): Promise<T> {
    let byHost = this.#memos.get(key.name);
    if (!byHost) this.#memos.set(key.name, (byHost = new Map()));
    if (byHost.has(host)) return byHost.get(host) as T;
    const value = await compute();
    byHost.set(host, value);
    return value;
  }
}
