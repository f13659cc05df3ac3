// Glance: the image service. glance-registry exists only on releases before Ussuri; on those the
// same [database]/[keystone_authtoken]/[paste_deploy] go into glance-registry.conf and it is started too.

import { apiPort } from '../../lib/api-services.ts';
import { releaseAtLeast } from '../../lib/release.ts';
import { GLANCE_IMAGE_DIR } from '../../lib/image.ts';
import { converge, packageVersion } from '../../lib/converge.ts';
import { withAdminDb } from '../../lib/db-admin.ts';
import { sh } from '../../lib/shell.ts';
import { StackError } from '../../lib/errors.ts';
import { type ConfigFile, type StackContext } from '../../lib/plugin.ts';
import type { DaemonSpec } from '../../lib/daemon.ts';
import { authtoken, dbUrl, renderIni, bindAddress, dbPasswordPath, osloDaemon, osloRuntimeDirs } from '../../lib/service/config.ts';
import { startService } from '../../lib/service/lifecycle.ts';
import { apiServicePlugin, type ApiServiceDescriptor } from '../../lib/service/descriptor.ts';
import { logTail } from '../../lib/log-tail.ts';
import { urlHost } from '../../lib/endpoints.ts';

export const GLANCE_PORT = apiPort('image');
const REGISTRY_PORT = 9191;
const API = { path: '/etc/glance/glance-api.conf', packaged: '/usr/share/glance-common/glance-api.conf', variable: 'GLANCE_API_CONF', owner: 'glance:glance' };
const REGISTRY = {
  path: '/etc/glance/glance-registry.conf',
  packaged: '/usr/share/glance-common/glance-registry.conf',
  variable: 'GLANCE_REGISTRY_CONF',
  owner: 'glance:glance',
  when: (ctx: StackContext) => ctx.release.hasGlanceRegistry,
};
const API_CONF = API.path;
const REGISTRY_CONF = REGISTRY.path;
const API_LOG = '/var/log/glance/glance-api.log';
const REGISTRY_LOG = '/var/log/glance/glance-registry.log';

export const glanceUrl = (ctx: StackContext): string => ctx.endpoints.url.image;

const apiDaemon = (ctx: StackContext): DaemonSpec =>
  osloDaemon('glance', { name: 'glance-api', configFiles: [API_CONF], link: `nova and clients -> glance-api (the image API at ${glanceUrl(ctx)})` });

const registryDaemon = (): DaemonSpec => ({
  name: 'glance-registry',
  argv: ['/usr/bin/glance-registry', '--config-file', REGISTRY_CONF, '--log-file', REGISTRY_LOG],
  user: 'glance',
  group: 'glance',
  logFile: '/var/log/glance/glance-registry.out',
  runtimeDirs: osloRuntimeDirs('glance'),
  link: 'glance-api -> glance-registry',
  ownLog: REGISTRY_LOG,
});

/** Where Epoxy's reserved stores keep image-import staging and task data (created by configure). */
const STAGING_DIR = '/var/lib/glance/staging';
const TASKS_DIR = '/var/lib/glance/tasks_work_dir';

/**
 * The image stores. Epoxy deprecates [glance_store] stores/default_store for removal in favour of
 * named backends ([DEFAULT] enabled_backends, one section per backend), which also need the
 * reserved staging and tasks stores (else image import falls back to /tmp/staging and warns).
 */
function stores(ctx: StackContext): Record<string, Record<string, string>> {
  if (!releaseAtLeast(ctx.release, 'epoxy')) return { glance_store: { stores: 'file,http', default_store: 'file', filesystem_store_datadir: GLANCE_IMAGE_DIR } };
  return {
    glance_store: { default_backend: 'file' },
    file: { filesystem_store_datadir: GLANCE_IMAGE_DIR },
    os_glance_staging_store: { filesystem_store_datadir: STAGING_DIR },
    os_glance_tasks_store: { filesystem_store_datadir: TASKS_DIR },
  };
}

const common = (ctx: StackContext) => ({
  database: { connection: dbUrl(ctx, 'glance', 'glance') },
  keystone_authtoken: authtoken(ctx, 'glance', ctx.config.settings.GLANCE_PASSWORD),
  paste_deploy: { flavor: 'keystone' },
  oslo_concurrency: { lock_path: '/var/lock/glance' },
});

export const GLANCE: ApiServiceDescriptor = {
  name: 'glance',
  services: ['g-api', 'g-reg'],
  needs: ['keystone'],
  after: { init: ['mariadb/register'], start: [], register: ['keystone/register'] },
  apis: ['image'],
  log: API_LOG,
  configs: [API, REGISTRY],
  databases: ['glance'],
  dbSyncs: [{ label: 'glance-manage db_sync', command: 'glance-manage db_sync', databases: ['glance'] }],
  keystone: { password: 'GLANCE_PASSWORD', type: 'image', description: 'OpenStack Image service', probe: 'v2/images' },
  leaves: (ctx) => [GLANCE_IMAGE_DIR, STAGING_DIR, TASKS_DIR, API_LOG, REGISTRY_LOG, apiDaemon(ctx).logFile!, registryDaemon().logFile!],
};

export default apiServicePlugin(GLANCE, {
  async configFiles(ctx) {
    const s = ctx.config.settings;
    const files: ConfigFile[] = [
      await renderIni(ctx, API, {
        ...common(ctx),
        DEFAULT: {
          bind_host: bindAddress(ctx),
          bind_port: GLANCE_PORT,
          workers: s.API_WORKERS,
          ...(releaseAtLeast(ctx.release, 'epoxy') ? { enabled_backends: 'file:file,http:http' } : {}),
        },
        ...stores(ctx),
      }),
    ];
    if (ctx.release.hasGlanceRegistry) {
      files.push(await renderIni(ctx, REGISTRY, { ...common(ctx), DEFAULT: { bind_host: bindAddress(ctx), bind_port: REGISTRY_PORT, workers: s.API_WORKERS } }));
    }
    return files;
  },

  async configure(ctx) {
    const dirs = releaseAtLeast(ctx.release, 'epoxy') ? [GLANCE_IMAGE_DIR, STAGING_DIR, TASKS_DIR] : [GLANCE_IMAGE_DIR];
    await ctx.host.run(sh('install', '-d', '-o', 'glance', '-g', 'glance', '-m', '0750', ...dirs));
  },

  async init(ctx) {
    // Without the metadata definitions the metadefs API lists nothing (tempest's metadefs tests fail).
    await converge(ctx, {
      key: 'glance-manage db_load_metadefs',
      inputs: [await packageVersion(ctx, 'python3-glance')],
      observe: () => withAdminDb(ctx, (db) => db.query('SELECT namespace FROM glance.metadef_namespaces ORDER BY namespace')),
      run: async () => void (await ctx.host.run(sh('su', '-s', '/bin/sh', '-c', 'glance-manage db_load_metadefs', 'glance'))),
    });
  },

  async start(ctx) {
    if (ctx.release.hasGlanceRegistry) {
      await startService(ctx, registryDaemon(), [REGISTRY_CONF, dbPasswordPath('glance')], `http://${urlHost(bindAddress(ctx))}:${REGISTRY_PORT}/`);
    }
    await startService(ctx, apiDaemon(ctx), [API_CONF, dbPasswordPath('glance')], `${glanceUrl(ctx)}/`);
  },

  async verify(ctx) {
    await withAdminDb(ctx, async (db) => {
      if ((await db.tableCount('glance')) === 0) {
        throw new StackError(`Database glance has no tables: glance-manage db_sync never ran or failed.`, 'Run `./stack.ts` again; it re-runs db_sync and shows its output.', {
          file: API_LOG,
          lines: await logTail(ctx, API_LOG),
        });
      }
    });
    // The store directory must be writable by glance, or uploads fail with a bare HTTP 500 (seed 001).
    const w = await ctx.host.run(sh('su', '-s', '/bin/sh', '-c', `test -w ${sh(GLANCE_IMAGE_DIR)}`, 'glance'), { check: false });
    if (w.exitCode !== 0) {
      throw new StackError(`The image store ${GLANCE_IMAGE_DIR} on ${ctx.host.name} is not writable by user glance; uploads would fail with HTTP 500.`,
        `Fix its ownership: chown -R glance:glance ${GLANCE_IMAGE_DIR}`);
    }
  },

  daemons: (ctx) => (ctx.release.hasGlanceRegistry ? [registryDaemon(), apiDaemon(ctx)] : [apiDaemon(ctx)]),
});
