// verify's security group must let ping and port 22 in on every run: a rule deleted by hand made
// every later verify fail at the floating IP, and a re-run, which only made the rules with the
// group, never put it back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSecurityGroupRules, hasRule, type SecurityGroupRule } from '../../lib/openstack/neutron.ts';
import type { Session } from '../../lib/openstack/keystone.ts';
import { json, startHttpServer, type TestServer } from '../fixtures/http-server.ts';

let server: TestServer;
beforeAll(async () => (server = await startHttpServer()));
afterAll(async () => server?.close());

const session = (): Session => ({
  token: 't', expiresAt: new Date(Date.now() + 3600_000), catalog: [], userId: 'u', projectId: 'p', roles: [], identityUrl: `${server.url}/v3`, timeoutMs: 5000,
  endpointFor: () => server.url,
});

const ICMP: SecurityGroupRule = { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' };
const SSH: SecurityGroupRule = { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22 };

describe('hasRule', () => {
  it('a rule from anywhere counts; one limited to a prefix, a remote group, another port or direction does not', () => {
    const listed = (r: Partial<SecurityGroupRule>) => [{ ...SSH, port_range_min: 22, port_range_max: 22, remote_ip_prefix: null, remote_group_id: null, ...r }];
    expect(hasRule(listed({}), SSH)).toBe(true);
    expect(hasRule(listed({ remote_ip_prefix: '0.0.0.0/0' }), SSH)).toBe(true);
    expect(hasRule(listed({ remote_ip_prefix: '10.0.0.0/8' }), SSH)).toBe(false);
    expect(hasRule(listed({ remote_group_id: 'g' }), SSH)).toBe(false);
    expect(hasRule(listed({ port_range_max: 23 }), SSH)).toBe(false);
    expect(hasRule(listed({ direction: 'egress' }), SSH)).toBe(false);
    expect(hasRule([{ ...ICMP, port_range_min: null, port_range_max: null }], ICMP)).toBe(true);
    expect(hasRule([{ ...ICMP, port_range_min: 8, port_range_max: 0 }], ICMP)).toBe(false);
  });
});

describe('ensureSecurityGroupRules', () => {
  it('adds back only the rule that was deleted, and adds nothing when both are there', async () => {
    const rules: SecurityGroupRule[] = [{ ...SSH, remote_ip_prefix: null }, { direction: 'egress', ethertype: 'IPv4', protocol: null }];
    const posted: unknown[] = [];
    server.route('GET', '/v2.0/security-group-rules', (req, res) => {
      expect(req.url).toContain('security_group_id=sg-1');
      json(res, 200, { security_group_rules: rules });
    });
    server.route('POST', '/v2.0/security-group-rules', (_req, res, body) => {
      const rule = (JSON.parse(body) as { security_group_rule: SecurityGroupRule }).security_group_rule;
      posted.push(rule);
      rules.push(rule);
      json(res, 201, { security_group_rule: rule });
    });
    expect(await ensureSecurityGroupRules(session(), 'sg-1', [ICMP, SSH])).toEqual([ICMP]);
    expect(posted).toEqual([{ security_group_id: 'sg-1', ...ICMP }]);
    expect(await ensureSecurityGroupRules(session(), 'sg-1', [ICMP, SSH])).toEqual([]);
    expect(posted).toHaveLength(1);
  });

  it('a group just made is not listed: both rules are added at once', async () => {
    let listed = 0;
    const posted: unknown[] = [];
    server.route('GET', '/v2.0/security-group-rules', (_req, res) => (listed++, json(res, 200, { security_group_rules: [] })));
    server.route('POST', '/v2.0/security-group-rules', (_req, res, body) => (posted.push(JSON.parse(body)), json(res, 201, JSON.parse(body))));
    expect(await ensureSecurityGroupRules(session(), 'sg-2', [ICMP, SSH], [])).toEqual([ICMP, SSH]);
    expect(listed).toBe(0);
    expect(posted).toHaveLength(2);
  });
});
