// The newest stack.ts run log beside an e2e test's config: why a failed run failed, put into the
// assertion message (the work dir, logs included, is removed after the test).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function newestLogTail(work: string, lines = 80): string {
  const dir = join(work, '.stack', 'logs');
  if (!existsSync(dir)) return '(no log)';
  const newest = readdirSync(dir).sort().pop();
  return newest ? readFileSync(join(dir, newest), 'utf8').split('\n').slice(-lines).join('\n') : '(no log)';
}
