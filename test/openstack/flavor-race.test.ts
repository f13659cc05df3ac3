// Two compute hosts verify at once (cloudVerifyTasks): both may find no stack.tiny flavor and both
// create it; Nova answers the second with 409, and that one must read the flavor back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFlavor, ensureFlavors } from '../../lib/openstack/nova.ts';
import type { Session } from '../../lib/openstack/keystone.ts';
import { json, startHttpServer, type TestServer } from '../fixtures/http-server.ts';

let server: TestServer;
beforeAll(async () => (server = await startHttpServer()));
afterAll(async () => server?.close());

const session = (): Session => ({
  token: 't', expiresAt: new Date(Date.now() + 3600_000), catalog: [], userId: 'u', projectId: 'p', roles: [], identityUrl: `${server.url}/v3`, timeoutMs: 5000,
  endpointFor: () => `${server.url}/v2.1`,
});

describe('ensureFlavor', () => {
  it('reads the flavor back when another verify created it between its look and its create (409)', async () => {
    let gets = 0;
    server.route('GET', '/v2.1/flavors/detail', (_q, res) => json(res, 200, { flavors: gets++ === 0 ? [] : [{ id: 'f-1', name: 'stack.tiny' }] }));
    server.route('POST', '/v2.1/flavors', (_q, res) => json(res, 409, { conflictingRequest: { code: 409, message: 'Flavor with name stack.tiny already exists.' } }));
    expect(await ensureFlavor(session(), { name: 'stack.tiny', ram: 128, vcpus: 1, disk: 1 })).toBe('f-1');
    expect(gets).toBe(2);
  });

  it('a 409 without the flavor appearing is still an error', async () => {
    server.route('GET', '/v2.1/flavors/detail', (_q, res) => json(res, 200, { flavors: [] }));
    server.route('POST', '/v2.1/flavors', (_q, res) => json(res, 409, { conflictingRequest: { code: 409, message: 'Flavor with ID 7 already exists.' } }));
    await expect(ensureFlavor(session(), { name: 'stack.tiny', ram: 128, vcpus: 1, disk: 1 })).rejects.toThrow(/409/);
  });

  it('ensureFlavors lists once and creates only the missing ones (a re-run: one request)', async () => {
    const requests: string[] = [];
    server.route('GET', '/v2.1/flavors/detail', (_q, res) => (requests.push('GET'), json(res, 200, { flavors: [{ id: '1', name: 'm1.tiny' }] })));
    server.route('POST', '/v2.1/flavors', (_q, res) => (requests.push('POST'), json(res, 200, { flavor: { id: '2', name: 'm1.small' } })));
    await ensureFlavors(session(), [{ name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 }]);
    expect(requests).toEqual(['GET']);
    requests.length = 0;
    await ensureFlavors(session(), [{ name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 }, { name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 }]);
    // The listing, then m1.small's own look (it may have appeared meanwhile) and its create.
    expect(requests).toEqual(['GET', 'GET', 'POST']);
  });
});
