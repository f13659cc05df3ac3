// Nova reads and a test server, through REST with explicit microversions.
//
// This cloud has no Neutron. Two consequences shape this file (measured on Zed):
// - server create answers 500 below microversion 2.37 (nova asks Neutron for quotas); at 2.37+
//   `networks: "none"` boots on the fake driver;
// - GET /servers/{id} and the server lists answer 500 (the view asks Neutron for security groups).
//   So the status of a server is read from APIs that never reach Neutron - see serverBuildState().

import { ApiError, joinUrl } from './http.ts';
import { call, type Interface, type Session } from './keystone.ts';
import { getAllocations } from './placement.ts';
import { FAST_POLL_MS } from '../wait.ts';
import { escapeRegExp } from '../regexp.ts';

const mv = (v: string) => ({ 'OpenStack-API-Version': `compute ${v}`, 'X-OpenStack-Nova-API-Version': v });

/** The image proxy (GET /images) exists up to 2.35 and answers 404 from 2.36 on. */
export const MV_IMAGE_PROXY = '2.35';
/** First version that accepts `networks: "none"`. */
export const MV_SERVER_CREATE = '2.37';
/** Service and hypervisor ids are uuids; with_servers is accepted; running_vms is still reported (gone at 2.88). */
export const MV_HOSTS = '2.53';
/** Instance action events carry `details` (the fault message) from 2.84. */
export const MV_ACTIONS = '2.84';

export interface NovaOptions {
  readonly iface?: Interface;
  readonly region?: string;
}

/** Nova's versioned root: the catalog URL, with /v2.1 added when it was registered without a version. */
export function computeRoot(s: Session, o: NovaOptions = {}): string {
  const base = s.endpointFor('compute', o.iface, o.region).replace(/\/+$/, '');
  return /\/v2(\.1)?(\/[^/]+)?$/.test(base) ? base : `${base}/v2.1`;
}

const u = (s: Session, path: string, o?: NovaOptions) => joinUrl(computeRoot(s, o), path);

export interface NovaImage {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly minDisk?: number;
  readonly minRam?: number;
  readonly [extra: string]: unknown;
}

/**
 * Glance's images as Nova sees them. This is the Nova -> Glance link (seed 000: nova image-list
 * gave 500 when nova could not reach glance), so verify calls it besides listing Glance directly.
 */
export async function listImagesViaNova(s: Session, o: NovaOptions = {}): Promise<NovaImage[]> {
  const r = await call<{ images: NovaImage[] }>(s, 'GET', u(s, 'images/detail', o), { headers: mv(MV_IMAGE_PROXY) });
  return r.images;
}

export interface ComputeService {
  readonly id: string | number;
  readonly binary: string;
  readonly host: string;
  readonly zone: string;
  readonly status: 'enabled' | 'disabled';
  readonly state: 'up' | 'down';
  readonly updated_at: string | null;
  readonly disabled_reason?: string | null;
  readonly forced_down?: boolean;
}

/** nova-conductor, nova-scheduler, nova-compute... with their up/down state from their heartbeats. */
export async function listComputeServices(s: Session, filter: { binary?: string; host?: string } = {}, o: NovaOptions = {}): Promise<ComputeService[]> {
  const qs = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  const r = await call<{ services: ComputeService[] }>(s, 'GET', u(s, `os-services${qs ? `?${qs}` : ''}`, o), { headers: mv(MV_HOSTS) });
  return r.services;
}

export interface Hypervisor {
  readonly id: string;
  readonly hypervisor_hostname: string;
  readonly hypervisor_type?: string;
  readonly state: 'up' | 'down';
  readonly status: 'enabled' | 'disabled';
  readonly running_vms?: number;
  readonly vcpus?: number;
  readonly memory_mb?: number;
  readonly service?: { host: string; id: string };
  /** Present when asked for with servers and the hypervisor has some. */
  readonly servers?: readonly { name: string; uuid: string }[];
}

export async function listHypervisors(s: Session, opts: { withServers?: boolean } = {}, o: NovaOptions = {}): Promise<Hypervisor[]> {
  const r = await call<{ hypervisors: Hypervisor[] }>(
    s, 'GET', u(s, `os-hypervisors/detail${opts.withServers ? '?with_servers=true' : ''}`, o), { headers: mv(MV_HOSTS) },
  );
  return r.hypervisors;
}

export interface FlavorSpec {
  readonly name: string;
  readonly ram: number;
  readonly vcpus: number;
  readonly disk: number;
  /** Flavor id; Nova picks a uuid when absent. */
  readonly id?: string;
}

interface Flavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
}

/** Get or create a flavor by name. An existing flavor is kept as it is (flavors cannot be edited, and servers may use it). */
export async function ensureFlavor(s: Session, spec: FlavorSpec, o: NovaOptions = {}): Promise<string> {
  const { flavors } = await call<{ flavors: Flavor[] }>(s, 'GET', u(s, 'flavors/detail?is_public=None', o));
  const found = flavors.find((f) => f.name === spec.name);
  if (found) return found.id;
  try {
    const { flavor } = await call<{ flavor: Flavor }>(s, 'POST', u(s, 'flavors', o), {
      json: { flavor: { name: spec.name, ram: spec.ram, vcpus: spec.vcpus, disk: spec.disk, id: spec.id, 'os-flavor-access:is_public': true } },
    });
    return flavor.id;
  } catch (err) {
    // Two compute hosts' verifies run at once: the other one created it in between.
    if (!(err instanceof ApiError && err.status === 409)) throw err;
    const again = await call<{ flavors: Flavor[] }>(s, 'GET', u(s, 'flavors/detail?is_public=None', o));
    const made = again.flavors.find((f) => f.name === spec.name);
    if (!made) throw err;
    return made.id;
  }
}

/** Every flavor of `specs`, made where missing: one listing for all of them (a re-run makes none). */
export async function ensureFlavors(s: Session, specs: readonly FlavorSpec[], o: NovaOptions = {}): Promise<void> {
  const { flavors } = await call<{ flavors: Flavor[] }>(s, 'GET', u(s, 'flavors/detail?is_public=None', o));
  const have = new Set(flavors.map((f) => f.name));
  for (const spec of specs) if (!have.has(spec.name)) await ensureFlavor(s, spec, o);
}

export interface ServerSpec {
  readonly name: string;
  readonly imageRef: string;
  readonly flavorRef: string;
  /** "none" (no Neutron), "auto", or explicit networks. */
  readonly networks?: 'none' | 'auto' | readonly { uuid: string }[];
  /** Security groups by name, in the server's project. */
  readonly securityGroups?: readonly string[];
  /** "nova:HOST" (admin only) puts the server on that compute host. */
  readonly availabilityZone?: string;
}

/** Boot a server; returns its id. The adminPass Nova returns is dropped on purpose. */
export async function createServer(s: Session, spec: ServerSpec, o: NovaOptions = {}): Promise<string> {
  const r = await call<{ server: { id: string } }>(s, 'POST', u(s, 'servers', o), {
    headers: mv(MV_SERVER_CREATE),
    json: {
      server: {
        name: spec.name,
        imageRef: spec.imageRef,
        flavorRef: spec.flavorRef,
        networks: spec.networks ?? 'none',
        ...(spec.securityGroups ? { security_groups: spec.securityGroups.map((name) => ({ name })) } : {}),
        ...(spec.availabilityZone ? { availability_zone: spec.availabilityZone } : {}),
      },
    },
    expect: [202],
  });
  return r.server.id;
}

export interface Server {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly fault?: { message: string; code: number; details?: string };
  readonly [extra: string]: unknown;
}

/** GET /servers/{id}. Needs Neutron: without it nova answers 500 (see the top of this file). */
export async function getServer(s: Session, id: string, o: NovaOptions = {}): Promise<Server> {
  const r = await call<{ server: Server }>(s, 'GET', u(s, `servers/${id}`, o), { headers: mv(MV_SERVER_CREATE) });
  return r.server;
}

/**
 * Servers of every project whose name matches `nameRegex` (Nova filters names by regular
 * expression), id and name only. Like GET /servers/{id} it needs Neutron (see the top of this file).
 */
export async function listServersByName(s: Session, nameRegex: string, o: NovaOptions = {}): Promise<{ id: string; name: string }[]> {
  const qs = new URLSearchParams({ all_tenants: 'True', name: nameRegex }).toString();
  const r = await call<{ servers: { id: string; name: string }[] }>(s, 'GET', u(s, `servers?${qs}`, o), { headers: mv(MV_SERVER_CREATE) });
  return r.servers;
}

/** Deleting a server that is already gone is not an error. */
export async function deleteServer(s: Session, id: string, o: NovaOptions = {}): Promise<void> {
  await call(s, 'DELETE', u(s, `servers/${id}`, o), { expect: [204, 404] });
}

/**
 * The guest's serial console as the hypervisor logged it (os-getConsoleOutput): its last `length`
 * lines. libvirt answers from the console log virtlogd keeps; the fake driver with a canned text.
 */
export async function getConsoleOutput(s: Session, id: string, length = 50, o: NovaOptions = {}): Promise<string> {
  const r = await call<{ output: string }>(s, 'POST', u(s, `servers/${id}/action`, o), {
    headers: mv(MV_SERVER_CREATE),
    json: { 'os-getConsoleOutput': { length } },
    expect: [200],
  });
  return r.output ?? '';
}

export interface InstanceActionEvent {
  readonly event: string;
  readonly start_time: string | null;
  readonly finish_time: string | null;
  readonly result: 'Success' | 'Error' | null;
  readonly traceback?: string | null;
  readonly details?: string | null;
  readonly host?: string;
}

export interface InstanceAction {
  readonly action: string;
  readonly request_id: string;
  readonly start_time: string;
  readonly message: string | null;
  readonly events?: readonly InstanceActionEvent[];
}

/** The actions recorded for a server, newest first (also for deleted servers at 2.21+). */
export async function listInstanceActions(s: Session, id: string, o: NovaOptions = {}): Promise<InstanceAction[]> {
  const r = await call<{ instanceActions: InstanceAction[] }>(s, 'GET', u(s, `servers/${id}/os-instance-actions`, o), { headers: mv(MV_ACTIONS) });
  return r.instanceActions;
}

/** One action with its events (events need the admin role). */
export async function getInstanceAction(s: Session, id: string, requestId: string, o: NovaOptions = {}): Promise<InstanceAction> {
  const r = await call<{ instanceAction: InstanceAction }>(s, 'GET', u(s, `servers/${id}/os-instance-actions/${requestId}`, o), {
    headers: mv(MV_ACTIONS),
  });
  return r.instanceAction;
}

/** The compute event that wraps the whole build on the chosen host. */
const BUILD_EVENT = 'compute__do_build_and_run_instance';

export type BuildPhase = 'building' | 'active' | 'failed';

export interface BuildState {
  readonly phase: BuildPhase;
  /** A sentence for the user: where the build is or why it failed. */
  readonly detail: string;
  /**
   * For 'failed': false when the failure is read from an absence (no host, no allocation), which
   * is also what a reschedule to another compute host looks like for a moment.
   */
  readonly final?: boolean;
}

/**
 * Where a server's build stands, read without touching Neutron. Three sources, because each alone
 * can lie for a moment:
 * - the instance action `create` and its events (GET /servers/{id}/os-instance-actions): any event
 *   with result Error means failure (its traceback or details say why). But the compute event
 *   compute__do_build_and_run_instance finishes "Success" even when the build failed, because
 *   nova's compute manager catches the failure and returns a FAILED result instead of raising;
 * - so, when that event has finished, the hypervisor must still list the server
 *   (GET /os-hypervisors/detail?with_servers=true): on a failed build nova clears the instance's
 *   host before the event finishes, on success the instance stays on its host;
 * - and Placement must hold an allocation for the server (GET /allocations/{uuid}): the scheduler
 *   claimed resources, and a failed build gives them back.
 * A failure read from an absence is not final: during a reschedule to another host the server is
 * briefly on no host with no allocation, so the waiters below believe it only after a grace period.
 */
export async function serverBuildState(s: Session, id: string, o: NovaOptions = {}): Promise<BuildState> {
  const actions = await listInstanceActions(s, id, o);
  const create = actions.find((a) => a.action === 'create');
  if (!create) return { phase: 'building', detail: 'no create action recorded yet' };
  const action = await getInstanceAction(s, id, create.request_id, o);
  const events = action.events ?? [];
  const failed = events.find((e) => e.result === 'Error');
  if (failed) {
    const why = failed.details || lastLine(failed.traceback) || action.message || 'no message';
    return { phase: 'failed', final: true, detail: `event ${failed.event} failed${failed.host ? ` on ${failed.host}` : ''}: ${why}` };
  }
  // A reschedule adds a second build event to the same action; the newest one counts.
  const build = events
    .filter((e) => e.event === BUILD_EVENT)
    .sort((a, b) => String(b.start_time ?? '').localeCompare(String(a.start_time ?? '')))[0];
  if (!build) {
    const last = events[events.length - 1];
    return { phase: 'building', detail: last ? `at ${last.event}${last.finish_time ? ' (done)' : ''}` : 'waiting for the scheduler' };
  }
  if (!build.finish_time) return { phase: 'building', detail: `spawning on ${build.host ?? 'a compute host'}` };

  const hypervisors = await listHypervisors(s, { withServers: true }, o);
  const onHost = hypervisors.find((h) => h.servers?.some((x) => x.uuid === id));
  if (!onHost) {
    return {
      phase: 'failed',
      final: false,
      detail: `the build finished but no hypervisor holds the server (nova cleared its host: the build failed${build.host ? ` on ${build.host}` : ''}) - see nova-compute's log`,
    };
  }
  const alloc = await getAllocations(s, id);
  if (Object.keys(alloc.allocations).length === 0) {
    return { phase: 'failed', final: false, detail: `the server is on ${onHost.hypervisor_hostname} but Placement holds no allocation for it - see nova-compute's log` };
  }
  return { phase: 'active', detail: `running on ${onHost.hypervisor_hostname}` };
}

const lastLine = (t: string | null | undefined) => t?.trim().split('\n').pop();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface WaitOptions extends NovaOptions {
  readonly intervalMs?: number;
  /** How long a non-final failure (see BuildState.final) must last before it counts. Default 5 s. */
  readonly graceMs?: number;
  /**
   * Asked between polls, at most every checkEveryMs (default 2 s); what it throws ends the wait.
   * A build sent to a compute service that stopped never moves: its death is named within
   * seconds instead of once the timeout ran out.
   */
  readonly check?: () => Promise<void>;
  readonly checkEveryMs?: number;
}

/** Runs o.check when checkEveryMs has passed since it last ran (or since the wait began). */
const periodicCheck = (o: WaitOptions): (() => Promise<void>) => {
  let last = Date.now();
  return async () => {
    if (!o.check || Date.now() - last < (o.checkEveryMs ?? 2000)) return;
    await o.check();
    last = Date.now();
  };
};

/** Tracks how long a non-final failure has lasted; returns true when it should be believed. */
const failureClock = (graceMs: number) => {
  let since: number | undefined;
  return (st: BuildState): boolean => {
    if (st.phase !== 'failed') {
      since = undefined;
      return false;
    }
    if (st.final) return true;
    since ??= Date.now();
    return Date.now() - since >= graceMs;
  };
};

/** Wait until the server's build succeeded, using serverBuildState() (works without Neutron). */
export async function waitForServerActive(s: Session, id: string, timeoutMs: number, o: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const believe = failureClock(o.graceMs ?? 5000);
  const check = periodicCheck(o);
  for (;;) {
    const st = await serverBuildState(s, id, o);
    if (st.phase === 'active') return;
    if (believe(st)) throw new ApiError(`server ${id} did not become ACTIVE: ${st.detail}`, 'GET', u(s, `servers/${id}/os-instance-actions`, o));
    if (Date.now() >= deadline) {
      throw new ApiError(
        `server ${id} not ACTIVE after ${Math.round(timeoutMs / 1000)} s (${st.detail}) - are nova-scheduler, nova-conductor and nova-compute up? (./stack.ts status)`,
        'GET', u(s, `servers/${id}/os-instance-actions`, o),
      );
    }
    await check();
    await sleep(o.intervalMs ?? FAST_POLL_MS);
  }
}

/**
 * Wait until nova has removed the server named `name`: until the server list (ids and names) no
 * longer holds it. GET /servers/{id} asks Neutron for the server's ports and security groups at
 * every poll, and Neutron's API worker is what the deletion itself waits on (nova deletes the
 * server's port there); the plain list asks Nova's database only.
 */
export async function waitForServerUnlisted(s: Session, id: string, name: string, timeoutMs: number, o: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nameRegex = `^${escapeRegExp(name)}$`;
  for (;;) {
    if (!(await listServersByName(s, nameRegex, o)).some((x) => x.id === id)) return;
    if (Date.now() >= deadline) throw new ApiError(`server ${id} (${name}) still listed after ${Math.round(timeoutMs / 1000)} s: nova has not finished deleting it`, 'GET', u(s, 'servers', o));
    await sleep(o.intervalMs ?? FAST_POLL_MS);
  }
}
