// `plan` against a host whose config files hold passwords this run does not know (a fresh config
// directory, a lost .stack-secrets, a changed password): the diffs name none of them.
import { describe, expect, it } from 'vitest';
import { planDiffs } from '../../lib/config-files.ts';
import { maskOptions } from '../../lib/mask-options.ts';
import { orderPlugins } from '../../lib/plan.ts';
import { PLUGINS } from '../../plugins/index.ts';
import { DEBIAN_SYSV, RecordingHost, makeContext } from '../fixtures/recording-host.ts';

const OLD = {
  db: 'OldDbPw-7f3a',
  glance: 'OldGlance#Pw',
  nova: 'OldNova pw',
  rabbit: 'OldRabbit%40x',
  cache: 'OldCacheKey99',
  admin: 'OldAdmin$pw',
};

const hostFiles = {
  '/etc/glance/stack-db.cnf': `[client]\npassword = ${OLD.db}\n`,
  '/etc/nova/stack-db.cnf': `[client]\npassword = "${OLD.db}"\n`,
  '/etc/keystone/stack-db.cnf': `[client]\npassword=${OLD.db}\n`,
  '/etc/glance/glance-api.conf': [
    '[DEFAULT]',
    `transport_url = rabbit://stackrabbit:${OLD.rabbit}@127.0.0.1:5672/`,
    '[database]',
    `connection = mysql+pymysql://glance:${OLD.db}@127.0.0.1/glance`,
    '[keystone_authtoken]',
    'username = glance',
    `password = ${OLD.glance}`,
    `memcache_secret_key = ${OLD.cache}`,
    '',
  ].join('\n'),
  '/etc/nova/nova.conf': [
    '[DEFAULT]',
    `transport_url = rabbit://stackrabbit:${OLD.rabbit}@127.0.0.1:5672,stackrabbit:${OLD.rabbit}@10.0.0.2:5672/`,
    '[api_database]',
    `connection = mysql+pymysql://nova:${OLD.db}@127.0.0.1/nova_api`,
    '[keystone_authtoken]',
    `password = ${OLD.nova}`,
    '[placement]',
    `password=${OLD.nova}`,
    '[neutron]',
    `password = ${OLD.nova}`,
    '[service_user]',
    `password = ${OLD.nova}`,
    '',
  ].join('\n'),
  '/etc/keystone/keystone.conf': `[DEFAULT]\nadmin_token = ${OLD.admin}\n[database]\nconnection = mysql+pymysql://keystone:${OLD.db}@127.0.0.1/keystone\n`,
};

describe('plan hides secrets by key, on both sides of every diff', () => {
  it('shows none of the passwords in the host\'s files, and still shows that they change', async () => {
    const host = new RecordingHost({ facts: DEBIAN_SYSV, files: hostFiles });
    host.reply(/./, { stdout: '' });
    const ctx = makeContext(host, DEBIAN_SYSV, { SERVICE_PASSWORD: 'NewSvc-1', ADMIN_PASSWORD: 'NewAdm-1', HOST_IP: '10.0.0.5', SERVICE_HOST: '10.0.0.5' }, { dryRun: true });
    const diffs = (await planDiffs(ctx, orderPlugins(ctx.config, PLUGINS))).join('\n');
    expect(diffs).toContain('+++ /etc/glance/glance-api.conf');
    for (const [name, value] of Object.entries(OLD)) {
      expect(diffs.includes(value), `${name} password shown:\n${diffs}`).toBe(false);
      expect(diffs.includes(encodeURIComponent(value)), `${name} password shown encoded`).toBe(false);
    }
    // This run's own passwords are hidden too, and a change is visible as a -/+ pair.
    expect(diffs).not.toContain('NewSvc-1');
    expect(diffs).toMatch(/^-password = \*\*\*$/m);
    expect(diffs).toMatch(/^\+password = \*\*\*$/m);
    expect(diffs).toMatch(/^-transport_url = rabbit:\/\/stackrabbit:\*\*\*@10\.0\.0\.2:5672\/$/m);
    expect(diffs).toMatch(/^-connection = mysql\+pymysql:\/\/glance:\*\*\*@127\.0\.0\.1\/glance$/m);
  });
});

describe('maskOptions', () => {
  const cases: [string, string][] = [
    ['password = x', 'password = ***'],
    ['  rabbit_password=x y', '  rabbit_password=***'],
    ['memcache_secret_key = k', 'memcache_secret_key = ***'],
    ['export OS_PASSWORD=\'p\'', 'export OS_PASSWORD=***'],
    ['      password: "p"', '      password: ***'],
    ['auth_type = password', 'auth_type = password'],
    ['password =', 'password ='],
    ['username = glance', 'username = glance'],
    ['url = http://u:p@ss@host:1/x', 'url = http://u:***@host:1/x'],
    ['connection = mysql+pymysql://glance@127.0.0.1/glance?read_default_file=/etc/glance/stack-db.cnf', 'connection = mysql+pymysql://glance@127.0.0.1/glance?read_default_file=/etc/glance/stack-db.cnf'],
    ['-password = a', '-password = ***'],
    ['+password = b', '+password = ***'],
    ['--- /etc/x/password = y', '--- /etc/x/password = y'],
  ];
  for (const [input, want] of cases) it(`${input} -> ${want}`, () => expect(maskOptions(input)).toBe(want));
});
