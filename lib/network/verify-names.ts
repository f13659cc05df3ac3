/** The security group verify's test servers are in (made by the networks plugin, used by nova-compute's verify): ICMP and TCP 22 in. */
export const VERIFY_SECURITY_GROUP = 'stack-verify';
