// What a developer expects after a stack (devstack's create_neutron_initial_network): a `private`
// network and subnet in the demo project, a `public` flat network on the gateway's br-ex, and
// `router1` joining them with SNAT. Found by name and kept on a re-run; made when missing. Runs
// with OVN (its service), through Neutron's API only.

import { StackError } from '../../lib/errors.ts';
import { quote } from '../../lib/shell.ts';
import { PUBLIC_PHYSNET } from '../../lib/network/physnet.ts';
import { privateNetwork, publicNetwork, type NetworkPlan } from '../../lib/network/settings.ts';
import { ensureProject, type Session } from '../../lib/openstack/keystone.ts';
import { ensureNamed, ensureRouterInterface, ensureSecurityGroupRules, list, listAgents, listNamed, update, type Network, type Router, type SecurityGroupRule, type Subnet } from '../../lib/openstack/neutron.ts';
import type { ServicePlugin, StackContext } from '../../lib/plugin.ts';
import { VERIFY_SECURITY_GROUP } from '../../lib/network/verify-names.ts';
import { adminSession } from '../../lib/service/lifecycle.ts';
import { FAST_POLL_MS, pollUntil, settledInOrder } from '../../lib/wait.ts';

const subnetName = (n: NetworkPlan): string => `${n.name}-subnet`;

/** What verify's test servers must let in: the network host pings them and opens their port 22. */
const VERIFY_RULES: readonly SecurityGroupRule[] = [
  { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' },
  { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22 },
];
const describeRule = (r: SecurityGroupRule): string => `${r.direction} ${r.protocol}${r.port_range_min ? ` ${r.port_range_min}` : ''}`;

async function ensureSubnet(s: Session, net: Network, plan: NetworkPlan, projectId: string, dhcp: boolean, setting: string): Promise<{ subnet: Subnet; created: boolean }> {
  const { value, created } = await ensureNamed<Subnet>(s, 'subnets', subnetName(plan), projectId, {
    network_id: net.id,
    ip_version: 4,
    cidr: plan.cidr,
    gateway_ip: plan.gateway,
    enable_dhcp: dhcp,
  });
  if (value.cidr !== plan.cidr) {
    throw new StackError(
      `subnet ${subnetName(plan)} has ${value.cidr}, but ${setting} is ${plan.cidr}`,
      `Set ${setting}=${value.cidr} again, or delete the network (openstack network delete ${plan.name}, after its servers and router interface) for a re-run to make it anew.`,
    );
  }
  return { subnet: value, created };
}

/** The objects, made where missing; what was made, for the log. */
async function ensureInitialNetworks(ctx: StackContext): Promise<string[]> {
  const s = await adminSession(ctx);
  const set = ctx.config.settings;
  const made: string[] = [];
  // What does not depend on each other is looked up (and made) at once: a re-run only looks.
  const [adminProject, demoProject] = await Promise.all([ensureProject(s, 'admin'), ensureProject(s, set.DEMO_PROJECT)]);
  const pub = publicNetwork(ctx.config);
  const priv = privateNetwork(ctx.config);
  // The router waits only for the public network it has its gateway on; its lookup is asked at once.
  const routerListed = listNamed<Router>(s, 'routers', set.Q_ROUTER_NAME, demoProject);
  routerListed.catch(() => undefined);
  const pubReady = (async () => {
    const net = await ensureNamed<Network>(s, 'networks', pub.name, adminProject, {
      'router:external': true,
      'provider:network_type': 'flat',
      'provider:physical_network': PUBLIC_PHYSNET,
    });
    return [net, await ensureSubnet(s, net.value, pub, adminProject, false, 'FLOATING_RANGE')] as const;
  })();
  const routerReady = pubReady.then(async ([pubNet]) => {
    const gateway = { network_id: pubNet.value.id, enable_snat: true };
    const router = await ensureNamed<Router>(s, 'routers', set.Q_ROUTER_NAME, demoProject, { external_gateway_info: gateway }, routerListed);
    if (router.created) return { router, made: `router ${set.Q_ROUTER_NAME}` };
    if (router.value.external_gateway_info?.network_id === pubNet.value.id) return { router };
    await update<Router>(s, 'routers', router.value.id, { external_gateway_info: gateway });
    return { router, made: `${set.Q_ROUTER_NAME}'s gateway on ${pub.name}` };
  });
  const [[pubNet, pubSub], [privNet, privSub], sg, routerDone] = await settledInOrder([
    pubReady,
    (async () => {
      const net = await ensureNamed<Network>(s, 'networks', priv.name, demoProject, {});
      return [net, await ensureSubnet(s, net.value, priv, demoProject, true, 'FIXED_RANGE')] as const;
    })(),
    // verify's test servers (admin's) let ping and port 22 in; users' own servers keep the default group.
    (async () => {
      const group = await ensureNamed<{ id: string }>(s, 'security-groups', VERIFY_SECURITY_GROUP, adminProject, { description: 'stack.ts verify: ICMP and TCP 22 in' });
      // Looked at on every run: a rule deleted by hand would fail every verify's floating IP check.
      const added = await ensureSecurityGroupRules(s, group.value.id, VERIFY_RULES, group.created ? [] : undefined);
      return { ...group, added };
    })(),
    routerReady,
  ] as const);
  if (pubNet.created) made.push(`network ${pub.name}`);
  if (pubSub.created) made.push(`subnet ${subnetName(pub)} ${pub.cidr}`);
  if (privNet.created) made.push(`network ${priv.name}`);
  if (privSub.created) made.push(`subnet ${subnetName(priv)} ${priv.cidr}`);
  if (sg.created) made.push(`security group ${VERIFY_SECURITY_GROUP}`);
  else if (sg.added.length) made.push(`${VERIFY_SECURITY_GROUP}'s rule${sg.added.length > 1 ? 's' : ''} ${sg.added.map(describeRule).join(', ')}`);
  const router = routerDone.router;
  if (routerDone.made) made.push(routerDone.made);
  if (await ensureRouterInterface(s, router.value.id, privSub.subnet.id)) made.push(`${set.Q_ROUTER_NAME}'s interface on ${subnetName(priv)}`);
  return made;
}

/** What Neutron's agent list lacks: an alive OVN controller per chassis, an alive metadata agent per agent host; undefined when nothing. */
async function missingAgents(ctx: StackContext): Promise<string | undefined> {
  const agents = await listAgents(await adminSession(ctx));
  const alive = (re: RegExp) => agents.filter((a) => re.test(a.agent_type) && a.alive).length;
  const want = [
    { what: 'OVN controller agents', re: /^OVN Controller( Gateway)? agent$/, n: ctx.topology.hostsFor('ovn-controller').length },
    { what: 'OVN metadata agents', re: /^OVN Metadata agent$/, n: ctx.topology.hostsFor('q-ovn-metadata-agent').length },
  ];
  const short = want.filter((w) => alive(w.re) < w.n);
  return short.length ? short.map((w) => `${alive(w.re)} of ${w.n} ${w.what} alive`).join(', ') : undefined;
}

const plugin: ServicePlugin = {
  name: 'networks',
  services: ['ovn-northd'],
  needs: ['neutron', 'keystone'],
  after: { init: [], start: [], register: ['neutron/register', 'keystone/register'] },

  packages: async () => [],

  async register(ctx) {
    const made = await ensureInitialNetworks(ctx);
    ctx.log.info(made.length ? `networks: made ${made.join(', ')}` : 'networks: private, public and the router are in place');
  },

  async verify(ctx) {
    const s = await adminSession(ctx);
    const set = ctx.config.settings;
    // `openstack network agent list` after a stack shows every chassis alive: a chassis that has
    // just registered takes a moment to be reported alive, so it is waited for. A metadata agent
    // enters Neutron's list only once it reports a southbound nb_cfg, which it does when that
    // changes: Neutron's own liveness ping changes it at most every agent_down_time/2 (37 s), so a
    // first run sat out ~20 s here. One sync through OVN's databases makes every agent report now
    // (beside the router's lookup); the wait below still decides.
    const [[router]] = await Promise.all([
      list<Router>(s, 'routers', { name: set.Q_ROUTER_NAME }),
      ctx.host.run(`ovn-nbctl --db=${quote(ctx.endpoints.ovn.nb)} --timeout=10 --wait=sb sync`, { check: false, label: 'every chassis reports now (ovn-nbctl sync)' }),
    ]);
    if (!router) throw new StackError(`router ${set.Q_ROUTER_NAME} is gone`, 'A re-run of ./stack.ts makes it again.');
    const res = await pollUntil(async () => {
      const missing = await missingAgents(ctx);
      return { ok: missing === undefined, detail: missing ?? '' };
    }, { timeoutMs: ctx.config.settings.SERVICE_TIMEOUT * 1000, intervalMs: FAST_POLL_MS });
    if (!res.ok) {
      throw new StackError(
        `Neutron does not list every chassis as alive: ${res.detail}`,
        'Each ovn-controller and metadata agent reports through the southbound database; a re-run of ./stack.ts restarts what is down, ./stack.ts status shows it.',
      );
    }
    if (!router.external_gateway_info?.external_fixed_ips?.length) {
      throw new StackError(`router ${set.Q_ROUTER_NAME} has no address on ${set.PUBLIC_NETWORK_NAME}`, 'A re-run of ./stack.ts sets its gateway again.');
    }
  },

  async describe(ctx) {
    const pub = publicNetwork(ctx.config);
    const priv = privateNetwork(ctx.config);
    return [`Networks: ${priv.name} ${priv.cidr} (project ${ctx.config.settings.DEMO_PROJECT}) -> ${ctx.config.settings.Q_ROUTER_NAME} (SNAT) -> ${pub.name} ${pub.cidr}, floating IPs`];
  },
};

export default plugin;
