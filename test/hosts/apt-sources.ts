// Which Debian mirror this machine uses, read from its own apt sources, so the test hosts
// and their apt proxy use the one mirror known to be reachable from here.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AptEntry {
  readonly uri: string;
  readonly suites: readonly string[];
  readonly components: readonly string[];
}

/** deb822 (*.sources) text to its `deb` entries; deb-src and disabled stanzas are skipped. */
export function parseDeb822(text: string): AptEntry[] {
  const out: AptEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      const cont = /^\s+(\S.*)$/.exec(line);
      if (cont && last) {
        fields.set(last, `${fields.get(last)} ${cont[1]}`);
        continue;
      }
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields.set((last = m[1]!.toLowerCase()), m[2]!.trim());
    }
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    if (!words('types').includes('deb') || fields.get('enabled')?.toLowerCase() === 'no') continue;
    for (const uri of words('uris')) out.push({ uri, suites: words('suites'), components: words('components') });
  }
  return out;
}

/** One-line-style sources.list text to its `deb` entries. */
export function parseSourcesList(text: string): AptEntry[] {
  const out: AptEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').replace(/\[[^\]]*\]/, '').trim();
    const [type, uri, suite, ...components] = line.split(/\s+/);
    if (type === 'deb' && uri && suite) out.push({ uri, suites: [suite], components });
  }
  return out;
}

/** Every `deb` entry of this machine's apt configuration (deb822 files first). */
export function machineAptEntries(etcApt = '/etc/apt'): AptEntry[] {
  const entries: AptEntry[] = [];
  const dir = join(etcApt, 'sources.list.d');
  const files = existsSync(dir) ? readdirSync(dir).sort() : [];
  for (const f of files.filter((f) => f.endsWith('.sources'))) entries.push(...parseDeb822(readFileSync(join(dir, f), 'utf8')));
  const lists = [join(etcApt, 'sources.list'), ...files.filter((f) => f.endsWith('.list')).map((f) => join(dir, f))];
  for (const f of lists) if (existsSync(f)) entries.push(...parseSourcesList(readFileSync(f, 'utf8')));
  return entries;
}

/** The entries that belong to `suite` (bookworm, bookworm-updates, bookworm-security). */
export function suiteEntries(entries: readonly AptEntry[], suite: string): AptEntry[] {
  return entries
    .map((e) => ({ ...e, suites: e.suites.filter((s) => s === suite || s.startsWith(`${suite}-`)) }))
    .filter((e) => e.suites.length > 0 && /^https?:\/\//.test(e.uri));
}

/**
 * The entries for `suite`: the machine's own ones if it has any, else the machine's entries for
 * `from` (its own release) moved to `suite` - one Debian mirror carries every release, so a
 * bookworm machine's mirror serves trixie (and trixie-updates, trixie-security) too.
 */
export function entriesForSuite(entries: readonly AptEntry[], suite: string, from: string): AptEntry[] {
  const own = suiteEntries(entries, suite);
  if (own.length > 0) return own;
  return suiteEntries(entries, from).map((e) => ({ ...e, suites: e.suites.map((s) => suite + s.slice(from.length)) }));
}

/** The main archive mirror for `suite` (the entry that carries the bare suite name). */
export function mainMirror(entries: readonly AptEntry[], suite: string): string {
  const hit = entries.find((e) => e.suites.includes(suite) && /^https?:\/\//.test(e.uri));
  if (!hit) {
    throw new Error(
      `no http(s) apt source for "${suite}" in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; ` +
        `set STACK_TEST_MIRROR=http://your-mirror/debian to choose the mirror for the test hosts`,
    );
  }
  return hit.uri.replace(/\/+$/, '');
}

/** deb822 text for the test hosts: the same mirrors and suites as this machine. */
export function renderSources(entries: readonly AptEntry[]): string {
  return entries
    .map((e) => `Types: deb\nURIs: ${e.uri}\nSuites: ${e.suites.join(' ')}\nComponents: ${(e.components.length ? e.components : ['main']).join(' ')}\n`)
    .join('\n');
}
