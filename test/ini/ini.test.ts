import { describe, expect, it } from 'vitest';
import ini from 'ini';
import { IniDoc, applyIniEdits, parseIniValues } from '../../lib/ini.ts';

const edit = (text: string, f: (d: IniDoc) => void, dialect?: 'oslo' | 'plain'): string => {
  const d = IniDoc.parse(text, { dialect });
  f(d);
  return d.toString();
};

describe('IniDoc set', () => {
  it('replaces an existing value in place', () => {
    const t = '[DEFAULT]\n# doc\ndebug = false\nverbose = true\n[database]\nconnection = sqlite://\n';
    expect(edit(t, (d) => d.set('DEFAULT', 'debug', 'true'))).toBe(
      '[DEFAULT]\n# doc\ndebug = true\nverbose = true\n[database]\nconnection = sqlite://\n',
    );
  });

  it('inserts after the commented-out packaged default', () => {
    const t = '[database]\n# The URL.\n#connection = <None>\n\n# Other.\n#idle = 3600\n\n[x]\n';
    expect(edit(t, (d) => d.set('database', 'connection', 'mysql://a'))).toBe(
      '[database]\n# The URL.\n#connection = <None>\nconnection = mysql://a\n\n# Other.\n#idle = 3600\n\n[x]\n',
    );
  });

  it('appends at the end of the section, before its trailing blank lines', () => {
    const t = '[a]\nx = 1\n\n\n[b]\ny = 2\n';
    expect(edit(t, (d) => d.set('a', 'z', '3'))).toBe('[a]\nx = 1\nz = 3\n\n\n[b]\ny = 2\n');
  });

  it('creates a missing section at the end of the file', () => {
    expect(edit('[a]\nx = 1\n', (d) => d.set('new', 'k', 'v'))).toBe('[a]\nx = 1\n\n[new]\nk = v\n');
    expect(edit('', (d) => d.set('new', 'k', 'v'))).toBe('[new]\nk = v\n');
  });

  it('does not confuse a key in another section or a differently cased key', () => {
    const t = '[a]\nKey = 1\n[b]\nkey = 2\n';
    const out = edit(t, (d) => d.set('a', 'key', 'x'));
    expect(out).toBe('[a]\nKey = 1\nkey = x\n[b]\nkey = 2\n');
    expect(IniDoc.parse(out).get('b', 'key')).toBe('2');
    expect(IniDoc.parse(out).get('A', 'key')).toBeUndefined();
  });

  it('keeps the first of repeated keys and removes the later duplicates', () => {
    const t = '[a]\nk = 1\nother = o\nk = 2\n[b]\nk = 3\n';
    expect(edit(t, (d) => d.set('a', 'k', 'new'))).toBe('[a]\nk = new\nother = o\n[b]\nk = 3\n');
  });

  it('is idempotent: the same value twice changes no byte, and a matching value keeps its formatting', () => {
    const t = '[a]\nk=v\n';
    expect(edit(t, (d) => d.set('a', 'k', 'v'))).toBe(t);
    const once = edit('[a]\n#k = x\n', (d) => d.set('a', 'k', 'Password123$'));
    expect(edit(once, (d) => d.set('a', 'k', 'Password123$'))).toBe(once);
  });

  it('replaces a multi-line value with its continuation lines', () => {
    const t = '[a]\nk = one\n  two\n  three\nz = 1\n';
    expect(IniDoc.parse(t).get('a', 'k')).toBe('one\ntwo\nthree');
    expect(edit(t, (d) => d.set('a', 'k', 'single'))).toBe('[a]\nk = single\nz = 1\n');
  });

  it('refuses a value with a line break', () => {
    expect(() => edit('[a]\n', (d) => d.set('a', 'k', 'x\ny'))).toThrow(/line break/);
  });
});

describe('oslo escaping', () => {
  it('writes $ as $$ and reads it back', () => {
    const out = edit('[a]\n', (d) => d.set('a', 'password', 'Password123$'));
    expect(out).toBe('[a]\npassword = Password123$$\n');
    expect(IniDoc.parse(out).get('a', 'password')).toBe('Password123$');
  });

  it('quotes values oslo would otherwise strip', () => {
    const cases = [' spaced ', '"quoted"', "'q'", '"', 'a"b', '#not a comment'];
    for (const v of cases) {
      const out = edit('[a]\n', (d) => d.set('a', 'k', v));
      expect(IniDoc.parse(out).get('a', 'k')).toBe(v);
    }
    expect(edit('[a]\n', (d) => d.set('a', 'k', ' x '))).toBe('[a]\nk = " x "\n');
  });

  it('plain dialect writes $ as is', () => {
    const out = edit('[a]\n', (d) => d.set('a', 'k', 'a$b'), 'plain');
    expect(out).toBe('[a]\nk = a$b\n');
    expect(IniDoc.parse(out, { dialect: 'plain' }).get('a', 'k')).toBe('a$b');
  });
});

describe('comment and delete', () => {
  it('comments every active occurrence, keeping it visible', () => {
    const t = '[a]\nk = 1\nj = 2\n[b]\nk = 3\n';
    const out = edit(t, (d) => d.comment('a', 'k'));
    expect(out).toBe('[a]\n#k = 1\nj = 2\n[b]\nk = 3\n');
    expect(IniDoc.parse(out).get('a', 'k')).toBeUndefined();
    // Setting it again goes right after the commented line.
    expect(edit(out, (d) => d.set('a', 'k', '9'))).toBe('[a]\n#k = 1\nk = 9\nj = 2\n[b]\nk = 3\n');
  });

  it('deletes the key with its continuation lines and nothing else', () => {
    const t = '[a]\n# doc for k\nk = 1\n  more\nj = 2\n';
    expect(edit(t, (d) => d.delete('a', 'k'))).toBe('[a]\n# doc for k\nj = 2\n');
    expect(edit(t, (d) => d.delete('a', 'absent'))).toBe(t);
  });
});

describe('sections', () => {
  it('addSection is a no-op when present and hasSection is exact', () => {
    const t = '[DEFAULT]\n[keystone_authtoken]\n';
    const d = IniDoc.parse(t);
    expect(d.hasSection('keystone_authtoken')).toBe(true);
    expect(d.hasSection('Keystone_authtoken')).toBe(false);
    d.addSection('keystone_authtoken');
    expect(d.toString()).toBe(t);
  });

  it('treats a repeated section as one: set updates the existing key in the second block', () => {
    const t = '[DEFAULT]\na = 1\n[x]\n[DEFAULT]\nb = 2\n';
    expect(edit(t, (d) => d.set('DEFAULT', 'b', '3'))).toBe('[DEFAULT]\na = 1\n[x]\n[DEFAULT]\nb = 3\n');
  });
});

describe('byte round trip', () => {
  const inputs = [
    '',
    '\n',
    '[a]',
    '[a]\nk = v',
    '[a]\r\nk = v\r\n\r\n# c\r\n',
    'no section = x\n[a]\n\tcont\n;semi\n  \n',
    '[a]\nk = v\n\n\n',
    '\uFEFF[a]\nk = ü\n',
    'mixed\r\nline\nends\r',
  ];
  it.each(inputs)('parse(%j).toString() is identical', (t) => {
    expect(IniDoc.parse(t).toString()).toBe(t);
  });

  it('keeps CRLF on new lines in a CRLF file', () => {
    const out = edit('[a]\r\nk = v\r\n', (d) => {
      d.set('a', 'n', '1');
      d.set('b', 'm', '2');
    });
    expect(out).toBe('[a]\r\nk = v\r\nn = 1\r\n\r\n[b]\r\nm = 2\r\n');
  });

  it('keeps a missing final newline missing', () => {
    expect(edit('[a]\nk = v', (d) => d.set('a', 'n', '1'))).toBe('[a]\nk = v\nn = 1');
    expect(edit('[a]\nk = v', (d) => d.set('a', 'k', 'w'))).toBe('[a]\nk = w');
  });
});

describe('applyIniEdits and parseIniValues', () => {
  it('applies a list of edits and agrees with the ini package on plain values', () => {
    const out = applyIniEdits('[DEFAULT]\n#debug = false\n', [
      { op: 'set', section: 'DEFAULT', key: 'debug', value: 'true' },
      { op: 'set', section: 'database', key: 'connection', value: 'mysql+pymysql://u:p@h/db?charset=utf8' },
      { op: 'set', section: 'x', key: 'gone', value: '1' },
      { op: 'delete', section: 'x', key: 'gone' },
    ]);
    expect(out).toBe('[DEFAULT]\n#debug = false\ndebug = true\n\n[database]\nconnection = mysql+pymysql://u:p@h/db?charset=utf8\n\n[x]\n');
    const ours = parseIniValues(out);
    expect(ours).toEqual({ DEFAULT: { debug: 'true' }, database: { connection: 'mysql+pymysql://u:p@h/db?charset=utf8' }, x: {} });
    const theirs = ini.parse(out);
    expect(theirs['DEFAULT']).toEqual({ debug: true }); // ini turns "true" into a boolean
    expect(theirs['database']).toEqual(ours['database']);
  });
});
