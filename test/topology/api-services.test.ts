// Each API's port is declared once (lib/api-services.ts): the address table, preflight's port
// check, the owners a busy port may have, the HTTP client's service names and the port each
// plugin's daemon listens on all come from that one declaration.
import { describe, expect, it } from 'vitest';
import { API_SERVICES, apiService } from '../../lib/api-services.ts';
import { renderAll } from '../../lib/config-files.ts';
import { SERVICE_BY_PORT } from '../../lib/openstack/http.ts';
import { orderPlugins } from '../../lib/plan.ts';
import { DEFAULT_PORT_OWNERS } from '../../lib/preflight.ts';
import { PORTS, pluginsOn } from '../../lib/stack-tasks.ts';
import { PLUGINS } from '../../plugins/index.ts';
import { descriptorOf, type ApiServiceDescriptor, type InfraDescriptor } from '../../lib/service/descriptor.ts';
import { RecordingHost } from '../fixtures/recording-host.ts';
import { recordingCloud } from '../fixtures/cloud.ts';

const LAYOUT = `hosts:
  - name: ctl
    address: root@10.0.0.12
    roles: [controller, database, messaging]
  - name: cpu
    address: root@10.0.0.13
    roles: [compute]
`;

describe('every API from its one declaration', () => {
  const { config, ctxs } = recordingCloud(LAYOUT, { ctl: '10.0.0.12', cpu: '10.0.0.13' }, { VIRT_DRIVER: 'fake' });
  const ctl = ctxs[0]!;
  const plugins = pluginsOn(ctl, orderPlugins(config, PLUGINS));

  it('lists six APIs with distinct ports; only nova serves two (compute and metadata, both with n-api)', () => {
    expect(API_SERVICES.map((a) => a.api).sort()).toEqual(['compute', 'identity', 'image', 'metadata', 'network', 'placement']);
    expect(new Set(API_SERVICES.map((a) => a.port)).size).toBe(API_SERVICES.length);
    const others = API_SERVICES.filter((a) => a.api !== 'metadata');
    for (const key of ['plugin', 'service'] as const) expect(new Set(others.map((a) => a[key])).size, key).toBe(others.length);
    expect(apiService('metadata')).toMatchObject({ plugin: 'nova', service: 'n-api' });
  });

  for (const a of API_SERVICES) {
    it(`${a.api} (${a.plugin}, port ${a.port}): address table, port check, owners, client names, and the daemon's own listen port`, async () => {
      // The address table: its URL on the host that runs its service.
      expect(ctl.endpoints.url[a.api]).toBe(`http://10.0.0.12:${a.port}${a.path}`);
      // Preflight checks the port on the host of the plugin, and knows its own processes there.
      expect(PORTS[a.plugin]).toContain(a.port);
      expect(PORTS[a.plugin]).toEqual(API_SERVICES.filter((x) => x.plugin === a.plugin).map((x) => x.port));
      expect(DEFAULT_PORT_OWNERS[a.port]).toEqual(a.owners);
      // The HTTP client names the daemon when nothing answers on the port.
      expect(SERVICE_BY_PORT[String(a.port)]).toBe(a.daemon);
      // The plugin's daemon listens on that port: in its argv (uWSGI) or its config file's bind_port.
      const plugin = plugins.find((p) => p.name === a.plugin)!;
      expect(plugin, a.plugin).toBeDefined();
      const argv = (plugin.daemons?.(ctl) ?? []).flatMap((d) => d.argv ?? []).join(' ');
      const files = [...(await renderAll(ctl, [plugin])).values()].flat().map((f) => f.content).join('\n');
      const listens = argv.includes(`:${a.port}`) || new RegExp(`^bind_port = ${a.port}$`, 'm').test(files);
      expect(listens, `${a.plugin} listens on ${a.port}: ${argv}`).toBe(true);
    });
  }
});

describe('every service descriptor: its ports from its one declaration', () => {
  const { ctxs } = recordingCloud(LAYOUT, { ctl: '10.0.0.12', cpu: '10.0.0.13' }, { VIRT_DRIVER: 'fake' });
  const ctl = ctxs[0]!;
  const declared = PLUGINS.map((p) => ({ p, d: descriptorOf(p) })).filter((x): x is { p: (typeof PLUGINS)[number]; d: ApiServiceDescriptor | InfraDescriptor } => !!x.d);
  const apis = declared.filter((x) => 'apis' in x.d) as { p: (typeof PLUGINS)[number]; d: ApiServiceDescriptor }[];
  const infra = declared.filter((x) => 'ports' in x.d) as { p: (typeof PLUGINS)[number]; d: InfraDescriptor }[];

  it('keystone, glance, placement, neutron and nova are API descriptors; mariadb, rabbitmq, memcached and ovn-northd infrastructure ones', () => {
    expect(apis.map((x) => x.d.name).sort()).toEqual(['glance', 'keystone', 'neutron', 'nova', 'placement']);
    expect(infra.map((x) => x.d.name).sort()).toEqual(['mariadb', 'memcached', 'ovn-northd', 'rabbitmq']);
    for (const { p, d } of declared) expect([p.name, p.services]).toEqual([d.name, d.services]);
  });

  it('every API in the table is served by exactly one descriptor, which names it', () => {
    for (const a of API_SERVICES) expect(apis.filter((x) => x.d.apis.includes(a.api)).map((x) => x.d.name), a.api).toEqual([a.plugin]);
  });

  for (const { d } of apis) {
    for (const api of d.apis) {
      it(`${d.name} serves ${api}: its port in the address table, preflight's port check and the HTTP client's service map`, () => {
        const a = apiService(api);
        expect(a.plugin).toBe(d.name);
        expect(d.services).toContain(a.service);
        expect(ctl.endpoints.url[api]).toBe(`http://10.0.0.12:${a.port}${a.path}`);
        expect(PORTS[d.name]).toContain(a.port);
        expect(DEFAULT_PORT_OWNERS[a.port]).toEqual(a.owners);
        expect(SERVICE_BY_PORT[String(a.port)]).toBe(a.daemon);
      });
    }
    if (d.keystone) {
      it(`${d.name} registers its catalog entry at the address table's URL of its own API`, () => {
        expect(d.apis).toContain(d.keystone!.type);
      });
    }
  }

  for (const { p, d } of infra) {
    it(`${d.name}: preflight refuses each of its ports held by another process`, async () => {
      for (const spec of d.ports) {
        const host = new RecordingHost({ name: 'ctl' }).reply(/^ss -Hltnp$/, {
          stdout: `LISTEN 0 128 0.0.0.0:${spec.port} 0.0.0.0:* users:(("intruder",pid=4711,fd=3))\n`,
        });
        const ctx = { ...ctl, host } as typeof ctl;
        await expect(p.preflight!(ctx), `${d.name} port ${spec.port}`).rejects.toThrow(String(spec.port));
        expect(host.commandLines).toContain('ss -Hltnp');
      }
      // Held by its own process (a re-run): no problem.
      const own = new RecordingHost({ name: 'ctl' }).reply(/^ss -Hltnp$/, {
        stdout: d.ports.map((s) => `LISTEN 0 128 0.0.0.0:${s.port} 0.0.0.0:* users:(("${(s.owners ?? DEFAULT_PORT_OWNERS[s.port])![0]}",pid=42,fd=3))`).join('\n') + '\n',
      });
      await expect(p.preflight!({ ...ctl, host: own } as typeof ctl)).resolves.toBeUndefined();
    });
  }
});
