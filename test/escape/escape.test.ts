import { describe, expect, it } from 'vitest';
import { quote } from '../../lib/shell.ts';
import {
  dbConnectionUrl,
  dbPasswordProblem,
  osloEscape,
  osloUnescape,
  shellQuote,
  transportUrl,
  urlUserinfo,
} from '../../lib/escape.ts';

describe('oslo', () => {
  it('doubles every $ and undoes it', () => {
    expect(osloEscape('Password123$')).toBe('Password123$$');
    expect(osloEscape('$$a$')).toBe('$$$$a$$');
    for (const v of ['', 'x', '$', '$$', 'a$b$$c$$$']) expect(osloUnescape(osloEscape(v))).toBe(v);
  });
});

describe('urlUserinfo', () => {
  it('leaves only RFC 3986 unreserved characters unencoded', () => {
    expect(urlUserinfo('AZaz09-._~')).toBe('AZaz09-._~');
    expect(urlUserinfo(`@:/%#?[]$ '"!()*+,;=&`)).toBe('%40%3A%2F%25%23%3F%5B%5D%24%20%27%22%21%28%29%2A%2B%2C%3B%3D%26');
    expect(urlUserinfo('ü')).toBe('%C3%BC');
    for (const v of ['p@ss:w/rd%#\'"', ' a ', 'ü🔑']) expect(decodeURIComponent(urlUserinfo(v))).toBe(v);
  });
});

describe('dbConnectionUrl', () => {
  it('builds the SQLAlchemy URL the services read', () => {
    expect(dbConnectionUrl({ user: 'glance', password: 'Password123$', host: 'controller01', database: 'glance' })).toBe(
      'mysql+pymysql://glance:Password123%24@controller01/glance?charset=utf8',
    );
  });

  it('brackets IPv6 hosts, adds the port, merges the query', () => {
    expect(
      dbConnectionUrl({ user: 'u', password: 'p', host: '::1', port: 3307, database: 'd', query: { read_default_group: 'x' } }),
    ).toBe('mysql+pymysql://u:p@[::1]:3307/d?charset=utf8&read_default_group=x');
    expect(dbConnectionUrl({ user: 'u', password: 'p', host: '[fd00::2]', database: 'd', driver: 'mysql' })).toBe(
      'mysql://u:p@[fd00::2]/d?charset=utf8',
    );
  });

  it('refuses a driver that is not dialect+driver and an empty host', () => {
    expect(() => dbConnectionUrl({ user: 'u', password: 'p', host: 'h', database: 'd', driver: 'my sql' })).toThrow(/dialect\+driver/);
    expect(() => dbConnectionUrl({ user: 'u', password: 'p', host: '', database: 'd' })).toThrow(/host/);
  });
});

describe('transportUrl', () => {
  it('writes one authority per host and the default vhost as /', () => {
    expect(transportUrl({ user: 'nova', password: 'p@ss', hosts: ['10.0.0.1'] })).toBe('rabbit://nova:p%40ss@10.0.0.1:5672/');
    expect(transportUrl({ user: 'u', password: 'p', hosts: ['a', 'fd00::3'], port: 5671, vhost: 'openstack' })).toBe(
      'rabbit://u:p@a:5671,u:p@[fd00::3]:5671/openstack',
    );
    expect(() => transportUrl({ user: 'u', password: 'p', hosts: [] })).toThrow(/at least one/);
  });
});

describe('shellQuote and dbPasswordProblem', () => {
  it('re-exports the one shell quoter', () => {
    expect(shellQuote).toBe(quote);
  });

  it('accepts printable ASCII and refuses what pymysql cannot send', () => {
    expect(dbPasswordProblem(`Password123$ p@ss:w/rd%#'"\\`)).toBeUndefined();
    expect(dbPasswordProblem('pässwort')).toMatch(/ASCII/);
    expect(dbPasswordProblem('tab\there')).toMatch(/ASCII/);
    expect(dbPasswordProblem('')).toMatch(/empty/);
  });
});
