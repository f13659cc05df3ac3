import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, isRetryable, joinUrl, request, requestJson } from '../../lib/openstack/http.ts';
import { json, startHttpServer, type TestServer } from '../fixtures/http-server.ts';

let srv: TestServer;

beforeAll(async () => {
  srv = await startHttpServer();
  srv.route('GET', '/ok', (_req, res) => json(res, 200, { hello: 'world' }));
  srv.route('POST', '/echo', (req, res, body) => json(res, 201, { got: JSON.parse(body), type: req.headers['content-type'] }));
  srv.route('GET', '/boom', (_req, res) => {
    res.writeHead(500, { 'Content-Type': 'text/html' });
    res.end(`<html><body><h1>500 Internal Server Error</h1>${'x'.repeat(1000)}</body></html>`);
  });
  srv.route('GET', '/hang', () => undefined);
  srv.route('GET', '/slowbody', (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': 1000 });
    res.write(Buffer.alloc(10));
  });
  // uwsgi --http-socket as Debian ships it: an empty 204 without "Connection: close", then the
  // socket is closed behind the client's back. A client that reuses it fails its next request.
  srv.route('HEAD', '/v3/auth/tokens', (req, res) => {
    res.shouldKeepAlive = true;
    res.writeHead(204);
    res.end(() => setTimeout(() => req.socket.destroy(), 1));
  });
  srv.route('POST', '/v3/projects', (_req, res) => json(res, 201, { project: { id: 'p1' } }));
});

afterAll(async () => srv?.close());

beforeEach(() => {
  srv.requests.length = 0;
  srv.connections = 0;
});

describe('request', () => {
  it('sends JSON, the token and Connection: close, and parses the reply', async () => {
    const res = await request('POST', `${srv.url}/echo`, { json: { a: 1 }, token: 'tok123' });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ got: { a: 1 }, type: 'application/json' });
    const sent = srv.requests[0]!;
    expect(sent.headers['x-auth-token']).toBe('tok123');
    expect(sent.headers.connection).toBe('close');
  });

  it('opens a new connection for every request (agent: false)', async () => {
    for (let i = 0; i < 5; i++) await requestJson('GET', `${srv.url}/ok`);
    expect(srv.connections).toBe(5);
    expect(new Set(srv.requests.map((r) => r.remotePort)).size).toBe(5);
  });

  it('survives a server that closes silently after an empty 204 (uwsgi --http-socket)', async () => {
    for (let i = 0; i < 20; i++) {
      const head = await request('HEAD', `${srv.url}/v3/auth/tokens`);
      expect(head.status).toBe(204);
      // A keep-alive client fails here now and then (6 of 50 measured against this route).
      await new Promise((r) => setTimeout(r, 5));
      const created = await requestJson<{ project: { id: string } }>('POST', `${srv.url}/v3/projects`, { json: { project: { name: 'x' } } });
      expect(created.project.id).toBe('p1');
    }
    expect(srv.connections).toBe(40);
  });

  it('reports an unexpected status with method, URL, status and the start of the body', async () => {
    const err = await request('GET', `${srv.url}/boom`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.method).toBe('GET');
    expect(e.url).toBe(`${srv.url}/boom`);
    expect(e.status).toBe(500);
    expect(e.message.startsWith(`GET ${srv.url}/boom -> 500 Internal Server Error: <html>`)).toBe(true);
    expect(e.body!.length).toBeLessThanOrEqual(300);
    expect(e.message.length).toBeLessThan(450);
    expect(isRetryable(e)).toBe(true);
  });

  it('requestJson gives undefined for an expected non-2xx or empty reply instead of parsing it', async () => {
    srv.route('DELETE', '/gone', (_req, res) => void res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 Not Found\n\nNo image'));
    srv.route('POST', '/empty', (_req, res) => void res.writeHead(202).end());
    expect(await requestJson('DELETE', `${srv.url}/gone`, { expect: [204, 404] })).toBeUndefined();
    expect(await requestJson('POST', `${srv.url}/empty`)).toBeUndefined();
    await expect(requestJson('GET', `${srv.url}/boom`, { expect: [500] })).resolves.toBeUndefined();
  });

  it('treats a status outside `expect` as an error and one inside as success', async () => {
    await expect(request('GET', `${srv.url}/ok`, { expect: [204] })).rejects.toMatchObject({ status: 200 });
    const res = await request('GET', `${srv.url}/nothing-here`, { expect: [404] });
    expect(res.status).toBe(404);
    const err = (await request('GET', `${srv.url}/nothing-here`).catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(404);
    expect(isRetryable(err)).toBe(false);
  });

  it('says nothing answers, and which service to check, when the connection is refused', async () => {
    const gone = await startHttpServer();
    const port = gone.port;
    await gone.close();
    const err = (await request('GET', `http://127.0.0.1:${port}/v3`, { service: 'keystone' }).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.status).toBeUndefined();
    expect(err.message).toBe(`GET http://127.0.0.1:${port}/v3 -> nothing answers at 127.0.0.1:${port} (connection refused) - is keystone running?`);
    expect(isRetryable(err)).toBe(true);
  });

  it('guesses the service from its well-known port', async () => {
    // 9292 on 127.0.0.2 is assumed closed on a test machine.
    const err = (await request('GET', 'http://127.0.0.2:9292/v2/images', { timeoutMs: 2000 }).catch((e: unknown) => e)) as ApiError;
    expect(err.message).toContain('is glance-api running?');
  });

  it('times out a request that gets no reply', async () => {
    const t0 = Date.now();
    const err = (await request('GET', `${srv.url}/hang`, { timeoutMs: 200 }).catch((e: unknown) => e)) as ApiError;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toContain('no reply from');
    expect(err.message).toContain('0.2 s');
  });

  it('a body nobody reads does not crash the process when the idle timeout cuts it', async () => {
    const res = await request('GET', `${srv.url}/slowbody`, { timeoutMs: 100 });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 400));
    // Reading it now reports the cut instead of hanging.
    await expect(res.text()).rejects.toThrow();
  });

  it('does not show credentials embedded in a URL', async () => {
    const err = (await request('GET', `http://user:hunter2@127.0.0.1:${srv.port}/boom`).catch((e: unknown) => e)) as ApiError;
    expect(err.message).not.toContain('hunter2');
    expect(err.url).not.toContain('hunter2');
  });

  it('joins URLs without doubled or missing slashes', () => {
    expect(joinUrl('http://h:9292/', '/v2/images')).toBe('http://h:9292/v2/images');
    expect(joinUrl('http://h/compute/v2.1', 'servers')).toBe('http://h/compute/v2.1/servers');
  });
});
