import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StackError } from '../../lib/errors.ts';
import { defaultOkStatus, pollUntil, waitForHttp } from '../../lib/wait.ts';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** An HTTP server on 127.0.0.1 that answers the given statuses in turn (the last repeats). */
async function serve(statuses: number[]): Promise<{ url: string; hits: () => number }> {
  let n = 0;
  const srv = http.createServer((_req, res) => {
    const status = statuses[Math.min(n, statuses.length - 1)]!;
    n++;
    res.writeHead(status).end();
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/`, hits: () => n };
}

describe('defaultOkStatus', () => {
  it('2xx-4xx are up (401 = the API answers), 5xx are not', () => {
    for (const s of [200, 300, 401, 404]) expect(defaultOkStatus(s)).toBe(true);
    for (const s of [500, 502, 503, 504]) expect(defaultOkStatus(s)).toBe(false);
  });
});

describe('waitForHttp', () => {
  it('keeps polling through 503s and resolves with the first good status', async () => {
    const { url, hits } = await serve([503, 502, 401]);
    expect(await waitForHttp(url, { timeoutMs: 5000, intervalMs: 20 })).toBe(401);
    expect(hits()).toBe(3);
  });

  it('an open port that does not speak HTTP is not "up"', async () => {
    const silent = net.createServer((sock) => sock.on('data', () => undefined)); // accepts, never answers
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    const err = await waitForHttp(`http://127.0.0.1:${port}/`, { name: 'mute', timeoutMs: 1200, intervalMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    expect((err as StackError).message).toMatch(/^mute did not answer at http:\/\/127\.0\.0\.1:\d+\/ within 1 s \(last attempt: /);
    expect((err as StackError).hint).toMatch(/accepts connections but does not answer/);
  });

  it('a custom okStatus decides', async () => {
    const { url } = await serve([200, 200, 204]);
    expect(await waitForHttp(url, { timeoutMs: 5000, intervalMs: 10, okStatus: (s) => s === 204 })).toBe(204);
  });

  it('a status that never becomes good is named, with the log tail from the callback', async () => {
    const { url } = await serve([500]);
    const err = await waitForHttp(url, {
      name: 'keystone',
      timeoutMs: 600,
      intervalMs: 50,
      logFile: '/var/log/keystone/keystone.log',
      onTimeout: async () => 'ImportError: no module named keystone\n',
    }).catch((e: unknown) => e);
    expect((err as StackError).message).toBe(`keystone did not answer at ${url} within 1 s (last attempt: HTTP 500)`);
    expect((err as StackError).logTail).toEqual({ file: '/var/log/keystone/keystone.log', lines: 'ImportError: no module named keystone\n' });
  });

  it('a failing log callback does not hide the timeout', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const err = await waitForHttp(`http://127.0.0.1:${port}/`, {
      timeoutMs: 300,
      intervalMs: 50,
      onTimeout: async () => {
        throw new Error('ssh connection lost');
      },
    }).catch((e: unknown) => e);
    expect((err as StackError).message).toMatch(/did not answer .* \(last attempt: connection refused\)/);
    expect((err as StackError).logTail?.lines).toContain('could not read the log: ssh connection lost');
  });

  it('stops at once when aborted', async () => {
    const { url } = await serve([503]);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('interrupted')), 100);
    const t0 = Date.now();
    await expect(waitForHttp(url, { timeoutMs: 10_000, intervalMs: 50, signal: ac.signal })).rejects.toThrow('interrupted');
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('pollUntil', () => {
  it('asks again until ok, and gives up at the timeout with the last detail', async () => {
    let n = 0;
    const r = await pollUntil(async () => ({ ok: ++n === 3 }), { timeoutMs: 5000, intervalMs: 5 });
    expect(r).toMatchObject({ ok: true, tries: 3 });
    const late = await pollUntil(async () => ({ ok: false, detail: `try ${++n}` }), { timeoutMs: 60, intervalMs: 10 });
    expect(late.ok).toBe(false);
    expect(late.detail).toBe(`try ${n}`);
    expect(late.tries).toBeGreaterThan(1);
  });

  it('stops at the first final answer (what it waits for is gone), long before the timeout', async () => {
    let n = 0;
    const started = Date.now();
    const r = await pollUntil(async () => (++n < 2 ? { ok: false } : { ok: false, final: true, detail: 'gone' }), { timeoutMs: 30_000, intervalMs: 5 });
    expect(r).toMatchObject({ ok: false, final: true, detail: 'gone', tries: 2 });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
