// Reading a file the user named (the config, the hosts file, the secrets file) without hanging on
// it: a fifo there would block open() and read() forever, where SIGTERM cannot reach the blocked
// thread, and /dev/zero or a log of gigabytes would never end. Opened non-blocking, checked with
// fstat (the file opened, not a name that may change) and capped in size before a byte is read.

import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/** What a path is, in words for a message: "a directory", "a named pipe (fifo)". */
export const kindOf = (st: Stats): string =>
  st.isFile() ? 'a file'
  : st.isDirectory() ? 'a directory'
  : st.isFIFO() ? 'a named pipe (fifo)'
  : st.isSocket() ? 'a socket'
  : st.isCharacterDevice() || st.isBlockDevice() ? 'a device'
  : 'not a regular file';

/** Thrown for a path that is not a regular file (`kind` says what it is) or is over the cap. */
export class UnreadableFile extends Error {
  constructor(
    readonly code: 'ENOTFILE' | 'ETOOBIG',
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'UnreadableFile';
  }
}

/**
 * The whole content of a regular file of at most `maxBytes`. Throws UnreadableFile for anything
 * else, and the system's error (ENOENT, EACCES, ELOOP with `noFollow`) when it cannot be opened.
 */
export async function readPlainFile(path: string, maxBytes: number, opts: { noFollow?: boolean; onOpen?: (st: Stats) => void } = {}): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0));
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UnreadableFile('ENOTFILE', kindOf(st));
    if (st.size > maxBytes) throw new UnreadableFile('ETOOBIG', `${formatSize(st.size)}, over the ${formatSize(maxBytes)} stack.ts reads`);
    opts.onOpen?.(st);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

const formatSize = (n: number): string => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.ceil(n / 1024)} kB`);
