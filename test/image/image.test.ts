import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, appendFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StackError } from '../../lib/errors.ts';
import {
  cacheName,
  defaultImageUrl,
  detectFormat,
  detectFormatByMagic,
  fetchImage,
  progressLine,
} from '../../lib/image.ts';
import { fileRoute, startHttpServer, type TestServer } from '../fixtures/http-server.ts';

let dir: string;
let qcow2: string;
let raw: string;
let data: Buffer;
let srv: TestServer;
let cacheN = 0;
const cache = () => join(dir, `cache-${++cacheN}`);
const digest = (algo: string, b: Buffer) => createHash(algo).update(b).digest('hex');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stack-image-'));
  raw = join(dir, 'disk.raw');
  qcow2 = join(dir, 'disk.qcow2');
  // Random bytes do not compress, so the qcow2 is a few MB and a resume has something to skip.
  await writeFile(raw, randomBytes(3 * 1024 * 1024));
  await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  data = await readFile(qcow2);
  srv = await startHttpServer();
});

afterAll(async () => {
  await srv?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  srv.requests.length = 0;
});

describe('fetchImage over http', () => {
  it('downloads the whole file with the right size and hashes, reporting progress', async () => {
    const route = fileRoute(data);
    srv.route('GET', '/full/cirros.img', route.handler);
    const seen: [number, number | undefined][] = [];
    const img = await fetchImage(`${srv.url}/full/cirros.img`, cache(), { onProgress: (b, t) => seen.push([b, t]) });
    expect(img.size).toBe(data.length);
    expect(img.sha256).toBe(digest('sha256', data));
    expect(img.sha512).toBe(digest('sha512', data));
    expect(img.md5).toBe(digest('md5', data));
    expect(img.cached).toBe(false);
    expect(img.path.endsWith('cirros.img')).toBe(true);
    expect((await readFile(img.path)).equals(data)).toBe(true);
    expect(seen.at(-1)).toEqual([data.length, data.length]);
    expect(route.bytesServed()).toBe(data.length);
  });

  it('resumes after a dropped connection, fetching only the remainder', async () => {
    const drop = 1024 * 1024;
    const route = fileRoute(data, { dropAfterBytesOnce: drop });
    srv.route('GET', '/drop/img.qcow2', route.handler);
    const img = await fetchImage(`${srv.url}/drop/img.qcow2`, cache(), { backoffMs: 5 });
    expect(img.sha256).toBe(digest('sha256', data));
    expect(route.hits()).toBe(2);
    // The resume starts where the part file ends: at most the 1 MiB sent (bytes still in the
    // client's buffers when the socket died are lost), and well past 0.
    const from = Number(/^bytes=(\d+)-$/.exec(String(srv.requests[1]?.headers.range))?.[1]);
    expect(from).toBeGreaterThan(drop / 2);
    expect(from).toBeLessThanOrEqual(drop);
    expect(route.bytesServed()).toBe(drop + (data.length - from));
    expect(img.downloadedBytes).toBe(data.length);
  });

  it('gives up on a stalled transfer after the idle timeout and resumes', async () => {
    const stall = 256 * 1024;
    const route = fileRoute(data, { stallAfterBytesOnce: stall });
    srv.route('GET', '/stall/img', route.handler);
    const t0 = Date.now();
    const img = await fetchImage(`${srv.url}/stall/img`, cache(), { backoffMs: 5, timeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(img.sha256).toBe(digest('sha256', data));
    const from = Number(/^bytes=(\d+)-$/.exec(String(srv.requests[1]?.headers.range))?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(stall);
    expect(route.bytesServed()).toBe(stall + (data.length - from));
  });

  it('resumes only the same version of the file (If-Range with its ETag)', async () => {
    const drop = 600 * 1024;
    const broken = async (c: string) => {
      const first = fileRoute(data, { dropAfterBytesOnce: drop, etag: '"v1"' });
      srv.route('GET', '/v/img', (req, res, body, raw) => {
        if (first.hits() === 0) return first.handler(req, res, body, raw);
        res.writeHead(503);
        res.end();
      });
      await expect(fetchImage(`${srv.url}/v/img`, c, { retries: 0, backoffMs: 5 })).rejects.toThrow(/attempts/);
      expect(await readFile(join(c, 'img.part.validator'), 'utf8')).toBe('"v1"\n');
      srv.requests.length = 0;
      return (await stat(join(c, 'img.part'))).size;
    };

    // Same version on the server: only the remainder comes (206).
    const c1 = cache();
    const kept = await broken(c1);
    const same = fileRoute(data, { etag: '"v1"' });
    srv.route('GET', '/v/img', same.handler);
    const img1 = await fetchImage(`${srv.url}/v/img`, c1);
    expect(srv.requests[0]?.headers['if-range']).toBe('"v1"');
    expect(img1.sha256).toBe(digest('sha256', data));
    expect(same.bytesServed()).toBe(data.length - kept);

    // The file changed on the server since: it comes whole, not spliced onto the old part.
    const c2 = cache();
    await broken(c2);
    const v2 = randomBytes(data.length);
    const changed = fileRoute(v2, { etag: '"v2"' });
    srv.route('GET', '/v/img', changed.handler);
    const img2 = await fetchImage(`${srv.url}/v/img`, c2);
    expect(srv.requests[0]?.headers['if-range']).toBe('"v1"');
    expect(img2.sha256).toBe(digest('sha256', v2));
    expect(changed.bytesServed()).toBe(v2.length);
  });

  it('starts over when the server ignores Range and answers 200', async () => {
    const drop = 512 * 1024;
    const route = fileRoute(data, { dropAfterBytesOnce: drop, ignoreRange: true });
    srv.route('GET', '/norange/img', route.handler);
    const img = await fetchImage(`${srv.url}/norange/img`, cache(), { backoffMs: 5 });
    expect(img.sha256).toBe(digest('sha256', data));
    expect(img.size).toBe(data.length);
    expect(route.bytesServed()).toBe(drop + data.length);
  });

  it('retries after 503s and succeeds', async () => {
    const route = fileRoute(data, { failTimes: 3, failStatus: 503 });
    srv.route('GET', '/busy/img', route.handler);
    const img = await fetchImage(`${srv.url}/busy/img`, cache(), { retries: 4, backoffMs: 5 });
    expect(img.sha256).toBe(digest('sha256', data));
    expect(route.hits()).toBe(4);
  });

  it('gives up after the retries, keeping the error readable', async () => {
    const route = fileRoute(data, { failTimes: 100, failStatus: 502 });
    srv.route('GET', '/down/img', route.handler);
    const err = await fetchImage(`${srv.url}/down/img`, cache(), { retries: 2, backoffMs: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    expect((err as Error).message).toContain('after 3 attempts');
    expect((err as Error).message).toContain('502');
    expect(route.hits()).toBe(3);
  });

  it('fails at once on 404 with the URL in the message and IMAGE_URLS in the hint', async () => {
    const url = `${srv.url}/missing/cirros-9.9.9-x86_64-disk.img`;
    const err = await fetchImage(url, cache(), { retries: 4, backoffMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    expect((err as StackError).message).toContain(url);
    expect((err as StackError).message).toContain('404');
    expect((err as StackError).hint).toContain('IMAGE_URLS');
    expect(srv.requests.length).toBe(1);
  });

  it('follows redirects (GitHub release downloads redirect)', async () => {
    const route = fileRoute(data);
    srv.route('GET', '/real/file.img', route.handler);
    srv.route('GET', '/releases/file.img', (_req, res) => {
      res.writeHead(302, { Location: '/real/file.img' });
      res.end();
    });
    const img = await fetchImage(`${srv.url}/releases/file.img`, cache());
    expect(img.sha256).toBe(digest('sha256', data));
    expect(srv.requests.map((r) => r.url)).toEqual(['/releases/file.img', '/real/file.img']);
  });

  it('reuses a cached file without any request, and re-downloads a corrupted one', async () => {
    const route = fileRoute(data);
    srv.route('GET', '/cached/img', route.handler);
    const c = cache();
    const first = await fetchImage(`${srv.url}/cached/img`, c);
    expect(await readFile(`${first.path}.sha256`, 'utf8')).toBe(`${first.sha256}  img\n`);
    const before = srv.requests.length;
    const second = await fetchImage(`${srv.url}/cached/img`, c);
    expect(srv.requests.length).toBe(before);
    expect(second).toMatchObject({ path: first.path, sha256: first.sha256, cached: true, downloadedBytes: 0 });

    await appendFile(first.path, 'garbage');
    const third = await fetchImage(`${srv.url}/cached/img`, c);
    expect(srv.requests.length).toBe(before + 1);
    expect(third.sha256).toBe(first.sha256);
  });

  it('offline: uses the cache, and explains what to do when the image is not there', async () => {
    const route = fileRoute(data);
    srv.route('GET', '/offline/img', route.handler);
    const c = cache();
    const err = await fetchImage(`${srv.url}/offline/img`, c, { offline: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    expect((err as Error).message).toContain('OFFLINE');
    expect(srv.requests.length).toBe(0);
    await fetchImage(`${srv.url}/offline/img`, c);
    const again = await fetchImage(`${srv.url}/offline/img`, c, { offline: true });
    expect(again.cached).toBe(true);
  });

  it('keeps a partial file when all attempts fail and resumes it on the next run', async () => {
    const drop = 700 * 1024;
    const broken = fileRoute(data, { dropAfterBytesOnce: drop });
    srv.route('GET', '/later/img', (req, res, body, raw) => {
      // First request breaks mid-body; then the server is down until the "next run".
      if (broken.hits() === 0) return broken.handler(req, res, body, raw);
      res.writeHead(503);
      res.end();
    });
    const c = cache();
    await expect(fetchImage(`${srv.url}/later/img`, c, { retries: 1, backoffMs: 5 })).rejects.toThrow(/attempts/);
    const kept = (await stat(join(c, 'img.part'))).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(drop);
    const good = fileRoute(data);
    srv.route('GET', '/later/img', good.handler);
    const img = await fetchImage(`${srv.url}/later/img`, c);
    expect(img.sha256).toBe(digest('sha256', data));
    expect(good.bytesServed()).toBe(data.length - kept);
  });

  it('fails with a clear message when nothing listens', async () => {
    const closed = await startHttpServer();
    const url = `${closed.url}/x.img`;
    await closed.close();
    const err = await fetchImage(url, cache(), { retries: 0 }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('connection refused');
    expect((err as Error).message).toContain(url);
  });
});

describe('fetchImage on local files', () => {
  it('uses a file:// URL in place and hashes it', async () => {
    const img = await fetchImage(pathToFileURL(qcow2).toString(), cache());
    expect(img.path).toBe(qcow2);
    expect(img.sha512).toBe(digest('sha512', data));
    expect(img.cached).toBe(true);
  });

  it('uses a plain path in place', async () => {
    const img = await fetchImage(qcow2, cache());
    expect(img).toMatchObject({ path: qcow2, size: data.length, md5: digest('md5', data) });
  });

  it('names the missing file', async () => {
    const missing = join(dir, 'nope.img');
    const err = await fetchImage(missing, cache()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    expect((err as Error).message).toContain(missing);
  });
});

describe('detectFormat', () => {
  it('says qcow2 through qemu-img and through magic bytes', async () => {
    expect(await detectFormat(qcow2)).toBe('qcow2');
    expect(await detectFormat(qcow2, false)).toBe('qcow2');
    expect(await detectFormatByMagic(qcow2)).toBe('qcow2');
  });

  it('says raw for a raw file, both ways', async () => {
    expect(await detectFormat(raw)).toBe('raw');
    expect(await detectFormat(raw, false)).toBe('raw');
  });

  it('tells an ISO from raw even though qemu-img calls it raw', async () => {
    const iso = join(dir, 'x.iso');
    const b = Buffer.alloc(0x9000);
    b.write('CD001', 0x8001, 'latin1');
    await writeFile(iso, b);
    expect(await detectFormat(iso)).toBe('iso');
    expect(await detectFormat(iso, false)).toBe('iso');
  });

  it('knows vmdk and vhd from qemu-img and from magic', async () => {
    const vmdk = join(dir, 'x.vmdk');
    const vhd = join(dir, 'x.vhd');
    await execa('qemu-img', ['create', '-f', 'vmdk', vmdk, '1M']);
    await execa('qemu-img', ['create', '-f', 'vpc', vhd, '1M']);
    expect(await detectFormat(vmdk)).toBe('vmdk');
    expect(await detectFormat(vmdk, false)).toBe('vmdk');
    expect(await detectFormat(vhd)).toBe('vhd');
    expect(await detectFormat(vhd, false)).toBe('vhd');
  });

  it('falls back to magic bytes when qemu-img fails', async () => {
    const failing = async () => {
      throw new Error('spawn qemu-img ENOENT');
    };
    expect(await detectFormat(qcow2, failing)).toBe('qcow2');
  });
});

describe('helpers', () => {
  it('builds the CirrOS URL for an architecture', () => {
    expect(defaultImageUrl('0.6.2', 'x86_64')).toBe(
      'https://github.com/cirros-dev/cirros/releases/download/0.6.2/cirros-0.6.2-x86_64-disk.img',
    );
    expect(defaultImageUrl('0.6.2', 'arm64')).toContain('cirros-0.6.2-aarch64-disk.img');
  });

  it('names cache files after the URL, safely', () => {
    expect(cacheName('https://h/a/b/cirros-0.6.2-x86_64-disk.img?x=1')).toBe('cirros-0.6.2-x86_64-disk.img');
    expect(cacheName('https://h/a/..%2F..%2Fetc%2Fpasswd')).not.toContain('/');
    expect(cacheName('https://h/')).toBe('image');
  });

  it('formats a progress line', () => {
    const mib = 1024 * 1024;
    expect(progressLine(10 * mib, 20 * mib, 2500)).toBe('[##########..........]  10.0 MiB / 20.0 MiB  50%  4.0 MiB/s  ETA 3s');
    expect(progressLine(512 * 1024)).toBe('512 KiB');
  });
});
