// kolla-ansible's inventory groups, per release: the top groups an operator fills with hosts, and
// every group that kolla-ansible's plays look hosts up in, each made of other groups. Written from
// kolla-ansible's multinode inventory of each release from zed to 2025.1 (test/kolla/groups.test.ts
// holds the names as read there): a group a play looks up but the inventory lacks fails that play,
// so every one of them is written, whether or not this cloud runs that service.

/** kolla-ansible's openstack_release values this export knows, oldest first, with keystone's major. */
export const KOLLA_RELEASES = [
  { release: 'zed', keystoneMajor: 22 },
  { release: '2023.1', keystoneMajor: 23 },
  { release: '2023.2', keystoneMajor: 24 },
  { release: '2024.1', keystoneMajor: 25 },
  { release: '2024.2', keystoneMajor: 26 },
  { release: '2025.1', keystoneMajor: 27 },
] as const;
export type KollaRelease = (typeof KOLLA_RELEASES)[number]['release'];

export const isKollaRelease = (s: string): s is KollaRelease => KOLLA_RELEASES.some((r) => r.release === s);

/** The groups that hold hosts; every other group is made of groups. */
export const TOP_GROUPS = ['control', 'network', 'compute', 'monitoring', 'storage', 'deployment'] as const;
export type TopGroup = (typeof TOP_GROUPS)[number];

/**
 * One line per set of groups that are made of the same groups over the same releases:
 * "members | groups[ | first..last release]". An open end of a range is the table's first or last
 * release. Order matters only for reading the written inventory: parents before their parts.
 */
const TABLE = `
control network compute storage monitoring | baremetal common
control | tls-backend outward-rabbitmq freezer murano solum sahara senlin vitrage | ..2023.2
control network | tls-backend | 2024.1..
compute | collectd hacluster-remote ceilometer-compute ceilometer-ipmi cyborg-agent zun-compute zun-cni-daemon prometheus-libvirt-exporter masakari-instancemonitor ovn-controller-compute
monitoring | grafana influxdb prometheus venus prometheus-alertmanager prometheus-openstack-exporter prometheus-blackbox-exporter
control | etcd hacluster mariadb rabbitmq keystone glance nova cinder cloudkitty memcached horizon barbican heat ironic magnum mistral manila ceilometer aodh gnocchi tacker trove watcher octavia designate placement zun redis blazar opensearch neutron-server masakari-api masakari-engine masakari-hostmonitor ovn-database
control | kafka zookeeper | ..2023.1
compute control monitoring network storage | telegraf
network | loadbalancer neutron manila-share designate-mdns ovn-controller-network
compute control monitoring network storage | monasca-agent | ..2023.1
monitoring | monasca storm | ..2023.1
network compute manila-share | openvswitch
control | swift | ..2024.2
control compute | cyborg | ..2024.1
control | cyborg | 2024.2..
deployment | bifrost
monitoring | skydive | ..zed
common | cron fluentd kolla-logs kolla-toolbox
opensearch | elasticsearch-curator | ..zed
opensearch | opensearch-dashboards prometheus-elasticsearch-exporter
glance | glance-api
nova | nova-api nova-conductor nova-super-conductor nova-novncproxy nova-scheduler nova-spicehtml5proxy nova-compute-ironic nova-serialproxy
neutron | neutron-dhcp-agent neutron-l3-agent neutron-metadata-agent neutron-bgp-dragent neutron-infoblox-ipam-agent neutron-metering-agent ironic-neutron-agent
compute network | neutron-ovn-metadata-agent
cinder | cinder-api cinder-scheduler
storage | cinder-backup cinder-volume tgtd
cloudkitty | cloudkitty-api cloudkitty-processor
freezer | freezer-api freezer-scheduler | ..2023.2
compute storage ironic | iscsid
manila | manila-api manila-scheduler manila-data
swift | swift-proxy-server | ..2024.2
storage | swift-account-server swift-container-server swift-object-server | ..2024.2
barbican | barbican-api barbican-keystone-listener barbican-worker
heat | heat-api heat-api-cfn heat-engine
murano | murano-api murano-engine | ..2023.2
monasca-agent | monasca-agent-collector monasca-agent-forwarder monasca-agent-statsd | ..2023.1
monasca | monasca-api monasca-log-persister monasca-log-metrics monasca-thresh monasca-notification monasca-persister | ..2023.1
storm | storm-worker storm-nimbus | ..2023.1
ironic | ironic-api ironic-conductor ironic-inspector ironic-tftp ironic-http
magnum | magnum-api magnum-conductor
sahara | sahara-api sahara-engine | ..2023.2
solum | solum-api solum-worker solum-deployer solum-conductor solum-application-deployment solum-image-builder | ..2023.2
mistral | mistral-api mistral-executor mistral-engine mistral-event-engine
ceilometer | ceilometer-central ceilometer-notification
aodh | aodh-api aodh-evaluator aodh-listener aodh-notifier
cyborg | cyborg-api cyborg-conductor
gnocchi | gnocchi-api gnocchi-statsd gnocchi-metricd
trove | trove-api trove-conductor trove-taskmanager
compute storage | multipathd
watcher | watcher-api watcher-engine watcher-applier
senlin | senlin-api senlin-conductor senlin-engine senlin-health-manager | ..2023.2
octavia | octavia-api octavia-driver-agent octavia-health-manager octavia-housekeeping octavia-worker
designate | designate-api designate-central designate-producer designate-worker designate-sink designate-backend-bind9
placement | placement-api
zun | zun-api zun-wsproxy
skydive | skydive-analyzer | ..zed
compute network | skydive-agent | ..zed
tacker | tacker-server tacker-conductor
vitrage | vitrage-api vitrage-notifier vitrage-graph vitrage-ml vitrage-persistor | ..2023.2
blazar | blazar-api blazar-manager
monitoring control compute network storage | prometheus-node-exporter prometheus-cadvisor
mariadb | prometheus-mysqld-exporter
loadbalancer | prometheus-haproxy-exporter | ..2023.2
memcached | prometheus-memcached-exporter
prometheus-alertmanager | prometheus-msteams | ..2024.1
ovn-controller-compute ovn-controller-network | ovn-controller
ovn-database | ovn-northd ovn-nb-db ovn-sb-db
venus | venus-api venus-manager
control | skyline | 2023.1..
compute network | neutron-ovn-agent | 2023.1..
skyline | skyline-apiserver skyline-console | 2023.1..
loadbalancer | letsencrypt | 2023.2..
letsencrypt | letsencrypt-webserver letsencrypt-lego | 2023.2..
control | valkey | 2025.1..
nova | nova-metadata | 2025.1..
ovn-database | ovn-sb-db-relay | 2025.1..
`;

export interface KollaGroup {
  readonly name: string;
  /** The groups whose hosts it takes. */
  readonly children: readonly string[];
}

const indexOf = (r: string, line: string): number => {
  const i = KOLLA_RELEASES.findIndex((k) => k.release === r);
  if (i < 0) throw new Error(`lib/kolla/groups.ts: "${r}" in "${line}" is no release of KOLLA_RELEASES`);
  return i;
};

/** Every group of that release's inventory but the top groups, parents before their parts. */
export function kollaGroups(release: KollaRelease): KollaGroup[] {
  const at = indexOf(release, release);
  const out: KollaGroup[] = [];
  for (const line of TABLE.trim().split('\n')) {
    const [members = '', names = '', range] = line.split('|').map((p) => p.trim());
    if (range) {
      const [from, to] = range.split('..');
      if (from && at < indexOf(from, line)) continue;
      if (to && at > indexOf(to, line)) continue;
    }
    const children = members.split(/\s+/);
    for (const name of names.split(/\s+/)) out.push({ name, children });
  }
  return out;
}
