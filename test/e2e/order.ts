// The end-to-end files take 10-45 minutes each, every other file seconds. Started longest first,
// vitest's two workers stay busy to the end of a CI run. Its own order on a machine without its
// results cache is "biggest file first", which put the three-line all-in-one files last, one after
// the other on a single worker (81 min measured where 65 would do).
// The re-run, fault and kill checks are the longest by far (each fault a verify and a re-run).
// Since the three-host and libvirt files start from package layers (test/hosts/package-layers.ts),
// the fresh all-in-one installs outlast them: measured warm, three hosts 8 min, libvirt 4-9 min.
const LONGEST_FIRST = ['rerun-bookworm', 'allinone-bookworm', 'allinone-trixie', 'multihost', 'libvirt'];

/** Where a test file goes: its place in LONGEST_FIRST, or after all of them. */
export function e2eRank(file: string): number {
  const m = /\/test\/e2e\/([^/]+)\.test\.ts$/.exec(file);
  const i = m ? LONGEST_FIRST.indexOf(m[1]!) : -1;
  return i === -1 ? LONGEST_FIRST.length : i;
}

/** The e2e files longest first; every other file after them in the order it came (Array sort is stable). */
export function longestFirst<T>(files: readonly T[], pathOf: (f: T) => string): T[] {
  return [...files].sort((a, b) => e2eRank(pathOf(a)) - e2eRank(pathOf(b)));
}
