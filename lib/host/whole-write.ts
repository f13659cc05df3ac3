// A file sent to a host over a channel that can drop mid-transfer: the bytes land in a temp file
// beside the target, and only when their size and sha256 match what was sent is it renamed over
// the target. A dropped connection leaves the old file (or none), never a truncated config.

import { createHash } from 'node:crypto';
import path from 'node:path';
import { quote } from '../shell.ts';

/** Exit code of the script when what arrived is not what was sent. */
export const INCOMPLETE_EXIT = 75;

/** The shell script that installs stdin at `file`; mode and owner are set before any content lands. */
export function wholeWriteScript(file: string, data: Buffer, opts: { mode: number; owner?: string }): string {
  const mode = opts.mode.toString(8).padStart(4, '0');
  const dir = path.posix.dirname(file);
  const tmpl = path.posix.join(dir, `.${path.posix.basename(file)}.stackts-XXXXXX`);
  const sha = createHash('sha256').update(data).digest('hex');
  return [
    'umask 022',
    `mkdir -p -- ${quote(dir)}`,
    `t=$(mktemp ${quote(tmpl)}) || exit 1`,
    `trap 'rm -f -- "$t"' EXIT`,
    `chmod ${mode} "$t"`,
    ...(opts.owner ? [`chown -- ${quote(opts.owner)} "$t"`] : []),
    'cat > "$t"',
    `size=$(wc -c < "$t" | tr -d ' ') && sum=$(sha256sum "$t" | cut -d' ' -f1)`,
    `{ [ "$size" = ${data.length} ] && [ "$sum" = ${sha} ] || { printf 'received %s bytes (sha256 %s) for %s, sent %s (%s): the file was left as it was\\n' "$size" "$sum" ${quote(file)} ${data.length} ${sha} >&2; exit ${INCOMPLETE_EXIT}; }; }`,
    `mv -f -- "$t" ${quote(file)}`,
  ].join(' &&\n');
}
