import { describe, expect, it } from 'vitest';
import { createLogger, escapedForms, maskWith } from '../../lib/log.ts';
import { quote } from '../../lib/shell.ts';

const SECRET = `S3cr$t'!(x)"\\ &/+`;

describe('mask', () => {
  const log = createLogger({ debug: false, out: () => {} });
  log.addSecret(SECRET);

  const forms: Record<string, string> = {
    raw: SECRET,
    oslo: SECRET.split('$').join('$$'),
    uri: encodeURIComponent(SECRET),
    rfc3986: encodeURIComponent(SECRET).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    form: new URLSearchParams({ p: SECRET }).toString().slice(2),
    shell: quote(SECRET),
    json: JSON.stringify(SECRET),
  };

  for (const [name, form] of Object.entries(forms)) {
    it(`masks the ${name} form`, () => {
      const masked = log.mask(`before ${form} after`);
      expect(masked).not.toContain('S3cr');
      expect(masked).toMatch(/^before .*\*\*\*.* after$/);
    });
  }

  it('the forms really differ from each other (else the cases above test one thing)', () => {
    expect(new Set(Object.values(forms)).size).toBe(Object.keys(forms).length);
  });

  it('masks inside a larger shell-quoted or JSON string', () => {
    expect(log.mask(quote(`user:${SECRET}@host`))).toBe(`'user:***@host'`);
    expect(log.mask(JSON.stringify({ password: SECRET }))).toBe('{"password":"***"}');
  });

  it('masks a secret contained in another, and two that overlap, leaving nothing of either', () => {
    const l = createLogger({ debug: false, out: () => {} });
    l.addSecret('pass');
    l.addSecret('password123');
    expect(l.mask('x password123 y pass z')).toBe('x *** y *** z');
    l.addSecret('abcdef12');
    l.addSecret('ef12ghij');
    expect(l.mask('xxabcdef12ghijxx')).toBe('xx***xx');
  });

  it('masks short secrets, ignores the empty string', () => {
    const l = createLogger({ debug: false, out: () => {} });
    l.addSecret('');
    expect(l.mask('abc')).toBe('abc');
    l.addSecret('ab');
    expect(l.mask('xaby')).toBe('x***y');
  });

  it('masks every occurrence', () => {
    expect(maskWith(['aa'], 'aaa b aa')).toBe('*** b ***');
    expect(escapedForms('plain')).toEqual(['plain']);
  });
});
