// Placement: the resource inventory Nova schedules against (required since Ocata).

import { apiPort } from '../../lib/api-services.ts';
import { releaseAtLeast } from '../../lib/release.ts';
import { StackError } from '../../lib/errors.ts';
import type { StackContext } from '../../lib/plugin.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { listResourceProviders } from '../../lib/openstack/placement.ts';
import { authtoken, dbUrl, renderIni, dbPasswordPath, uwsgiArgv } from '../../lib/service/config.ts';
import { adminSession, startService } from '../../lib/service/lifecycle.ts';
import { apiServicePlugin, type ApiServiceDescriptor } from '../../lib/service/descriptor.ts';

export const PLACEMENT_PORT = apiPort('placement');
const CONF = { path: '/etc/placement/placement.conf', packaged: '/usr/share/placement-common/placement.conf', variable: 'PLACEMENT_CONF', owner: 'placement:placement' };
const LOG = '/var/log/placement/placement-api.log';
const UWSGI_LOG = '/var/log/placement/placement-uwsgi.log';

export const placementUrl = (ctx: StackContext): string => ctx.endpoints.url.placement;

const daemon = (ctx: StackContext): DaemonSpec => ({
  name: 'placement-api',
  argv: uwsgiArgv(ctx, '/etc/placement/placement-api-uwsgi.ini', PLACEMENT_PORT, UWSGI_LOG),
  logFile: UWSGI_LOG,
  runtimeDirs: [{ path: '/run/placement', owner: 'placement:placement' }],
  link: `nova-compute and nova-scheduler -> placement-api (the placement API at ${placementUrl(ctx)})`,
  ownLog: LOG,
});

export const PLACEMENT: ApiServiceDescriptor = {
  name: 'placement',
  services: ['placement-api'],
  needs: ['keystone'],
  after: { init: ['mariadb/register'], start: [], register: ['keystone/register'] },
  apis: ['placement'],
  log: LOG,
  configs: [CONF],
  databases: ['placement'],
  dbSyncs: [{ label: 'placement-manage db sync', command: 'placement-manage db sync', databases: ['placement'] }],
  keystone: { password: 'PLACEMENT_PASSWORD', type: 'placement', description: 'Placement API', probe: 'resource_providers' },
  leaves: () => [LOG, UWSGI_LOG],
};

export default apiServicePlugin(PLACEMENT, {
  async configFiles(ctx) {
    return [
      await renderIni(ctx, CONF, {
        placement_database: { connection: dbUrl(ctx, 'placement', 'placement') },
        // Deprecated for removal in Epoxy (keystone is the only strategy left).
        ...(releaseAtLeast(ctx.release, 'epoxy') ? {} : { api: { auth_strategy: 'keystone' } }),
        keystone_authtoken: authtoken(ctx, 'placement', ctx.config.settings.PLACEMENT_PASSWORD),
      }),
    ];
  },

  start: async (ctx) => void (await startService(ctx, daemon(ctx), [CONF.path, dbPasswordPath('placement')], `${placementUrl(ctx)}/`)),

  async verify(ctx) {
    // An authenticated read proves keystone_authtoken works, not just that uwsgi is up.
    const s = await adminSession(ctx);
    try {
      await listResourceProviders(s);
    } catch (err) {
      throw new StackError(`Placement at ${placementUrl(ctx)} rejects an admin request: ${(err as Error).message}`,
        `Check [keystone_authtoken] in ${CONF.path} (user placement, PLACEMENT_PASSWORD) and ${LOG}.`);
    }
  },

  daemons: (ctx) => [daemon(ctx)],
});
