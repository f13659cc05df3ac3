// The editor against the real packaged glance-api.conf (6,850 lines, nearly all comments):
// the file users diff after an install.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffArrays } from 'diff';
import ini from 'ini';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbConnectionUrl, osloEscape } from '../../lib/escape.ts';
import { IniDoc, applyIniEdits, parseIniValues, type IniEdit } from '../../lib/ini.ts';

let dir = '';
let original = '';

function downloadGlanceCommon(into: string): void {
  const download = () => execFileSync('apt-get', ['download', 'glance-common'], { cwd: into, stdio: 'pipe' });
  try {
    download();
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'pipe' });
    download();
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stackts-glance-conf-'));
  downloadGlanceCommon(dir);
  const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download glance-common left no .deb in ${dir}`);
  execFileSync('dpkg-deb', ['-x', join(dir, deb), join(dir, 'root')]);
  // Debian ships it under /usr/share and copies it to /etc/glance in the postinst.
  const candidates = ['etc/glance/glance-api.conf', 'usr/share/glance-common/glance-api.conf'].map((p) => join(dir, 'root', p));
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new Error(`glance-api.conf not found in glance-common (looked at ${candidates.join(', ')})`);
  original = readFileSync(path, 'utf8');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const PASSWORD = 'Password123$';
const connection = dbConnectionUrl({ user: 'glance', password: PASSWORD, host: 'controller01', database: 'glance' });
const edits: IniEdit[] = [
  { op: 'set', section: 'database', key: 'connection', value: connection },
  { op: 'set', section: 'keystone_authtoken', key: 'www_authenticate_uri', value: 'http://controller01:5000' },
  { op: 'set', section: 'keystone_authtoken', key: 'auth_url', value: 'http://controller01:5000' },
  { op: 'set', section: 'keystone_authtoken', key: 'memcached_servers', value: 'controller01:11211' },
  { op: 'set', section: 'keystone_authtoken', key: 'auth_type', value: 'password' },
  { op: 'set', section: 'keystone_authtoken', key: 'project_domain_name', value: 'Default' },
  { op: 'set', section: 'keystone_authtoken', key: 'user_domain_name', value: 'Default' },
  { op: 'set', section: 'keystone_authtoken', key: 'project_name', value: 'service' },
  { op: 'set', section: 'keystone_authtoken', key: 'username', value: 'glance' },
  { op: 'set', section: 'keystone_authtoken', key: 'password', value: PASSWORD },
  { op: 'set', section: 'keystone_authtoken', key: 'region_name', value: 'RegionOne' },
  { op: 'set', section: 'paste_deploy', key: 'flavor', value: 'keystone' },
  { op: 'set', section: 'glance_store', key: 'stores', value: 'file,http' },
  { op: 'set', section: 'glance_store', key: 'default_store', value: 'file' },
  { op: 'set', section: 'glance_store', key: 'filesystem_store_datadir', value: '/var/lib/glance/images/' },
];

const isCommentLine = (l: string): boolean => l.startsWith('#') || l.startsWith(';');

describe('packaged glance-api.conf', () => {
  it('is the big packaged file', () => {
    expect(original.split('\n').length).toBeGreaterThan(6000);
  });

  it('parse + toString is byte-identical', () => {
    expect(IniDoc.parse(original).toString()).toBe(original);
  });

  it('a realistic edit set changes only the lines it must', () => {
    const edited = applyIniEdits(original, edits);
    const before = original.split('\n');
    const after = edited.split('\n');
    const removed: string[] = [];
    const added: string[] = [];
    for (const part of diffArrays(before, after)) {
      if (part.removed) removed.push(...part.value);
      if (part.added) added.push(...part.value);
    }
    // Packaged active values that differ from ours are replaced in place.
    expect(removed.sort()).toEqual(
      ['auth_url = http://localhost:5000', 'www_authenticate_uri = http://localhost:5000', 'region_name = regionOne', 'filesystem_store_datadir = /var/lib/glance/images'].sort(),
    );
    expect(added.sort()).toEqual(
      [
        `connection = ${connection}`,
        'www_authenticate_uri = http://controller01:5000',
        'auth_url = http://controller01:5000',
        'memcached_servers = controller01:11211',
        'password = Password123$$',
        'region_name = RegionOne',
        'flavor = keystone',
        'stores = file,http',
        'default_store = file',
        'filesystem_store_datadir = /var/lib/glance/images/',
      ].sort(),
    );
    // Every original comment line is still there, in the same order.
    const commentsBefore = before.filter(isCommentLine);
    const commentsAfter = after.filter(isCommentLine);
    expect(commentsAfter).toEqual(commentsBefore);
    // New keys sit right after their commented packaged default, where users look for them.
    expect(after[after.indexOf('#connection = <None>') + 1]).toBe(`connection = ${connection}`);
    expect(after[after.indexOf('#flavor = keystone') + 1]).toBe('flavor = keystone');
    expect(after[after.indexOf('#password =') + 1]).toBe('password = Password123$$');
    expect(after.length).toBe(before.length + added.length - removed.length);
  });

  it('applying the same edits again changes no byte', () => {
    const once = applyIniEdits(original, edits);
    expect(applyIniEdits(once, edits)).toBe(once);
  });

  it('reads the values back, with our reader and with the ini package', () => {
    const edited = applyIniEdits(original, edits);
    const doc = IniDoc.parse(edited);
    const ours = parseIniValues(edited);
    const theirs = ini.parse(edited) as Record<string, Record<string, unknown>>;
    for (const e of edits) {
      if (e.op !== 'set') continue;
      expect(doc.get(e.section, e.key)).toBe(e.value);
      expect(ours[e.section]?.[e.key]).toBe(e.value);
      // The ini package knows nothing of oslo's $$; it sees the escaped text.
      expect(theirs[e.section]?.[e.key]).toBe(osloEscape(e.value));
    }
  });
});
