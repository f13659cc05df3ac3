// `plan`'s findings, collected once: the hosts, the tasks in an order the run can take, the address
// table and every config file a stack would change (diffs masked). Printed as text, or with --json
// as one JSON document; neither holds a password.

import { collectNetworkReport, formatNetworkReport, type NetworkReport } from './network/plan.ts';
import { planFileChanges } from './config-files.ts';
import { urlHost, type Endpoints } from './endpoints.ts';
import type { ServicePlugin, StackContext } from './plugin.ts';
import { formatTaskOrder, plannedTasks, type PlannedTask, type TaskNode } from './tasks.ts';
import type { Topology } from './topology.ts';

export interface PlanReport {
  readonly hosts: ReadonlyArray<{ host: string; os: string; init: string; release: string }>;
  readonly tasks: readonly PlannedTask[];
  readonly addresses: {
    readonly database: string;
    /** Its password masked. */
    readonly transportUrl: string;
    readonly memcached: string;
    readonly apis: Readonly<Record<string, string>>;
    readonly hosts: ReadonlyArray<{ host: string; address: string; bind: string; myIp: string; services: readonly string[] }>;
  };
  readonly changedFiles: ReadonlyArray<{ host: string; path: string; diff: string }>;
  /** Passwords no secrets file keeps yet: made up for this plan, a stack would generate them once. */
  readonly passwordsNotKeptYet: readonly string[];
  /** The guests' networks, router and datapaths (absent without OVN). */
  readonly network?: NetworkReport;
}

export async function collectPlan(args: {
  hosts: ReadonlyArray<{ ctx: StackContext; plugins: readonly ServicePlugin[] }>;
  tasks: readonly TaskNode[];
  endpoints: Endpoints;
  topology: Topology;
  invented: readonly string[];
  mask: (t: string) => string;
}): Promise<PlanReport> {
  const e = args.endpoints;
  const network = await collectNetworkReport(args.hosts.map((h) => h.ctx));
  const changes = await Promise.all(args.hosts.map(async ({ ctx, plugins }) => (await planFileChanges(ctx, plugins)).map((c) => ({ host: ctx.host.name, ...c }))));
  return {
    hosts: args.hosts.map(({ ctx }) => ({ host: ctx.host.name, os: `${ctx.facts.id} ${ctx.facts.version}`, init: ctx.facts.init, release: ctx.release.name })),
    tasks: plannedTasks(args.tasks),
    addresses: {
      database: `${urlHost(e.database.host)}:${e.database.port}`,
      transportUrl: args.mask(e.transportUrl),
      memcached: e.memcacheServers,
      apis: { ...e.url },
      hosts: args.topology.hosts.map((h) => {
        const a = e.hosts.get(h.name)!;
        return { host: h.name, address: a.address, bind: a.bind, myIp: a.myIp, services: [...h.services] };
      }),
    },
    changedFiles: changes.flat(),
    passwordsNotKeptYet: [...args.invented],
    ...(network ? { network } : {}),
  };
}

/** The text `plan` prints; `addresses` is formatEndpoints' table, `secretsFile` as the user names it. */
export function formatPlan(report: PlanReport, tasks: readonly TaskNode[], addresses: string, secretsFile: string): string {
  const out: string[] = report.hosts.map((h) => `Plan for ${h.host} (${h.os}, ${h.init}, OpenStack ${h.release}):`);
  out.push('', 'Tasks in an order the run can take (hosts in parallel; each starts once what it waits for is done):');
  out.push(...formatTaskOrder(tasks).map((l) => `  ${l}`));
  out.push('', addresses);
  if (report.network) out.push('', ...formatNetworkReport(report.network));
  out.push('', 'Config file changes:');
  const invented = report.passwordsNotKeptYet;
  if (invented.length) {
    // Made up for this plan only (it writes nothing): the -/+ password lines are what a stack
    // would change, not a change someone made, and their values differ on every plan.
    const them = invented.length === 1 ? 'it' : 'them';
    out.push(`  (no password is kept yet for ${invented.join(', ')} in ${secretsFile}: a stack would generate ${them} once, keep ${them} there, and write ${them} where the password lines below say)`);
  }
  out.push(...report.changedFiles.map((c) => c.diff));
  if (!report.changedFiles.length) out.push('  (none: every file already has these values)');
  return out.join('\n');
}
