// Which OpenStack release a host has (or would get): read from the keystone package's version,
// the most reliable marker because keystone's major version moves by exactly one per release.

import type { Release } from './plugin.ts';
import type { Host, HostFacts } from './host/types.ts';

/** Keystone major version -> release, in release order (checked against openstack/releases). */
const BY_MAJOR: ReadonlyArray<readonly [number, string]> = [
  [8, 'liberty'], [9, 'mitaka'], [10, 'newton'], [11, 'ocata'], [12, 'pike'],
  [13, 'queens'], [14, 'rocky'], [15, 'stein'], [16, 'train'], [17, 'ussuri'],
  [18, 'victoria'], [19, 'wallaby'], [20, 'xena'], [21, 'yoga'], [22, 'zed'],
  [23, 'antelope'], // 2023.1
  [24, 'bobcat'], // 2023.2
  [25, 'caracal'], // 2024.1
  [26, 'dalmatian'], // 2024.2
  [27, 'epoxy'], // 2025.1
];

/** Before Liberty keystone was versioned by year: 2014.1 icehouse, 2014.2 juno, 2015.1 kilo. */
const BY_YEAR: Readonly<Record<string, string>> = {
  '2013.1': 'grizzly', '2013.2': 'havana', '2014.1': 'icehouse', '2014.2': 'juno', '2015.1': 'kilo',
};

/** Ussuri's keystone major; glance-registry and the Images v1 API are gone from Ussuri on. */
const USSURI = 17;

export const UNKNOWN_RELEASE: Release = Object.freeze({ name: 'unknown', keystoneMajor: null, hasGlanceRegistry: false });

/**
 * Pure: a keystone package version as dpkg or rpm print it ("2:22.0.2-0+deb12u6", "1:22.0.0-1.el9",
 * "22.0.0", "2015.1.2-1") -> the release. Anything unparseable gives the "unknown" release.
 */
export function releaseFromKeystoneVersion(version: string): Release {
  const upstream = version.trim().replace(/^\d+:/, ''); // drop the epoch
  const m = /^(\d+)(?:\.(\d+))?/.exec(upstream);
  if (!m) return UNKNOWN_RELEASE;
  const major = Number.parseInt(m[1]!, 10);
  if (major >= 2000) {
    const name = BY_YEAR[`${m[1]}.${m[2] ?? ''}`];
    return { name: name ?? 'unknown', keystoneMajor: major, hasGlanceRegistry: true };
  }
  const known = BY_MAJOR.find(([k]) => k === major);
  return {
    // A major past the table is a release newer than this code knows: still say which major it is.
    name: known ? known[1] : 'unknown',
    keystoneMajor: major,
    hasGlanceRegistry: major < USSURI,
  };
}

const MARK = '@@stackts:';

/**
 * One command: the installed keystone version (or the candidate the package manager would
 * install), and whether a glance-registry package or binary exists on the host.
 */
export function releaseProbeCommand(facts: HostFacts): string {
  const registry = `echo '${MARK}registry'; command -v glance-registry >/dev/null 2>&1 && echo yes`;
  if (facts.family === 'debian') {
    return [
      `echo '${MARK}installed'`,
      // Only a configured ("ii") package counts as installed.
      `dpkg-query -W -f='\${db:Status-Abbrev} \${Version}\\n' keystone 2>/dev/null | sed -n 's/^ii *//p'`,
      `echo '${MARK}candidate'`,
      `apt-cache policy keystone 2>/dev/null | sed -n 's/^ *Candidate: *//p'`,
      `dpkg-query -W -f='\${db:Status-Abbrev}\\n' glance-registry 2>/dev/null | grep -q '^ii' && echo '${MARK}registry-package'`,
      registry,
      'true',
    ].join('\n');
  }
  const tool = Number.parseInt(facts.version, 10) < 8 ? 'yum' : 'dnf';
  return [
    `echo '${MARK}installed'`,
    `rpm -q --qf '%{VERSION}\\n' openstack-keystone 2>/dev/null | grep -v 'not installed'`,
    `echo '${MARK}candidate'`,
    // Cache only: a release probe must not turn into a metadata download.
    `${tool} -q -C info --available openstack-keystone 2>/dev/null | sed -n 's/^Version *: *//p' | head -n 1`,
    `rpm -q openstack-glance-registry >/dev/null 2>&1 && echo '${MARK}registry-package'`,
    registry,
    'true',
  ].join('\n');
}

/** Pure: parses releaseProbeCommand's output. */
export function parseReleaseProbe(output: string): Release {
  const sections = new Map<string, string[]>();
  let current = '';
  for (const line of output.split('\n')) {
    if (line.startsWith(MARK)) {
      current = line.slice(MARK.length).trim();
      sections.set(current, []);
    } else if (line.trim() !== '') {
      sections.get(current)?.push(line.trim());
    }
  }
  const installed = sections.get('installed')?.[0];
  const candidate = sections.get('candidate')?.[0];
  const version = installed ?? (candidate && candidate !== '(none)' ? candidate : undefined);
  const base = version ? releaseFromKeystoneVersion(version) : UNKNOWN_RELEASE;
  const registryPresent = sections.has('registry-package') || (sections.get('registry') ?? []).includes('yes');
  return { ...base, hasGlanceRegistry: base.hasGlanceRegistry || registryPresent };
}

export async function detectRelease(host: Host, facts: HostFacts): Promise<Release> {
  const r = await host.run(releaseProbeCommand(facts), { check: false, label: 'detect the OpenStack release (keystone package version)' });
  return parseReleaseProbe(r.stdout);
}

/** Keystone's major of a release name ("epoxy" -> 27), or undefined for a name this code does not know. */
export function keystoneMajorOf(name: string): number | undefined {
  return BY_MAJOR.find(([, n]) => n === name)?.[0];
}

/**
 * OpenStack's own number for the release: two a year since Liberty (2015.2), so "2022.2" for Zed
 * and "2025.1" for Epoxy; undefined when the release is unknown or year-versioned already.
 */
export function releaseSeries(r: Release): string | undefined {
  const major = r.keystoneMajor;
  if (major === null || r.name === 'unknown' || major >= 2000 || major < 8) return undefined;
  const n = major - 8; // Liberty = 0
  return `${2015 + Math.floor((n + 1) / 2)}.${n % 2 === 0 ? 2 : 1}`;
}

/** How the summary and plan name a release: "OpenStack 2025.1 (epoxy)", "OpenStack 2022.2 (zed)". */
export function releaseTitle(r: Release): string {
  const series = releaseSeries(r);
  if (r.name === 'unknown') return r.keystoneMajor === null ? 'OpenStack (release unknown)' : `OpenStack (keystone ${r.keystoneMajor}, a release newer than stack.ts knows)`;
  return series ? `OpenStack ${series} (${r.name})` : `OpenStack ${r.name}`;
}

/**
 * True when the release is `name` or newer: what a plugin asks before writing an option in the
 * form a newer release reads. An unknown release counts as new when its keystone major is past the
 * table (a newer release than this code knows), as old when nothing could be read.
 */
export function releaseAtLeast(r: Release, name: string): boolean {
  const wanted = keystoneMajorOf(name);
  if (wanted === undefined) throw new Error(`releaseAtLeast: unknown release name "${name}"`);
  return r.keystoneMajor !== null && r.keystoneMajor < 2000 && r.keystoneMajor >= wanted;
}
