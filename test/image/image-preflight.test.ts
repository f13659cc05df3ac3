// IMAGE_URLS checked before any host changes: each kind of entry that cannot work is named with
// what to do, all of them in one go; entries that work (served, cached, local) pass.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImageSources } from '../../lib/image-preflight.ts';
import { fileRoute, startHttpServer, type TestServer } from '../fixtures/http-server.ts';

let server: TestServer;
let dir: string;
// The names used here never reach a resolver: unresolvable is the resolver's ENOTFOUND.
const lookup = async (host: string) => {
  if (host === '127.0.0.1') return { address: host, family: 4 };
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
};

beforeAll(async () => {
  server = await startHttpServer();
  dir = mkdtempSync(join(tmpdir(), 'stackts-imgpf-'));
  const data = Buffer.alloc(4096, 'img');
  const file = fileRoute(data);
  server.route('HEAD', '/ok.img', file.handler);
  server.route('GET', '/ok.img', file.handler);
  // A server that refuses HEAD but serves the file.
  server.route('HEAD', '/nohead.img', (_req, res) => {
    res.statusCode = 405;
    res.end();
  });
  server.route('GET', '/nohead.img', file.handler);
  server.route('HEAD', '/moved.img', (_req, res) => {
    res.writeHead(302, { Location: '/ok.img' });
    res.end();
  });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const check = (sources: string[], offline = false) => checkImageSources(sources, { cacheDir: join(dir, 'cache'), offline, lookup });

describe('image preflight', () => {
  it('ftp, a typo scheme, a missing file, an unresolvable host and a 404 are each refused, together', async () => {
    const missing = join(dir, 'nope.img');
    const problems = await check([
      'ftp://example.org/cirros.img',
      'htps://example.org/cirros.img',
      missing,
      'https://no-such-mirror.invalid/cirros.img',
      `${server.url}/missing.img`,
    ]);
    expect(problems).toHaveLength(5);
    const [ftp, typo, file, dns, notFound] = problems.map((p) => `${p.message} ${p.hint}`);
    expect(ftp).toMatch(/"ftp:\/\/example.org\/cirros.img" uses ftp:, which stack.ts cannot fetch/);
    expect(ftp).not.toMatch(/Did you mean/);
    expect(typo).toMatch(/uses htps:.*Did you mean https:\?/);
    expect(file).toContain(`The image file ${missing} (IMAGE_URLS) does not exist`);
    expect(dns).toMatch(/no-such-mirror\.invalid .* does not resolve on this machine \(ENOTFOUND\)/);
    expect(dns).not.toMatch(/SERVICE_HOST|HOST_IP/);
    expect(notFound).toMatch(/missing\.img" is not there: the server answers HTTP 404/);
  });

  it('a served file, one behind a redirect, one whose server refuses HEAD, a local file and a cached copy pass', async () => {
    const local = join(dir, 'local.img');
    writeFileSync(local, 'x');
    mkdirSync(join(dir, 'cache'), { recursive: true });
    writeFileSync(join(dir, 'cache', 'cached.img'), 'x');
    writeFileSync(join(dir, 'cache', 'cached.img.sha256'), 'abc  cached.img\n');
    const before = server.requests.length;
    expect(
      await check([`${server.url}/ok.img`, `${server.url}/moved.img`, `${server.url}/nohead.img`, local, `file://${local}`, 'https://unreachable.invalid/cached.img']),
    ).toEqual([]);
    const asked = server.requests.slice(before).map((r) => `${r.method} ${r.url}${r.headers.range ? ` ${r.headers.range}` : ''}`);
    expect(asked).toContain('GET /nohead.img bytes=0-0');
    expect(asked.filter((a) => a.startsWith('GET /ok.img'))).toEqual([]);
  });

  it('OFFLINE: an uncached URL is refused without touching the network', async () => {
    const before = server.requests.length;
    const problems = await check([`${server.url}/ok.img`], true);
    expect(problems[0]?.message).toMatch(/OFFLINE is set and ok\.img .* is not in the image cache/);
    expect(server.requests.length).toBe(before);
  });
});
