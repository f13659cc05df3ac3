// STACK_STATE_DIR and LOGDIR are removed by `clean` with everything in them. Validation refuses
// the directories a system is known to use, but a name alone proves nothing: a directory that
// existed before stack.ts (someone's /srv/data, set by a typo) must survive `clean`. So stack.ts
// marks the directories it makes itself, and `clean` removes only a directory holding its mark.

import path from 'node:path';
import { quote } from './shell.ts';

/** The file whose presence says "stack.ts made this directory". */
export const OWN_MARK = '.made-by-stack-ts';

const mark = (dir: string): string => quote(path.posix.join(dir, OWN_MARK));

/** Shell: makes each directory that does not exist yet, with the mark; one that exists is left as it is. */
export const makeOwnDirsCommand = (dirs: readonly string[]): string =>
  dirs.map((d) => `if [ ! -e ${quote(d)} ] && [ ! -L ${quote(d)} ]; then mkdir -p -- ${quote(d)} && : > ${mark(d)}; fi`).join('\n');

/**
 * Shell: removes each directory that holds the mark (and is no link); prints every other one that
 * exists, one per line, for `clean` to name as left behind.
 */
export const removeOwnDirsCommand = (dirs: readonly string[]): string =>
  dirs
    .map((d) => `if [ ! -L ${quote(d)} ] && [ -f ${mark(d)} ]; then rm -rf -- ${quote(d)}; elif [ -e ${quote(d)} ] || [ -L ${quote(d)} ]; then echo ${quote(d)}; fi`)
    .join('\n');
