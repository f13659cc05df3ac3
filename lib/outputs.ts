// What a finished stack leaves the user: openrc files, a clouds.yaml, and a summary that says
// where the passwords are without printing them.

import { apiPort } from './api-services.ts';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Config } from './config/types.ts';
import type { Host } from './host/types.ts';
import type { Release } from './plugin.ts';
import { releaseTitle } from './release.ts';
import { quote } from './shell.ts';
import { formatTimingTable, type TimingRecord } from './timing.ts';
import { writePrivateFile } from './private-file.ts';

export interface CloudUser {
  readonly cloud: 'stack' | 'stack-admin';
  readonly username: string;
  readonly project: string;
}

export const cloudUsers = (config: Config): CloudUser[] => [
  { cloud: 'stack', username: config.settings.DEMO_PROJECT, project: config.settings.DEMO_PROJECT },
  { cloud: 'stack-admin', username: 'admin', project: 'admin' },
];

/** Keystone's v3 URL: the address table's identity URL when given, else SERVICE_HOST's. */
export const authUrl = (config: Config, identity?: string): string => {
  if (identity) return `${identity}/v3`;
  const h = config.settings.SERVICE_HOST;
  return `http://${h.includes(':') ? `[${h}]` : h}:${apiPort('identity')}/v3`;
};

export function openrc(config: Config, user: CloudUser, identity?: string): string {
  const env: [string, string][] = [
    ['OS_AUTH_URL', authUrl(config, identity)],
    ['OS_IDENTITY_API_VERSION', '3'],
    ['OS_USERNAME', user.username],
    ['OS_PASSWORD', config.settings.ADMIN_PASSWORD],
    ['OS_PROJECT_NAME', user.project],
    ['OS_USER_DOMAIN_NAME', 'Default'],
    ['OS_PROJECT_DOMAIN_NAME', 'Default'],
    ['OS_REGION_NAME', config.settings.REGION_NAME],
    ['OS_IMAGE_API_VERSION', '2'],
  ];
  return `# ${user.cloud}: source this file to use the cloud as ${user.username} (written by stack.ts)\n` + env.map(([k, v]) => `export ${k}=${quote(v)}`).join('\n') + '\n';
}

export function cloudsYaml(config: Config, identity?: string): string {
  const clouds: Record<string, unknown> = {};
  for (const u of cloudUsers(config)) {
    clouds[u.cloud] = {
      auth: {
        auth_url: authUrl(config, identity),
        username: u.username,
        password: config.settings.ADMIN_PASSWORD,
        project_name: u.project,
        user_domain_name: 'Default',
        project_domain_name: 'Default',
      },
      region_name: config.settings.REGION_NAME,
      identity_api_version: 3,
      image_api_version: 2,
    };
  }
  return stringify({ clouds });
}

export interface WrittenOutputs {
  readonly dir: string;
  readonly files: readonly string[];
  readonly hostCloudsYaml: string;
}

/** On this machine beside the config (0600: they hold the password), and clouds.yaml on the host for its CLI. */
export async function writeOutputs(config: Config, dir: string, host: Host, identity?: string): Promise<WrittenOutputs> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files: string[] = [];
  const put = async (name: string, content: string) => {
    const path = join(dir, name);
    await writePrivateFile(path, content);
    files.push(path);
  };
  for (const u of cloudUsers(config)) await put(`openrc-${u.cloud === 'stack' ? 'demo' : 'admin'}`, openrc(config, u, identity));
  await put('clouds.yaml', cloudsYaml(config, identity));
  const hostCloudsYaml = '/etc/openstack/clouds.yaml';
  await host.writeFile(hostCloudsYaml, cloudsYaml(config, identity), { mode: 0o600 });
  return { dir, files, hostCloudsYaml };
}

export function summary(args: {
  config: Config;
  host: string;
  release: Release;
  /** The address table's identity URL. */
  identity?: string;
  outputs: WrittenOutputs;
  images: readonly string[];
  /** Plugins' one-line facts (the hypervisor). */
  notes?: readonly string[];
  timings: readonly TimingRecord[];
  totalMs: number;
}): string {
  const { config, release, outputs } = args;
  const lines = [
    '',
    `${releaseTitle(release)} is up on ${args.host}.`,
    `  Keystone:   ${authUrl(config, args.identity)}`,
    `  Users:      admin (project admin), ${config.settings.DEMO_PROJECT} (project ${config.settings.DEMO_PROJECT})`,
    `  Passwords:  in ${config.secretsFile} (ADMIN_PASSWORD), never printed`,
    `  Use it:     source ${outputs.files.find((f) => f.endsWith('openrc-admin'))}   or   OS_CLIENT_CONFIG_FILE=${outputs.files.find((f) => f.endsWith('clouds.yaml'))} openstack --os-cloud stack-admin ...`,
    `  On ${args.host}: openstack --os-cloud stack image list   (${outputs.hostCloudsYaml})`,
    `  Image:      ${args.images.length ? args.images.join(', ') : '(none)'}`,
    ...(args.notes ?? []).map((n) => `  ${n.replace(/^([^:]+):\s*/, (_m, k: string) => `${k}:`.padEnd(12))}`),
    `  Glance:     ${release.hasGlanceRegistry ? 'glance-api and glance-registry' : `glance-api only (${release.name} has no glance-registry; removed in Ussuri)`}`,
    '',
    formatTimingTable(args.timings, args.totalMs),
    `stack.ts completed in ${(args.totalMs / 1000).toFixed(1)} s`,
  ];
  return lines.join('\n');
}
