// Which leaf tasks finished, and with what inputs, so a re-run skips work whose inputs did not
// change. The file holds only hashes: a fingerprint built from a password never lands on disk.

import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** JSON with object keys sorted, so equal values always hash the same. */
const stableJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Map) return { $map: [...v.entries()].sort() };
    if (v instanceof Set) return { $set: [...v].sort() };
    if (typeof v === 'bigint') return `${v}n`;
    if (v === undefined) return null;
    if (v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  }) ?? 'null';

/** sha256 of the values' stable JSON. Pass secrets in freely: only the hash leaves this function. */
export const fingerprintOf = (...values: unknown[]): string => sha256(stableJson(values));

interface CheckpointFile {
  readonly version: 1;
  /** task id -> sha256(id, fingerprint) */
  readonly done: Record<string, string>;
}

export class Checkpoint {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private done: Map<string, string>,
  ) {}

  /** A missing file is an empty checkpoint; an unreadable one is an error naming the file. */
  static async load(path: string): Promise<Checkpoint> {
    const abs = resolve(path);
    let text: string;
    try {
      text = await readFile(abs, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Checkpoint(abs, new Map());
      throw e;
    }
    let parsed: CheckpointFile;
    try {
      parsed = JSON.parse(text) as CheckpointFile;
    } catch {
      throw new Error(`${abs}: the checkpoint file is not valid JSON. Delete it (the next run redoes every step) and run again.`);
    }
    if (parsed?.version !== 1 || typeof parsed.done !== 'object' || parsed.done === null) {
      throw new Error(`${abs}: unknown checkpoint file format. Delete it and run again.`);
    }
    return new Checkpoint(abs, new Map(Object.entries(parsed.done).filter(([, v]) => typeof v === 'string')));
  }

  // The id is hashed in too, so two tasks with the same inputs do not share an entry's value.
  private static entry(id: string, fingerprint: string): string {
    return sha256(`${id}\0${fingerprint}`);
  }

  isDone(id: string, fingerprint: string): boolean {
    return this.done.get(id) === Checkpoint.entry(id, fingerprint);
  }

  /** Record and persist at once: a run killed right after this task still knows it finished. */
  async markDone(id: string, fingerprint: string): Promise<void> {
    this.done.set(id, Checkpoint.entry(id, fingerprint));
    await this.persist();
  }

  /** Forget one task (e.g. it failed after a partial change). */
  async forget(id: string): Promise<void> {
    if (this.done.delete(id)) await this.persist();
  }

  /** Forget everything (unstack/clean): the next run does every step. */
  async clear(): Promise<void> {
    this.done = new Map();
    this.writing = this.writing.catch(() => undefined).then(() => rm(this.path, { force: true }));
    await this.writing;
  }

  get size(): number {
    return this.done.size;
  }

  // Writes are chained: parallel hosts finishing together must not interleave renames.
  private persist(): Promise<void> {
    const body: CheckpointFile = { version: 1, done: Object.fromEntries(this.done) };
    const text = JSON.stringify(body, null, 2) + '\n';
    this.writing = this.writing.catch(() => undefined).then(async () => {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const tmp = join(dirname(this.path), `.${basename(this.path)}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
        await chmod(tmp, 0o600);
        await rename(tmp, this.path);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    });
    return this.writing;
  }
}
