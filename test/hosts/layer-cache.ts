// Cached overlay layers that sit between a test host's base root filesystem and its own upper
// dir: today the installed state of a package list (package-layers.ts). A layer is a directory
// named by what makes it (layer-<suite>-<label>-<hash of its key>); it counts only once its
// marker file is in it, and the marker is written into the `.tmp` directory before the rename
// that publishes it, so a build that dies half-way leaves nothing that a later run would use.
// One build per layer across processes: the maker holds locks/<layer>.lock while it builds.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { lockFile, tryLockFile } from './lock.ts';
import { cacheDir, locksDir } from './paths.ts';

const LAYER_FORMAT = 'stack-ts-test-layer-1';
export const LAYER_MARKER = '.stack-ts-layer.json';

/** Everything that decides a layer's content. A change in any field makes another layer. */
export interface LayerKey {
  readonly suite: string;
  /** Names the layer's purpose (e.g. "controller"); older layers of the same suite and label are pruned. */
  readonly label: string;
  /** The base root filesystem the layer was made on (its directory name carries the base's recipe hash). */
  readonly base: string;
  readonly packages: readonly string[];
  /** What apt resolved the list to: one "name version" per package it would install. */
  readonly versions: readonly string[];
}

/** A key's list as it is hashed and compared: each entry once, sorted (list order says nothing). */
const sortedOnce = (l: readonly string[]): string[] => [...new Set(l)].sort();

export function layerName(key: LayerKey): string {
  if (!/^[a-z0-9-]+$/.test(key.label)) throw new Error(`layer label "${key.label}" must be lowercase letters, digits and dashes`);
  const canonical = {
    format: LAYER_FORMAT,
    suite: key.suite,
    label: key.label,
    base: key.base,
    packages: sortedOnce(key.packages),
    versions: sortedOnce(key.versions),
  };
  const hash = createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
  return `layer-${key.suite}-${key.label}-${hash}`;
}

export const layerDir = (key: LayerKey): string => join(cacheDir(), layerName(key));

/** The finished layer of `key`, if one is cached. */
export function findLayer(key: LayerKey): string | undefined {
  const dir = layerDir(key);
  return existsSync(join(dir, LAYER_MARKER)) ? dir : undefined;
}

/**
 * The newest finished layer made for the same suite, label, base and package list as `key`,
 * whatever versions apt resolved them to then: what a run uses when the mirror does not answer
 * the `apt-get update` that would name today's versions (package-layers.ts).
 */
export function newestLayerLike(key: Omit<LayerKey, 'versions'>): { dir: string; made: string } | undefined {
  const packages = JSON.stringify(sortedOnce(key.packages));
  let best: { dir: string; made: string } | undefined;
  const names = existsSync(cacheDir()) ? readdirSync(cacheDir()) : [];
  for (const name of labelLayers(names, key).filter((n) => !n.endsWith('.tmp'))) {
    const dir = join(cacheDir(), name);
    let marker: Partial<LayerKey & { made: string }>;
    try {
      marker = JSON.parse(readFileSync(join(dir, LAYER_MARKER), 'utf8')) as Partial<LayerKey & { made: string }>;
    } catch {
      continue; // no marker: not finished
    }
    if (marker.base !== key.base || !marker.packages || JSON.stringify(sortedOnce(marker.packages)) !== packages) continue;
    // ISO times: their text sorts as they do.
    const made = marker.made ?? '';
    if (!best || made > best.made) best = { dir, made };
  }
  return best && { dir: touch(best.dir), made: best.made || 'at an unknown time' };
}

export interface LayerClaim {
  /** Where the maker puts the layer's files; published by commit(). */
  readonly tmpDir: string;
  commit(): Promise<string>;
  /** Gives up (the build failed): the partial tree goes, the lock is freed. */
  abandon(): Promise<void>;
}

/**
 * The cached layer of `key` if it is there; otherwise the right to make it (this process holds
 * the layer's lock until commit or abandon). Waits while another process makes the same layer,
 * then returns its result.
 */
export async function claimLayer(key: LayerKey, waitMs = 40 * 60_000): Promise<{ dir: string } | { claim: LayerClaim }> {
  const found = findLayer(key);
  if (found) return { dir: touch(found) };
  mkdirSync(locksDir(), { recursive: true });
  const name = layerName(key);
  const lock = await lockFile(join(locksDir(), `${name}.lock`), waitMs);
  const made = findLayer(key); // another process made it while we waited
  if (made) {
    lock.release();
    return { dir: touch(made) };
  }
  const dir = layerDir(key);
  const tmpDir = `${dir}.tmp`;
  // We hold the lock: a .tmp or a markerless dir is what a killed maker left.
  rmSync(tmpDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true, mode: 0o755 });
  return {
    claim: {
      tmpDir,
      commit: async () => {
        try {
          writeFileSync(join(tmpDir, LAYER_MARKER), `${JSON.stringify({ ...key, made: new Date().toISOString() }, null, 2)}\n`);
          renameSync(tmpDir, dir);
        } finally {
          lock.release();
        }
        await pruneLayers(key);
        return dir;
      },
      abandon: async () => {
        try {
          await rm(tmpDir, { recursive: true, force: true });
        } finally {
          lock.release();
        }
      },
    },
  };
}

/** Marks a layer as used now: pruning by age keeps what runs still use. */
function touch(dir: string): string {
  const now = new Date();
  utimesSync(join(dir, LAYER_MARKER), now, now);
  return dir;
}

/** Layer directories (finished or not) of the same suite and label as `key`. */
function labelLayers(names: readonly string[], key: Pick<LayerKey, 'suite' | 'label'>): string[] {
  const prefix = `layer-${key.suite}-${key.label}-`;
  return names.filter((n) => n.startsWith(prefix) && /^[0-9a-f]{16}(\.tmp)?$/.test(n.slice(prefix.length)));
}

/** Layer directories (finished or not) of the same suite and label as `key`, other than its own. */
export function olderLayers(names: readonly string[], key: LayerKey): string[] {
  const own = layerName(key);
  return labelLayers(names, key).filter((n) => n !== own);
}

/**
 * Removes older layers of the same suite and label (a new package version or list made a new one),
 * unless an overlay on this machine still has it as a lower dir, and half-made ones whose maker is
 * gone (nobody holds their lock). A layer is 0.5-1.5 GB.
 */
async function pruneLayers(key: LayerKey): Promise<void> {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const name of olderLayers(readdirSync(cacheDir()), key)) {
    const path = join(cacheDir(), name);
    const finished = name.replace(/\.tmp$/, '');
    if (mounts.includes(path)) continue;
    const lock = await tryLockFile(join(locksDir(), `${finished}.lock`));
    if (!lock) continue; // being made (or read) right now
    try {
      rmSync(path, { recursive: true, force: true });
    } finally {
      lock.release();
    }
  }
}
