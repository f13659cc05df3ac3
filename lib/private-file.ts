// Files on this machine that hold secrets (the secrets file, openrc, clouds.yaml): written whole
// through a fresh temporary file and a rename, never through anything already at either path.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * The temporary file is created with O_EXCL|O_NOFOLLOW under an unguessable name, so a file or
 * link planted beside the target is never written through; rename() replaces a link at the
 * target itself instead of following it. The mode is set before the first byte lands (umask could
 * only narrow open()'s), so the content is never readable by others, not even briefly.
 */
export async function writePrivateFile(file: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.close();
    await rename(tmp, file);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
