/** The physical network name of the public (flat) network: Neutron's provider network and the gateway chassis's bridge mapping meet on it. */
export const PUBLIC_PHYSNET = 'public';
