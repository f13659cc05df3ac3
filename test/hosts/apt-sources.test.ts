import { describe, expect, it } from 'vitest';
import { entriesForSuite, mainMirror, parseDeb822, parseSourcesList, renderSources, suiteEntries } from './apt-sources.ts';

const DEB822 = `Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib
`;

describe('apt sources of this machine', () => {
  it('reads deb822 stanzas, skipping deb-src and comments', () => {
    expect(parseDeb822(DEB822)).toEqual([
      { uri: 'http://deb.debian.org/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main'] },
      { uri: 'http://deb.debian.org/debian-security', suites: ['bookworm-security'], components: ['main', 'contrib'] },
    ]);
  });

  it('reads one-line sources.list entries with options and comments', () => {
    const text = '# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main non-free\ndeb-src http://x/debian bookworm main\n';
    expect(parseSourcesList(text)).toEqual([{ uri: 'http://mirror.example/debian/', suites: ['bookworm'], components: ['main', 'non-free'] }]);
  });

  it('picks the mirror that carries the bare suite, without a trailing slash', () => {
    const entries = [...parseSourcesList('deb http://sec.example/debian-security bookworm-security main\ndeb http://mirror.example/debian/ bookworm main\n')];
    expect(mainMirror(entries, 'bookworm')).toBe('http://mirror.example/debian');
    expect(() => mainMirror(entries, 'trixie')).toThrow(/STACK_TEST_MIRROR/);
  });

  it('keeps only the suite family asked for, and renders it as deb822', () => {
    const entries = suiteEntries([...parseDeb822(DEB822), { uri: 'http://x/debian', suites: ['trixie'], components: ['main'] }], 'bookworm');
    expect(entries.map((e) => e.uri)).toEqual(['http://deb.debian.org/debian', 'http://deb.debian.org/debian-security']);
    expect(renderSources(entries)).toBe(
      'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n' +
        'Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main contrib\n',
    );
  });

  it('reads another Debian release from the mirrors the machine uses for its own', () => {
    const machine = parseDeb822(DEB822);
    expect(entriesForSuite(machine, 'trixie', 'bookworm')).toEqual([
      { uri: 'http://deb.debian.org/debian', suites: ['trixie', 'trixie-updates'], components: ['main'] },
      { uri: 'http://deb.debian.org/debian-security', suites: ['trixie-security'], components: ['main', 'contrib'] },
    ]);
    // The machine's own entries win when it names the suite itself.
    const own = [...machine, { uri: 'http://t.example/debian', suites: ['trixie'], components: ['main'] }];
    expect(entriesForSuite(own, 'trixie', 'bookworm')).toEqual([{ uri: 'http://t.example/debian', suites: ['trixie'], components: ['main'] }]);
    expect(entriesForSuite(machine, 'bookworm', 'bookworm')).toEqual(suiteEntries(machine, 'bookworm'));
  });
});
