// A service's facts, declared once, the way a kolla-ansible role keeps them in its defaults; the
// lifecycle every such service shares is derived from them here, so that a plugin holds code only
// for what is particular to it. Both kinds produce a ServicePlugin, the one shape the runner uses.
//
// - An OpenStack API service (keystone, glance, placement, neutron, nova): its package list, DB
//   password file, databases and db syncs (init), its Keystone user, service and endpoints
//   (register), the links verify checks, and what clean drops, puts back and removes.
// - An infrastructure service (MariaDB, RabbitMQ, memcached, OVN's databases): its package list and
//   the ports preflight finds free (or its own) before anything is changed.

import type { ApiName } from '../api-services.ts';
import type { ServiceName, SettingName } from '../config/schema.ts';
import { StackError } from '../errors.ts';
import { readPackageList } from '../packages.ts';
import type { ConfigFile, LinkCheck, ServicePlugin, StackContext } from '../plugin.ts';
import { checkPorts, type PortSpec } from '../preflight.ts';
import { stopPlugin } from '../stop-plugin.ts';
import { dbPasswordFile } from './config.ts';
import { dbSync, ensureDatabases } from './db.ts';
import { settledInOrder } from '../wait.ts';
import { cleanService, registerService, serviceLinks } from './lifecycle.ts';

/** A config file of the service, rendered by its plugin, put back to the packaged copy by clean. */
export interface ConfigDecl {
  readonly path: string;
  /** The copy the package ships: the file is rendered from it before the first stack, and clean puts it back. */
  readonly packaged?: string;
  /** Only clean uses the packaged copy: rendering starts from the host's file (or nothing). */
  readonly renderFromPackaged?: false;
  /** local.conf's [[post-config|$NAME]] name for it. */
  readonly variable?: string;
  readonly owner?: string;
  /** Only where this holds (glance-registry.conf: releases before Ussuri). */
  readonly when?: (ctx: StackContext) => boolean;
}

/** One schema migration, run as the service's user; its outcome is checked (lib/service/db.ts). */
export interface DbSyncDecl {
  /** How the task log and its stamp name it: "glance-manage db_sync". */
  readonly label: string;
  readonly command: string;
  /** The databases it migrates (those it must leave tables in). */
  readonly databases: readonly string[];
  /** What must be in place before it runs. */
  readonly before?: (ctx: StackContext) => Promise<void>;
  /**
   * The labels of the earlier syncs it waits for; without it, the one declared before it. `[]`
   * starts it with the first: syncs of separate databases run at once (Nova's three).
   */
  readonly after?: readonly string[];
}

export interface ApiServiceDescriptor {
  /** The plugin's name; also the service's system user, DB user, package list and Keystone user. */
  readonly name: string;
  /** devstack service names that enable it. */
  readonly services: readonly ServiceName[];
  /** Plugins that must have started before this one configures. */
  readonly needs: readonly string[];
  /** What each of its phases waits for besides its own earlier ones (see ServicePlugin.after). */
  readonly after: NonNullable<ServicePlugin['after']>;
  /** The APIs it serves; their ports are declared in lib/api-services.ts. */
  readonly apis: readonly ApiName[];
  /** Its own log: what explains a failed db sync or a broken link. */
  readonly log: string;
  readonly configs: readonly ConfigDecl[];
  readonly databases: readonly string[];
  /** In the order they run, after its databases and DB user are made. */
  readonly dbSyncs: readonly DbSyncDecl[];
  /** Its service user and catalog entry in Keystone (Keystone itself has neither: bootstrap makes its own). */
  readonly keystone?: {
    /** The setting that holds the service user's password. */
    readonly password: SettingName;
    /** The catalog's service type: its endpoints' URL is the address table's for it. */
    readonly type: ApiName;
    readonly description: string;
    /** The admin request each of its link checks first sends it (so its own log has the lines that explain a failure). */
    readonly probe: string;
  };
  /** What else stack.ts made that clean removes (data and log files), besides its databases and config files. */
  readonly leaves: (ctx: StackContext) => readonly string[];
}

/** The parts of a plugin its descriptor does not give. */
export type Particular = Partial<Omit<ServicePlugin, 'name' | 'services' | 'needs' | 'after'>>;

const descriptors = new WeakMap<ServicePlugin, ApiServiceDescriptor | InfraDescriptor>();

/** The declaration a plugin was made from, if it was made from one. */
export const descriptorOf = (p: ServicePlugin): ApiServiceDescriptor | InfraDescriptor | undefined => descriptors.get(p);

/** The password of the service's Keystone user. */
export function servicePassword(ctx: StackContext, d: ApiServiceDescriptor): string {
  if (!d.keystone) throw new StackError(`${d.name} has no service user`, 'this is a bug in stack.ts');
  return String(ctx.config.settings[d.keystone.password]);
}

/** The config files clean puts back (or removes, without a packaged copy) on this host. */
const configsHere = (ctx: StackContext, d: ApiServiceDescriptor): ConfigDecl[] => d.configs.filter((c) => c.when?.(ctx) ?? true);

/** Each db sync once the syncs it waits for are done; a failed one stops those after it (the others finish first). */
async function runDbSyncs(ctx: StackContext, d: ApiServiceDescriptor): Promise<void> {
  const done = new Map<string, Promise<void>>();
  for (const [i, step] of d.dbSyncs.entries()) {
    const waits = (step.after ?? (i > 0 ? [d.dbSyncs[i - 1]!.label] : [])).map((label) => {
      const p = done.get(label);
      if (!p) throw new Error(`${d.name}: db sync "${step.label}" waits for "${label}", which is not declared before it`);
      return p;
    });
    done.set(
      step.label,
      Promise.all(waits).then(async () => {
        await step.before?.(ctx);
        await dbSync(ctx, { user: d.name, command: step.command, databases: step.databases, label: step.label, logFile: d.log });
      }),
    );
  }
  await settledInOrder([...done.values()]);
}

/**
 * The ServicePlugin of an API service: what its descriptor gives, derived here, and the rest from
 * `particular`. A particular phase the descriptor also derives runs after the derived part (init:
 * after the db syncs; register: after the Keystone registration; configFiles: after the DB
 * password file). `particular` may be a function of the derived plugin, to wrap a derived phase.
 */
export function apiServicePlugin(d: ApiServiceDescriptor, particular: Particular | ((derived: ServicePlugin) => Particular) = {}): ServicePlugin {
  const k = d.keystone;
  const base: ServicePlugin = {
    name: d.name,
    services: d.services,
    needs: d.needs,
    after: d.after,
    packages: async (ctx) => readPackageList(d.name, ctx.facts.family),
    async init(ctx) {
      await ensureDatabases(ctx, d.name, d.databases);
      await runDbSyncs(ctx, d);
    },
    ...(k
      ? {
          async register(ctx: StackContext) {
            const url = ctx.endpoints.url[k.type];
            await registerService(ctx, { user: d.name, password: servicePassword(ctx, d), name: d.name, type: k.type, description: k.description, url });
          },
          links: async (ctx: StackContext): Promise<readonly LinkCheck[]> =>
            serviceLinks(ctx, { name: d.name, user: d.name, password: servicePassword(ctx, d), type: k.type, databases: d.databases, log: d.log, probe: k.probe }),
        }
      : {}),
    async clean(ctx) {
      await stopPlugin(ctx, plugin);
      await cleanService(ctx, {
        databases: d.databases,
        dbUser: d.name,
        configs: configsHere(ctx, d).map((c) => ({ path: c.path, ...(c.packaged ? { packaged: c.packaged } : {}) })),
        paths: d.leaves(ctx),
      });
    },
  };
  const own = typeof particular === 'function' ? particular(base) : particular;
  const plugin: ServicePlugin = {
    ...base,
    ...own,
    async configFiles(ctx): Promise<readonly ConfigFile[]> {
      return [dbPasswordFile(ctx, d.name), ...((await own.configFiles?.(ctx)) ?? [])];
    },
    async init(ctx) {
      await base.init!(ctx);
      await own.init?.(ctx);
    },
    ...(base.register || own.register
      ? {
          async register(ctx: StackContext) {
            await base.register?.(ctx);
            await own.register?.(ctx);
          },
        }
      : {}),
  };
  descriptors.set(plugin, d);
  return plugin;
}

/** An infrastructure service: what every one of them declares alike. */
export interface InfraDescriptor {
  readonly name: string;
  readonly services: readonly ServiceName[];
  /** The ports it listens on: preflight finds each free, or held by its own process (a re-run). */
  readonly ports: readonly PortSpec[];
}

/**
 * The ServicePlugin of an infrastructure service: it needs no other plugin and waits for none,
 * its packages are its list's, and its preflight ends with its ports' check (after the
 * particular preflight's own checks, settings first).
 */
export function infraPlugin(d: InfraDescriptor, particular: Particular): ServicePlugin {
  const plugin: ServicePlugin = {
    name: d.name,
    services: d.services,
    needs: [],
    after: { init: [], start: [], register: [] },
    packages: (ctx) => readPackageList(d.name, ctx.facts.family),
    ...particular,
    async preflight(ctx) {
      await particular.preflight?.(ctx);
      await portsFree(ctx, d.ports);
    },
  };
  descriptors.set(plugin, d);
  return plugin;
}

/** Each port free or held by its own process on this host; else the problems, as one error. */
export async function portsFree(ctx: StackContext, ports: readonly PortSpec[]): Promise<void> {
  const problems = (await checkPorts(ctx.host, ports)).filter((p) => p.severity === 'error');
  if (problems.length) throw new StackError(problems.map((p) => p.message).join('\n'), problems[0]!.hint);
}
