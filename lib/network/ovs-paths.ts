/** Open vSwitch's database socket on every chassis (root's): ovs-vsctl and ovn-controller use it. */
export const OVS_SOCKET = '/var/run/openvswitch/db.sock';
/**
 * The same database on loopback TCP, for the clients that do not run as root (the metadata agent
 * as neutron, nova-compute's os-vif as nova): devstack's choice too. Only local users reach it.
 */
export const OVS_LOCAL_TCP = 'tcp:127.0.0.1:6640';
/** What ovsdb-server listens on for OVS_LOCAL_TCP (its manager_options: port first). */
export const OVS_LOCAL_LISTEN = 'ptcp:6640:127.0.0.1';
