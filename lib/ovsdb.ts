// OVSDB databases: Open vSwitch's conf.db and OVN's northbound and southbound databases are each
// one ovsdb-server over one file made from a schema its package ships. Making the file (or
// converting it after a package upgrade) and waiting for a server to answer are the same for all three.

import { StackError } from './errors.ts';
import type { StackContext } from './plugin.ts';
import { quote } from './shell.ts';
import { pollUntil } from './wait.ts';
import type { LogTail } from './log-tail.ts';

export interface OvsdbFile {
  readonly db: string;
  readonly schema: string;
}

/** Creates the database file from its schema, or converts it to a newer schema; a current one is left alone. */
export async function ensureOvsdbFile(ctx: StackContext, f: OvsdbFile): Promise<'created' | 'converted' | 'current'> {
  const db = quote(f.db);
  const schema = quote(f.schema);
  const r = await ctx.host.run(
    [
      `install -d -m 0755 "$(dirname ${db})"`,
      `if [ ! -s ${db} ]; then ovsdb-tool create ${db} ${schema} && echo created; ` +
        `elif [ "$(ovsdb-tool needs-conversion ${db} ${schema})" = yes ]; then ovsdb-tool convert ${db} ${schema} && echo converted; ` +
        `else echo current; fi`,
    ].join(' && '),
    { label: `database ${f.db}` },
  );
  const out = r.stdout.trim().split('\n').pop();
  return out === 'created' || out === 'converted' ? out : 'current';
}

/** Waits until the server at `remote` lists `database`; on timeout the error quotes its log. */
export async function waitForOvsdb(
  ctx: StackContext,
  o: { readonly name: string; readonly remote: string; readonly database: string; readonly log: () => Promise<LogTail> },
): Promise<void> {
  const cmd = `ovsdb-client --timeout=5 list-dbs ${quote(o.remote)}`;
  const res = await pollUntil(
    async () => {
      const r = await ctx.host.run(cmd, { check: false, label: `${o.name} answers` });
      return { ok: r.exitCode === 0 && r.stdout.split('\n').includes(o.database), detail: (r.stderr || r.stdout).trim().split('\n').pop() ?? '' };
    },
    { timeoutMs: ctx.config.settings.SERVICE_TIMEOUT * 1000, intervalMs: 300 },
  );
  if (!res.ok) {
    const t = await o.log();
    throw new StackError(
      `${o.name} on ${ctx.host.name} does not serve ${o.database} at ${o.remote} after ${Math.round(res.elapsedMs / 1000)} s: ${res.detail}`,
      `Its log below says why; ./stack.ts status shows whether it runs.`,
      t,
    );
  }
}
