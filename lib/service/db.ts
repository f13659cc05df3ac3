// A service's databases: created with its own DB user, and migrated by its db sync, whose outcome
// is checked and whose re-run is skipped while the schema is where this package version puts it.

import { sh } from '../shell.ts';
import { StackError } from '../errors.ts';
import type { StackContext } from '../plugin.ts';
import { logTail } from '../log-tail.ts';
import { withAdminDb, ensureServiceDatabase } from '../db-admin.ts';
import { converge, packageVersion } from '../converge.ts';
import { dbPassword, dbPasswordPath } from './config.ts';

/** Create the service's databases and its DB user (grants limited to the hosts that need them). */
export async function ensureDatabases(ctx: StackContext, user: string, databases: readonly string[]): Promise<void> {
  await ensureServiceDatabase(ctx, { databases: [...databases], user, password: dbPassword(ctx, user) });
}

/**
 * Run a schema migration as the service's own user (so its log files are not root-owned) and then
 * check the outcome: seed 001's db_sync exited 0, printed one harmless-looking line and made no tables.
 */
/**
 * A db sync whose schema is already where this package version puts it is not run again: the
 * stamp holds the command, the package version and the schema it left (tables, migration
 * version); a dropped table or a sync killed halfway leaves another schema, and it runs.
 */
export async function dbSync(
  ctx: StackContext,
  step: { user: string; command: string; databases: readonly string[]; label: string; logFile?: string },
): Promise<void> {
  await converge(ctx, {
    key: step.label,
    inputs: [step.command, step.databases, ctx.config.settings.DATABASE_HOST, await packageVersion(ctx, `python3-${step.user}`)],
    observe: () => schemaState(ctx, step.databases),
    run: () => runDbSync(ctx, step),
  });
}

/** Tables and migration versions of the databases: what a db sync leaves. */
export async function schemaState(ctx: StackContext, databases: readonly string[]): Promise<unknown> {
  return withAdminDb(ctx, async (db) => {
    const out: Record<string, unknown> = {};
    for (const name of databases) {
      const tables = await db.tables(name);
      const versions: string[] = [];
      for (const t of ['alembic_version', 'migrate_version']) {
        if (!tables.includes(t)) continue;
        const rows = await db.query<Record<string, unknown>>(`SELECT * FROM \`${name}\`.\`${t}\``);
        versions.push(...rows.map((r) => JSON.stringify(r)).sort());
      }
      out[name] = { tables, versions };
    }
    return out;
  });
}

async function runDbSync(
  ctx: StackContext,
  step: { user: string; command: string; databases: readonly string[]; label: string; logFile?: string },
): Promise<void> {
  const run = await ctx.host.run(sh('su', '-s', '/bin/sh', '-c', step.command, step.user), {
    check: false,
    timeoutMs: ctx.config.settings.COMMAND_TIMEOUT * 1000,
  });
  if (run.exitCode !== 0) {
    // The command's own output is often only shutdown noise; the cause is in the service's log.
    const output = ctx.log.mask((run.stderr || run.stdout).trim().split('\n').slice(-8).join('\n'));
    throw new StackError(
      `${step.label} failed on ${ctx.host.name} (exit ${run.exitCode}): ${step.command}${output ? `\n${output}` : ''}`,
      `A wrong [database] connection, a database that refuses the user, or an unreadable ${dbPasswordPath(step.user)} are the usual causes.`,
      step.logFile ? { file: step.logFile, lines: await logTail(ctx, step.logFile) } : undefined,
    );
  }
  await withAdminDb(ctx, async (db) => {
    for (const name of step.databases) {
      const n = await db.tableCount(name);
      if (n === 0) {
        throw new StackError(
          `${step.label} exited 0 but database "${name}" on ${ctx.endpoints.database.host} has no tables.`,
          `The migration did nothing: check the [database] connection in the service's config and the output below.`,
          { file: step.logFile ?? 'output', lines: ctx.log.mask((run.stdout + '\n' + run.stderr).trim().split('\n').slice(-20).join('\n')) },
        );
      }
    }
  });
}
