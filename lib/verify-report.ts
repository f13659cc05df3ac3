// verify --json: every check of the run (each leaf of verify's task tree) with its result, the
// seconds it took, and for the one that failed the broken link and the first line of why.

import { BrokenLinkError } from './links.ts';
import type { RunSummary, TaskNode } from './tasks.ts';

export interface VerifyCheck {
  readonly id: string;
  readonly host: string | null;
  readonly service: string | null;
  readonly check: string;
  /** 'stopped': ended because another check failed; 'not run': never started. */
  readonly result: 'pass' | 'fail' | 'skipped' | 'stopped' | 'not run';
  readonly seconds: number;
  /** The broken link ("keystone -> mariadb"), when this check found one. */
  readonly link?: string;
  /** The failure's first line (masked), when it failed. */
  readonly error?: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly seconds: number;
  readonly checks: readonly VerifyCheck[];
}

const round = (ms: number): number => Math.round(ms / 100) / 10;

export function verifyReport(tree: readonly TaskNode[], run: RunSummary, mask: (t: string) => string): VerifyReport {
  const leaves: Array<{ node: TaskNode; host?: string; service?: string }> = [];
  const walk = (n: TaskNode, host?: string, service?: string): void => {
    const h = n.host ?? host;
    const s = n.service ?? service;
    if (n.children?.length) n.children.forEach((c) => walk(c, h, s));
    else leaves.push({ node: n, host: h, service: s });
  };
  tree.forEach((n) => walk(n));
  const failure = run.error instanceof BrokenLinkError ? run.error : undefined;
  const checks = leaves.map(({ node, host, service }): VerifyCheck => {
    const t = run.timings.find((r) => r.id === node.id);
    const failed = t?.status === 'failed' && node.id === run.failedTask;
    const firstLine = run.error instanceof Error ? run.error.message.split('\n')[0] ?? '' : String(run.error);
    return {
      id: node.id,
      host: host ?? null,
      service: service ?? null,
      check: node.title,
      result: !t ? 'not run' : t.status === 'done' ? 'pass' : t.status === 'skipped' ? 'skipped' : failed ? 'fail' : 'stopped',
      seconds: round(t?.ms ?? 0),
      ...(failed && failure ? { link: failure.broken.link } : {}),
      ...(failed ? { error: mask(firstLine) } : {}),
    };
  });
  return { ok: run.ok, seconds: round(run.totalMs), checks };
}
