// Placement: the resource inventory Nova schedules against (required since Ocata).

import { apiPort } from '../../lib/api-services.ts';
import { releaseAtLeast } from '../../lib/release.ts';
import { readPackageList } from '../../lib/packages.ts';
import { StackError } from '../../lib/errors.ts';
import { type ServicePlugin, type StackContext } from '../../lib/plugin.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { stopPlugin } from '../../lib/stop-plugin.ts';
import { listResourceProviders } from '../../lib/openstack/placement.ts';
import { adminSession, cleanService, registerService, startService, serviceLinks } from '../../lib/service/lifecycle.ts';
import { authtoken, dbPasswordFile, dbUrl, renderIni, dbPasswordPath, uwsgiArgv } from '../../lib/service/config.ts';
import { dbSync, ensureDatabases } from '../../lib/service/db.ts';

export const PLACEMENT_PORT = apiPort('placement');
const CONF = '/etc/placement/placement.conf';
const LOG = '/var/log/placement/placement-api.log';

export const placementUrl = (ctx: StackContext): string => ctx.endpoints.url.placement;

const daemon = (ctx: StackContext): DaemonSpec => ({
  name: 'placement-api',
  argv: uwsgiArgv(ctx, '/etc/placement/placement-api-uwsgi.ini', PLACEMENT_PORT, '/var/log/placement/placement-uwsgi.log'),
  logFile: '/var/log/placement/placement-uwsgi.log',
  runtimeDirs: [{ path: '/run/placement', owner: 'placement:placement' }],
  link: `nova-compute and nova-scheduler -> placement-api (the placement API at ${placementUrl(ctx)})`,
  ownLog: LOG,
});

const plugin: ServicePlugin = {
  name: 'placement',
  services: ['placement-api'],
  needs: ['keystone'],
  after: { init: ['mariadb/register'], start: [], register: ['keystone/register'] },

  packages: async (ctx) => readPackageList('placement', ctx.facts.family),

  async configFiles(ctx) {
    return [
      dbPasswordFile(ctx, 'placement'),
      await renderIni(
        ctx,
        { path: CONF, packaged: '/usr/share/placement-common/placement.conf', variable: 'PLACEMENT_CONF', owner: 'placement:placement' },
        {
          placement_database: { connection: dbUrl(ctx, 'placement', 'placement') },
          // Deprecated for removal in Epoxy (keystone is the only strategy left).
          ...(releaseAtLeast(ctx.release, 'epoxy') ? {} : { api: { auth_strategy: 'keystone' } }),
          keystone_authtoken: authtoken(ctx, 'placement', ctx.config.settings.PLACEMENT_PASSWORD),
        },
      ),
    ];
  },

  async init(ctx) {
    await ensureDatabases(ctx, 'placement', ['placement']);
    await dbSync(ctx, { user: 'placement', command: 'placement-manage db sync', databases: ['placement'], label: 'placement-manage db sync', logFile: LOG });
  },

  start: async (ctx) => void (await startService(ctx, daemon(ctx), [CONF, dbPasswordPath('placement')], `${placementUrl(ctx)}/`)),

  async register(ctx) {
    await registerService(ctx, {
      user: 'placement',
      password: ctx.config.settings.PLACEMENT_PASSWORD,
      name: 'placement',
      type: 'placement',
      description: 'Placement API',
      url: placementUrl(ctx),
    });
  },

  links: async (ctx) =>
    serviceLinks(ctx, { name: 'placement', user: 'placement', password: ctx.config.settings.PLACEMENT_PASSWORD, type: 'placement', databases: ['placement'], log: LOG, probe: 'resource_providers' }),

  async verify(ctx) {
    // An authenticated read proves keystone_authtoken works, not just that uwsgi is up.
    const s = await adminSession(ctx);
    try {
      await listResourceProviders(s);
    } catch (err) {
      throw new StackError(`Placement at ${placementUrl(ctx)} rejects an admin request: ${(err as Error).message}`,
        `Check [keystone_authtoken] in ${CONF} (user placement, PLACEMENT_PASSWORD) and ${LOG}.`);
    }
  },

  daemons: (ctx) => [daemon(ctx)],

  async clean(ctx) {
    await stopPlugin(ctx, plugin);
    await cleanService(ctx, {
      databases: ['placement'],
      dbUser: 'placement',
      configs: [{ path: CONF, packaged: '/usr/share/placement-common/placement.conf' }],
      paths: [LOG, daemon(ctx).logFile!],
    });
  },
};

export default plugin;
