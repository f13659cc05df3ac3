// Getting the test image onto this machine, once: download with resume and retries into a cache,
// or use a local file in place; and telling its disk format for Glance.
//
// Seed 004's lessons: a mirror 404 must stop at once with the URL and what to do, a slow download
// must show progress, and a dropped connection must not start 20 MB over.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StackError } from './errors.ts';
import { ApiError, request } from './openstack/http.ts';

/** Glance's file store on its host (glance-api.conf's filesystem_store_datadir, as stack.ts writes it). */
export const GLANCE_IMAGE_DIR = '/var/lib/glance/images/';

export const CIRROS_BASE = 'https://github.com/cirros-dev/cirros/releases/download';

/** CirrOS names its files by the kernel's machine name; map Debian/Go spellings onto it. */
export function cirrosArch(arch: string): string {
  const a = arch.toLowerCase();
  if (a === 'amd64' || a === 'x64') return 'x86_64';
  if (a === 'arm64') return 'aarch64';
  return a;
}

export const defaultImageUrl = (cirrosVersion: string, arch: string): string =>
  `${CIRROS_BASE}/${cirrosVersion}/cirros-${cirrosVersion}-${cirrosArch(arch)}-disk.img`;

export interface FetchedImage {
  /** Where the image is: in the cache for a download, the original file for a local source. */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly sha512: string;
  readonly md5: string;
  /** True when no byte was downloaded in this call (cache hit or local file). */
  readonly cached: boolean;
  /** Bytes received over the network in this call (0 for a cache hit). */
  readonly downloadedBytes: number;
}

export interface FetchOptions {
  /** Extra attempts after the first, for network errors and 5xx. Default 4. */
  readonly retries?: number;
  /** First wait between attempts; doubles each time (capped at 30 s). Default 1000. */
  readonly backoffMs?: number;
  readonly onProgress?: (bytes: number, total: number | undefined) => void;
  /** OFFLINE=True: never touch the network; the image must be cached or local. */
  readonly offline?: boolean;
  /** Idle timeout: no byte for this long counts as a network failure. Default 30 s. */
  readonly timeoutMs?: number;
}

const HINT_URLS =
  'Set IMAGE_URLS in localrc to a URL that works from this machine, or to a local file (a path or file://...).';

/** http(s) URL, file:// URL, or a plain path. */
const isRemote = (source: string) => /^https?:\/\//i.test(source);

/** Get the image into cacheDir (or use a local file in place) and return its path, size and hashes. */
export async function fetchImage(source: string, cacheDir: string, opts: FetchOptions = {}): Promise<FetchedImage> {
  if (!isRemote(source)) return localImage(source);
  const name = cacheName(source);
  await mkdir(cacheDir, { recursive: true });
  const path = resolve(cacheDir, name);

  const hit = await fromCache(path);
  if (hit) return hit;
  if (opts.offline) {
    throw new StackError(
      `OFFLINE is set and ${name} is not in the image cache ${resolve(cacheDir)}.`,
      `Copy the file there (from ${source}), point IMAGE_URLS at a local file, or set OFFLINE=False.`,
    );
  }
  const downloadedBytes = await download(source, `${path}.part`, opts);
  await rename(`${path}.part`, path);
  await rm(`${path}.part.validator`, { force: true });
  const h = await hashFile(path);
  // The sidecar marks the file complete; it is sha256sum's format, so `sha256sum -c` checks it too.
  await writeFile(`${path}.sha256`, `${h.sha256}  ${name}\n`);
  return { path, ...h, cached: false, downloadedBytes };
}

/** File name in the cache: the URL's last path segment, made safe. */
export function cacheName(url: string): string {
  const last = decodeURIComponent(basename(new URL(url).pathname));
  const safe = last.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
  return safe || 'image';
}

async function localImage(source: string): Promise<FetchedImage> {
  const path = /^file:/i.test(source) ? fileURLToPath(source) : resolve(source);
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new StackError(`The image ${path} (from IMAGE_URLS) is not a regular file.`, HINT_URLS);
  } catch (e) {
    if (e instanceof StackError) throw e;
    throw new StackError(`The image file ${path} (from IMAGE_URLS "${source}") does not exist or cannot be read.`, HINT_URLS);
  }
  return { path, ...(await hashFile(path)), cached: true, downloadedBytes: 0 };
}

async function fromCache(path: string): Promise<FetchedImage | undefined> {
  const sidecar = await readFile(`${path}.sha256`, 'utf8').catch(() => undefined);
  if (!sidecar) return undefined;
  const h = await hashFile(path).catch(() => undefined);
  const want = sidecar.trim().split(/\s+/)[0];
  if (h && h.sha256 === want) return { path, ...h, cached: true, downloadedBytes: 0 };
  // A cache file that does not match its sidecar was changed or truncated: fetch it again.
  await rm(path, { force: true });
  await rm(`${path}.sha256`, { force: true });
  return undefined;
}

export async function hashFile(path: string): Promise<{ size: number; sha256: string; sha512: string; md5: string }> {
  const s256 = createHash('sha256');
  const s512 = createHash('sha512');
  const md5 = createHash('md5');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const b = chunk as Buffer;
    size += b.length;
    s256.update(b);
    s512.update(b);
    md5.update(b);
  }
  return { size, sha256: s256.digest('hex'), sha512: s512.digest('hex'), md5: md5.digest('hex') };
}

const REDIRECTS = [301, 302, 303, 307, 308];
const MAX_REDIRECTS = 10;

/** A failure that another attempt may fix (network, timeout, 5xx, short body). */
class Transient extends Error {}

/**
 * Download into `part`, resuming from what it already holds. Returns the bytes received.
 * Attempts that grow the file beyond what any earlier attempt reached do not use up a retry, so
 * a link that drops every few MB still finishes; a server that restarts from 0 every time does.
 */
async function download(url: string, part: string, opts: FetchOptions): Promise<number> {
  const retries = opts.retries ?? 4;
  const backoff = opts.backoffMs ?? 1000;
  let failures = 0;
  let best = await sizeOf(part);
  let received = 0;
  for (;;) {
    try {
      await attempt(url, part, opts, (n) => {
        received += n;
      });
      return received;
    } catch (e) {
      if (!(e instanceof Transient)) throw e;
      const have = await sizeOf(part);
      if (have > best) best = have;
      else failures++;
      if (failures > retries) {
        throw new StackError(
          `Downloading ${url} failed after ${retries + 1} attempts: ${e.message}`,
          (have > 0 ? `The partial file ${part} (${have} bytes) is kept; running again resumes it. ` : '') + HINT_URLS,
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(backoff * 2 ** Math.max(0, failures - 1), 30_000)));
    }
  }
}

const sizeOf = (p: string) => stat(p).then((s) => s.size, () => 0);

/** One GET (following redirects). Resolves when `part` holds the whole file; throws Transient to retry. */
async function attempt(url: string, part: string, opts: FetchOptions, count: (n: number) => void): Promise<void> {
  let have = await sizeOf(part);
  // If-Range: resume only if the file on the server is still the one the part came from;
  // otherwise the server sends the new file whole (200) and we start over.
  const validator = have > 0 ? (await readFile(`${part}.validator`, 'utf8').catch(() => '')).trim() : '';
  let target = url;
  let res;
  for (let hops = 0; ; hops++) {
    try {
      res = await request('GET', target, {
        headers: { Accept: '*/*', ...(have > 0 ? { Range: `bytes=${have}-`, ...(validator ? { 'If-Range': validator } : {}) } : {}) },
        timeoutMs: opts.timeoutMs ?? 30_000,
        expect: [200, 206, 416, ...REDIRECTS],
        service: 'the web server',
      });
    } catch (e) {
      if (e instanceof ApiError && (e.status === undefined || e.status >= 500 || e.status === 408 || e.status === 429)) {
        throw new Transient(e.message);
      }
      const msg = e instanceof Error ? e.message : String(e);
      const via = target === url ? '' : ` (redirected from ${url})`;
      throw new StackError(`Cannot download the image${via}: ${msg}`, HINT_URLS);
    }
    if (!REDIRECTS.includes(res.status)) break;
    res.stream.resume();
    const loc = res.headers.location;
    if (!loc || hops >= MAX_REDIRECTS) {
      throw new StackError(`Cannot download the image ${url}: ${loc ? 'too many redirects' : `${res.status} without a Location header`}.`, HINT_URLS);
    }
    target = new URL(loc, target).toString();
  }

  let total: number | undefined;
  const length = Number(res.headers['content-length'] ?? NaN);
  if (res.status === 416) {
    // Our range starts at or past the end: the part may already be complete.
    res.stream.resume();
    const m = /\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
    if (m && Number(m[1]) === have) return;
    await truncate(part, 0);
    throw new Transient(`the server refused to resume at byte ${have}; starting over`);
  }
  if (res.status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
    if (!m || Number(m[1]) !== have) {
      res.stream.resume();
      await truncate(part, 0);
      throw new Transient(`the server resumed at an unexpected offset (${res.headers['content-range'] ?? 'no Content-Range'}); starting over`);
    }
    total = m[3] === '*' ? undefined : Number(m[3]);
  } else {
    // 200: the server ignored Range (or we asked for none): the body is the whole file.
    if (have > 0) await truncate(part, 0);
    have = 0;
    total = Number.isFinite(length) ? length : undefined;
    // A strong ETag, else Last-Modified, identifies this version of the file for a later resume.
    const etag = res.headers.etag;
    const tag = etag && !etag.startsWith('W/') ? etag : res.headers['last-modified'];
    if (tag) await writeFile(`${part}.validator`, `${tag}\n`);
    else await rm(`${part}.validator`, { force: true });
  }

  // Each chunk is on disk before the next is taken, so after a broken connection the part file
  // ends exactly where the processed data ends and the resume asks for the next byte. (Chunks
  // still in Node's buffers when the socket dies are dropped; they are fetched again.)
  let got = 0;
  const fh = await open(part, 'a');
  try {
    for await (const chunk of res.stream) {
      const b = chunk as Buffer;
      await fh.write(b);
      got += b.length;
      count(b.length);
      opts.onProgress?.(have + got, total);
    }
  } catch (e) {
    throw new Transient(`the connection broke after ${have + got} bytes (${(e as Error).message})`);
  } finally {
    await fh.close();
  }
  const size = await sizeOf(part);
  if (total !== undefined && size < total) throw new Transient(`the server sent ${size} of ${total} bytes`);
  if (total !== undefined && size > total) {
    await truncate(part, 0);
    throw new Transient(`the file grew past its announced size (${size} > ${total}); starting over`);
  }
}

const MiB = 1024 * 1024;
const fmt = (b: number) => (b >= MiB ? `${(b / MiB).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`);

/** One line for a TTY: "[#####.....]  10.0 MiB / 20.0 MiB  50%  4.0 MiB/s  ETA 3s". */
export function progressLine(bytes: number, total?: number, elapsedMs?: number): string {
  const parts: string[] = [];
  if (total && total > 0) {
    const frac = Math.min(1, bytes / total);
    const width = 20;
    const filled = Math.round(frac * width);
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`, `${fmt(bytes)} / ${fmt(total)}`, `${Math.floor(frac * 100)}%`);
  } else {
    parts.push(fmt(bytes));
  }
  if (elapsedMs && elapsedMs > 0) {
    const rate = bytes / (elapsedMs / 1000);
    parts.push(`${fmt(rate)}/s`);
    if (total && rate > 0 && bytes < total) parts.push(`ETA ${Math.ceil((total - bytes) / rate)}s`);
  }
  return parts.join('  ');
}

export type ImageFormat = 'qcow2' | 'raw' | 'vmdk' | 'vhd' | 'vhdx' | 'vdi' | 'iso';

/** Runs `qemu-img info --output=json PATH` and returns its stdout. */
export type QemuImgInfo = (path: string) => Promise<string>;

// execa is loaded when an image is first looked at here: most runs never do (and ~0.05 s of every start).
export const localQemuImgInfo: QemuImgInfo = async (path) =>
  (await (await import('execa')).execa('qemu-img', ['info', '--output=json', path], { timeout: 30_000 })).stdout;

/** qemu-img's format names -> Glance's disk_format names. */
const QEMU_TO_GLANCE: Readonly<Record<string, ImageFormat>> = {
  qcow2: 'qcow2',
  raw: 'raw',
  vmdk: 'vmdk',
  vpc: 'vhd',
  vhdx: 'vhdx',
  vdi: 'vdi',
};

/**
 * The Glance disk_format of an image file. Asks qemu-img when it can (pass `false` to skip it, or
 * another runner, e.g. one that runs on a remote host); falls back to magic bytes when qemu-img is
 * missing or fails. qemu-img calls an ISO "raw", so the ISO signature is checked either way.
 */
export async function detectFormat(path: string, runQemuImgInfo: QemuImgInfo | false = localQemuImgInfo): Promise<ImageFormat> {
  if (runQemuImgInfo) {
    try {
      const info = JSON.parse(await runQemuImgInfo(path)) as { format?: string };
      const f = info.format ? QEMU_TO_GLANCE[info.format] : undefined;
      if (f && f !== 'raw') return f;
      if (f === 'raw') return (await isIso(path)) ? 'iso' : 'raw';
    } catch {
      // qemu-img absent or unable to read it: the magic bytes below still tell the common formats.
    }
  }
  return detectFormatByMagic(path);
}

async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const isIso = async (path: string) => (await readAt(path, 0x8001, 5)).toString('latin1') === 'CD001';

export async function detectFormatByMagic(path: string): Promise<ImageFormat> {
  const head = await readAt(path, 0, 512);
  const ascii = head.toString('latin1');
  if (head.subarray(0, 4).equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) return 'qcow2';
  if (ascii.startsWith('KDMV') || ascii.startsWith('# Disk DescriptorFile')) return 'vmdk';
  if (ascii.startsWith('conectix')) return 'vhd';
  if (ascii.startsWith('vhdxfile')) return 'vhdx';
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f) return 'vdi';
  if (await isIso(path)) return 'iso';
  // A fixed-size VHD has its "conectix" footer in the last 512 bytes only.
  const { size } = await stat(path);
  if (size >= 512 && (await readAt(path, size - 512, 8)).toString('latin1') === 'conectix') return 'vhd';
  return 'raw';
}

/** The name an image gets in Glance: its file name without the query and the disk-format extension. */
export const imageName = (source: string): string => basename(source.split('?')[0]!).replace(/\.(img|qcow2|raw|iso|vmdk|vhd)$/i, '');
