// The export's group table against the group names of kolla-ansible's own multinode inventory
// (test/fixtures/kolla-groups.ts), and the releases in between by their counts.
import { describe, expect, it } from 'vitest';
import { KOLLA_RELEASES, TOP_GROUPS, kollaGroups, type KollaRelease } from '../../lib/kolla/groups.ts';
import { KOLLA_MULTINODE_GROUPS } from '../fixtures/kolla-groups.ts';

/** How many groups (the top groups included) kolla-ansible's multinode inventory has per release. */
const COUNTS: Record<KollaRelease, number> = { zed: 222, '2023.1': 222, '2023.2': 209, '2024.1': 180, '2024.2': 179, '2025.1': 177 };

const namesOf = (r: KollaRelease): string[] => [...TOP_GROUPS, ...kollaGroups(r).map((g) => g.name)].sort();

describe("kolla-ansible's inventory groups", () => {
  for (const r of ['zed', '2025.1'] as const) {
    it(`${r}: the same names as kolla-ansible's multinode inventory`, () => expect(namesOf(r)).toEqual([...KOLLA_MULTINODE_GROUPS[r]!].sort()));
  }

  for (const { release } of KOLLA_RELEASES) {
    it(`${release}: as many groups as kolla-ansible's, each named once, each made of groups that exist`, () => {
      const names = namesOf(release);
      expect(names).toHaveLength(COUNTS[release]);
      expect(new Set(names).size).toBe(names.length);
      for (const g of kollaGroups(release)) for (const c of g.children) expect(names, `${g.name} is made of ${c}`).toContain(c);
    });
  }

  it('groups that changed their parts between releases have the parts of each release', () => {
    const parts = (r: KollaRelease, name: string) => kollaGroups(r).find((g) => g.name === name)?.children;
    expect(parts('zed', 'tls-backend')).toEqual(['control']);
    expect(parts('2025.1', 'tls-backend')).toEqual(['control', 'network']);
    expect(parts('2024.1', 'cyborg')).toEqual(['control', 'compute']);
    expect(parts('2024.2', 'cyborg')).toEqual(['control']);
  });
});
