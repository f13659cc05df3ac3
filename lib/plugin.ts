// The one lifecycle shape every service plugin has (devstack's lib/<service>, typed).
// The runner calls the phases in this order, each service after the ones it needs:
//   preflight -> install (one package transaction per host) -> configure -> init -> start -> register -> verify
// `stop` and `clean` serve unstack and clean. A phase a service has nothing to do in is left out.

import type { Config } from './config/types.ts';
import type { Host, HostFacts } from './host/types.ts';
import type { Logger } from './log-types.ts';
import type { ServiceName } from './config/schema.ts';
import type { DaemonSpec } from './daemon.ts';
import type { Topology } from './topology.ts';
import type { Endpoints } from './endpoints.ts';
import type { CloudState } from './cloud-state.ts';

export const PHASES = ['preflight', 'install', 'configure', 'init', 'start', 'register', 'verify'] as const;
export type Phase = (typeof PHASES)[number];
/** The phases a plugin's own sequence in the task graph is made of. */
export type GraphPhase = 'init' | 'start' | 'register' | 'verify';

/** What the installed packages say about the OpenStack release on a host. */
export interface Release {
  /** Lower-case release name, e.g. "zed"; "unknown" before packages are installed and none can be read. */
  readonly name: string;
  /** Major version of the keystone package, the release's most reliable marker (22 = Zed). */
  readonly keystoneMajor: number | null;
  /** glance-registry and the v1 API were removed in Ussuri. */
  readonly hasGlanceRegistry: boolean;
}

export interface StackContext {
  readonly config: Config;
  readonly host: Host;
  readonly facts: HostFacts;
  readonly log: Logger;
  /** Detected after install; before it, from the package candidates. */
  readonly release: Release;
  /** `plan`: read the host, change nothing. */
  readonly dryRun: boolean;
  /** What phases hand to later phases of the same run (a Keystone token, per-host probes): one for the whole cloud. */
  readonly cloud: CloudState;
  /** Which host runs which service (the all-in-one: one host, every service). */
  readonly topology: Topology;
  /** The one address table: every address a config file or a call uses comes from here. */
  readonly endpoints: Endpoints;
  /** This host's address in the table (bind address, my_ip, what the other hosts use). */
  readonly address: string;
  /** The context of the host that runs service s (its first host), like Ansible's delegate_to. */
  on(s: ServiceName): StackContext;
}

/** A whole config file as a plugin wants it. The runner diffs it (plan), writes it if changed, applies post-config. */
export interface ConfigFile {
  readonly path: string;
  /** Variable name local.conf's [[post-config|$NAME]] uses for this file, e.g. GLANCE_API_CONF. */
  readonly variable?: string;
  readonly content: string;
  readonly mode: number;
  readonly owner?: string;
}

export interface ServicePlugin {
  readonly name: string;
  /** devstack service names that enable this plugin; it runs when any of them is enabled. */
  readonly services: readonly ServiceName[];
  /** Plugins that must have started before this one configures. */
  readonly needs: readonly string[];
  /**
   * What each phase really waits for besides this plugin's own earlier phases: "plugin/phase" of
   * other plugins, on whichever host runs them (the task graph's edges). A phase left out waits
   * for every plugin in `needs` to finish; configure always waits only for the package install.
   */
  readonly after?: Partial<Record<GraphPhase, readonly string[]>>;
  /** Distro packages, read from files/debs/<name> or files/rpms/<name>. */
  packages(ctx: StackContext): Promise<readonly string[]>;
  preflight?(ctx: StackContext): Promise<void>;
  /** Computed from the host's current files; must not write anything. */
  configFiles?(ctx: StackContext): Promise<readonly ConfigFile[]>;
  /** Extra configure work besides writing configFiles (directories, ownership). */
  configure?(ctx: StackContext): Promise<void>;
  init?(ctx: StackContext): Promise<void>;
  start?(ctx: StackContext): Promise<void>;
  register?(ctx: StackContext): Promise<void>;
  verify?(ctx: StackContext): Promise<void>;
  /**
   * The links this plugin's service depends on, cheapest first (its database, its Keystone user,
   * the broker inside its node): verify checks every plugin's daemons and then these, in plugin
   * order, before any functional check, so that the first failure names the broken link itself.
   */
  links?(ctx: StackContext): Promise<readonly LinkCheck[]>;
  /** One-line facts about what runs (which hypervisor guests get), for the summary and `status`. */
  describe?(ctx: StackContext): Promise<readonly string[]>;
  /** The processes this plugin runs on the host, for `status` (and the default `stop`). */
  daemons?(ctx: StackContext): readonly DaemonSpec[];
  stop?(ctx: StackContext): Promise<void>;
  clean?(ctx: StackContext): Promise<void>;
}

/** One link of the cloud a verify checks: who is at fault when it breaks, and how to tell. */
export interface LinkCheck {
  /** What is at fault when the check fails: "glance-api", "RabbitMQ", "keystone". */
  readonly service: string;
  /** The link, from the user of it to what it reaches: "glance -> Keystone (glance's service user)". */
  readonly link: string;
  /** The log file whose lines of the failure's time window explain it. */
  readonly log?: string;
  /** What to do (a re-run of ./stack.ts repairs most links). */
  readonly hint: string;
  /** What is wrong, or undefined when the link holds. Quick: it runs at every verify. */
  check(): Promise<string | undefined>;
}
