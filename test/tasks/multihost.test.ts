// Three hosts from one topology: which plugin runs where, the graph's cross-host edges, and the
// config files each host gets from the one address table (rendered on recording hosts).
import { describe, expect, it } from 'vitest';
import { cloudVerifyTasks, makeCloudContexts, needsDepth, pluginsOn, stackTasks, teardownOrder } from '../../lib/stack-tasks.ts';
import { runTasks } from '../../lib/tasks.ts';
import { createLogger } from '../../lib/log.ts';
import type { ServicePlugin } from '../../lib/plugin.ts';
import { orderPlugins } from '../../lib/plan.ts';
import { taskOrder } from '../../lib/tasks.ts';
import { renderAll } from '../../lib/config-files.ts';
import { IniDoc } from '../../lib/ini.ts';
import { PLUGINS } from '../../plugins/index.ts';
import { DEBIAN_SYSV, MemoryLogger, RecordingHost, ZED } from '../fixtures/recording-host.ts';
import { recordingCloud } from '../fixtures/cloud.ts';

const LAYOUT = `hosts:
  - name: infra
    address: root@10.0.0.11
    roles: [database, messaging]
  - name: ctl
    address: root@10.0.0.12
    roles: [controller]
  - name: cpu
    address: root@10.0.0.13
    roles: [compute]
`;

function cloud() {
  const { config, ctxs } = recordingCloud(LAYOUT, { infra: '10.0.0.11', ctl: '10.0.0.12', cpu: '10.0.0.13' }, { VIRT_DRIVER: 'fake' });
  return { config, ctxs, plugins: orderPlugins(config, PLUGINS) };
}

describe('a three-host cloud', () => {
  it('runs each plugin on the hosts that have its service, and on(service) finds that host', () => {
    const { ctxs, plugins } = cloud();
    const names = (i: number) => pluginsOn(ctxs[i]!, plugins).map((p) => p.name);
    expect(names(0)).toEqual(['mariadb', 'rabbitmq', 'memcached']);
    expect(names(1)).toEqual(['keystone', 'glance', 'image', 'placement', 'ovn-northd', 'ovn-controller', 'neutron', 'networks', 'nova']);
    expect(names(2)).toEqual(['ovn-controller', 'nova-compute', 'ovn-metadata-agent']);
    expect(ctxs[2]!.on('mysql').host.name).toBe('infra');
    expect(ctxs[0]!.on('n-api').address).toBe('10.0.0.12');
    expect(teardownOrder(ctxs, plugins).map((c) => c.host.name)).toEqual(['cpu', 'ctl', 'infra']);
    // Given in another order, the same: computes first, the database host last.
    expect(teardownOrder([ctxs[0]!, ctxs[2]!, ctxs[1]!], plugins).map((c) => c.host.name)).toEqual(['cpu', 'ctl', 'infra']);
  });

  it("derives the teardown order from the plugins' needs: what needs more goes first", () => {
    const { plugins } = cloud();
    const depth = needsDepth(plugins);
    expect(depth.get('mariadb')).toBe(0);
    expect(depth.get('keystone')).toBe(1);
    for (const p of plugins) for (const n of p.needs) if (depth.has(n)) expect(depth.get(p.name)!, `${p.name} needs ${n}`).toBeGreaterThan(depth.get(n)!);
    expect(depth.get('nova-compute')).toBe(Math.max(...depth.values()));
  });

  it('refuses a host opened under another name than the hosts file gives it', () => {
    const { config, ctxs } = cloud();
    const wrong = { name: 'cpu', host: new RecordingHost({ name: '10.0.0.13' }), facts: DEBIAN_SYSV, release: ZED };
    expect(() => makeCloudContexts({ config, topology: ctxs[0]!.topology, endpoints: ctxs[0]!.endpoints, hosts: [wrong], log: new MemoryLogger() })).toThrow(/host cpu was opened under another name \(10\.0\.0\.13\)/);
  });

  it('the graph: no host installs before every preflight; cross-host edges from the plugins; no cycle', () => {
    const { ctxs, plugins } = cloud();
    const order = taskOrder(stackTasks(ctxs, plugins));
    const ids = order.map((o) => o.node.id);
    const at = (id: string) => {
      expect(ids, id).toContain(id);
      return ids.indexOf(id);
    };
    for (const h of ['infra', 'ctl', 'cpu']) for (const p of ['infra', 'ctl', 'cpu']) expect(at(`${p}/preflight`)).toBeLessThan(at(`${h}/hosts/names`));
    for (const h of ['infra', 'ctl', 'cpu']) expect(at(`${h}/hosts/names`)).toBeLessThan(at(`${h}/packages/install`));
    expect(order.find((o) => o.node.id === 'ctl/keystone/init')!.after).toEqual(['infra/mariadb/register']);
    expect(order.find((o) => o.node.id === 'cpu/nova-compute/start')!.after).toEqual(['infra/rabbitmq/register', 'ctl/nova/register', 'ctl/placement/register']);
    expect(at('ctl/nova/register')).toBeLessThan(at('cpu/nova-compute/register'));
    expect(ids.some((id) => id.startsWith('cpu/keystone') || id.startsWith('infra/nova'))).toBe(false);
    expect(at('cpu/nova-compute/register')).toBeLessThan(at('ctl/nova/verify'));
  });

  it("verify: every host's links first, then every host's checks at once", async () => {
    const { ctxs } = cloud();
    const events: string[] = [];
    const slow = (name: string): ServicePlugin => ({
      name, services: [], needs: [], packages: async () => [],
      links: async () => {
        events.push(`links ${name}`);
        return [];
      },
      verify: async () => {
        events.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, 400));
        events.push(`end ${name}`);
      },
    });
    const tree = cloudVerifyTasks(ctxs.map((ctx) => ({ ctx, plugins: [slow(ctx.host.name)] })));
    const r = await runTasks([tree], { renderer: 'plain', log: createLogger({ debug: false, out: () => {} }), defaultTimeoutMs: 10_000 });
    expect(r.ok, r.message).toBe(true);
    // Every host's links are checked, beside the functional checks (a failing check waits for their verdicts).
    const firstStart = events.findIndex((e) => e.startsWith('start'));
    expect(events.filter((e) => e.startsWith('links')).sort()).toEqual(['links cpu', 'links ctl', 'links infra']);
    // The three checks overlap: all have started before the first one ends.
    expect(events.slice(firstStart, firstStart + 3).every((e) => e.startsWith('start'))).toBe(true);
  });

  it('every address in every config file comes from the table; the compute host gets no database credentials', async () => {
    const { ctxs, plugins } = cloud();
    const files = new Map<string, Map<string, string>>();
    for (const c of ctxs) {
      const rendered = [...(await renderAll(c, pluginsOn(c, plugins))).values()].flat();
      files.set(c.host.name, new Map(rendered.map((f) => [f.path, f.content])));
    }
    const ini = (host: string, path: string) => IniDoc.parse(files.get(host)!.get(path)!, { dialect: 'oslo' });
    const novaConf = ini('ctl', '/etc/nova/nova.conf');
    expect(novaConf.get('database', 'connection')).toMatch(/^mysql\+pymysql:\/\/nova@10\.0\.0\.11\/nova\?/);
    expect(novaConf.get('DEFAULT', 'transport_url')).toBe('rabbit://stackrabbit:rbpw@10.0.0.11:5672/');
    expect(novaConf.get('DEFAULT', 'my_ip')).toBe('10.0.0.12');
    expect(novaConf.get('glance', 'api_servers')).toBe('http://10.0.0.12:9292');
    expect(novaConf.get('keystone_authtoken', 'memcached_servers')).toBe('10.0.0.11:11211');
    const cpu = files.get('cpu')!;
    const computeConf = [...cpu.entries()].find(([p]) => p.includes('nova'))!;
    const compute = IniDoc.parse(computeConf[1], { dialect: 'oslo' });
    expect(compute.get('DEFAULT', 'my_ip')).toBe('10.0.0.13');
    expect(compute.get('DEFAULT', 'transport_url')).toBe('rabbit://stackrabbit:rbpw@10.0.0.11:5672/');
    expect(compute.get('placement', 'auth_url')).toBe('http://10.0.0.12:5000/v3');
    expect(computeConf[1]).not.toMatch(/connection\s*=|dbpw/);
    expect([...cpu.keys()].some((p) => p.includes('stack-db.cnf'))).toBe(false);
    // MariaDB and memcached listen on the address the other hosts use, never 0.0.0.0.
    const infra = [...files.get('infra')!.values()].join('\n');
    expect(infra).toMatch(/bind-address = 10\.0\.0\.11/);
    expect(infra).toMatch(/^-l 10\.0\.0\.11$/m);
    expect(infra).not.toContain('0.0.0.0');
    expect(ini('ctl', '/etc/glance/glance-api.conf').get('DEFAULT', 'bind_host')).toBe('10.0.0.12');
  });
});

describe('edges that a slow or reordered run needs', () => {
  it("nova's daemons start after placement's register: nova-conductor's Placement client logs in as it starts (HTTP 401 and exit otherwise)", () => {
    const { ctxs, plugins } = cloud();
    const order = taskOrder(stackTasks(ctxs, plugins));
    const at = (id: string) => order.findIndex((o) => o.node.id === id);
    expect(order.find((o) => o.node.id === 'ctl/nova/start')!.after).toContain('ctl/placement/register');
    expect(at('ctl/placement/register')).toBeLessThan(at('ctl/nova/start'));
  });
});
