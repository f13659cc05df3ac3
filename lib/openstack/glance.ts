// Glance v2 images through REST, with the endpoint taken from the session's catalog.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { FAST_POLL_MS } from '../wait.ts';
import { ApiError, joinUrl, request } from './http.ts';
import { call, type Interface, type Session } from './keystone.ts';

export type ImageStatus = 'queued' | 'saving' | 'uploading' | 'importing' | 'active' | 'killed' | 'deleted' | 'pending_delete' | 'deactivated';

export interface GlanceImage {
  readonly id: string;
  readonly name: string | null;
  readonly status: ImageStatus;
  readonly disk_format: string | null;
  readonly container_format: string | null;
  readonly visibility: string;
  readonly size: number | null;
  /** md5 of the data (Glance keeps it next to the multihash). */
  readonly checksum: string | null;
  /** "sha512" on Zed's default configuration. */
  readonly os_hash_algo: string | null;
  readonly os_hash_value: string | null;
  readonly owner?: string;
  readonly created_at?: string;
  readonly [extra: string]: unknown;
}

export interface NewImage {
  readonly name: string;
  readonly disk_format: string;
  readonly container_format: string;
  readonly visibility?: 'public' | 'private' | 'shared' | 'community';
  readonly min_disk?: number;
  readonly min_ram?: number;
  /** Extra properties (e.g. hw_architecture). */
  readonly properties?: Readonly<Record<string, string>>;
}

export interface GlanceOptions {
  readonly iface?: Interface;
  readonly region?: string;
}

export const imageUrl = (s: Session, path: string, o: GlanceOptions = {}): string => joinUrl(s.endpointFor('image', o.iface, o.region), path);

/** All images matching the filters (name, status, visibility, owner...), following Glance's `next` links. */
export async function listImages(s: Session, filters: Readonly<Record<string, string>> = {}, o: GlanceOptions = {}): Promise<GlanceImage[]> {
  const base = s.endpointFor('image', o.iface, o.region);
  const params = new URLSearchParams({ limit: '100', ...filters });
  let url: string | undefined = joinUrl(base, `v2/images?${params}`);
  const images: GlanceImage[] = [];
  const seen = new Set<string>();
  while (url) {
    const page: { images: GlanceImage[]; next?: string } = await call(s, 'GET', url);
    images.push(...page.images);
    // `next` is "/v2/images?marker=..." relative to the endpoint root; a repeated link would loop forever.
    url = page.next && !seen.has(page.next) ? joinUrl(base, page.next) : undefined;
    if (page.next) seen.add(page.next);
  }
  return images;
}

export const getImage = (s: Session, id: string, o: GlanceOptions = {}): Promise<GlanceImage> =>
  call<GlanceImage>(s, 'GET', imageUrl(s, `v2/images/${id}`, o));

/** Create the image record (status "queued", no data yet); returns its id. */
export async function createImage(s: Session, img: NewImage, o: GlanceOptions = {}): Promise<string> {
  const { properties, ...fields } = img;
  const created = await call<GlanceImage>(s, 'POST', imageUrl(s, 'v2/images', o), {
    json: { visibility: 'public', ...fields, ...properties },
    expect: [201],
  });
  return created.id;
}

/**
 * Upload the image data. A file path is sent with its Content-Length (Glance then checks the size);
 * a stream is sent with the given size, or chunked when size is unknown.
 */
export async function uploadImage(s: Session, id: string, data: string | Readable, size?: number, o: GlanceOptions & { timeoutMs?: number } = {}): Promise<void> {
  let body: Readable;
  let length = size;
  if (typeof data === 'string') {
    length ??= (await stat(data)).size;
    body = createReadStream(data);
  } else {
    body = data;
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
  if (length !== undefined) headers['Content-Length'] = String(length);
  const res = await request('PUT', imageUrl(s, `v2/images/${id}/file`, o), {
    body,
    headers,
    token: s.token,
    timeoutMs: o.timeoutMs ?? Math.max(s.timeoutMs, 120_000),
    expect: [204, 201, 200],
    service: 'glance-api',
  });
  res.stream.resume();
}

/** The image's data as a stream (fails with 204 when the image has no data). */
export async function downloadImage(s: Session, id: string, o: GlanceOptions = {}): Promise<Readable> {
  const res = await request('GET', imageUrl(s, `v2/images/${id}/file`, o), {
    token: s.token,
    timeoutMs: s.timeoutMs,
    expect: [200],
    headers: { Accept: 'application/octet-stream' },
    service: 'glance-api',
  });
  return res.stream;
}

/**
 * Why Glance has the image's record but not its data, or undefined when the data is there. A
 * record stays "active" with its checksum when the file is removed from the store behind Glance's
 * back; only GET .../file tells (204 No Content instead of the bytes). Reads no more than the
 * reply's first chunk.
 */
export async function missingData(s: Session, id: string, o: GlanceOptions = {}): Promise<string | undefined> {
  const img = await getImage(s, id, o);
  if (img.status !== 'active') return `its status is "${img.status}", not "active"`;
  if (!img.size) return `its size is ${img.size === null || img.size === undefined ? 'unknown' : '0'}`;
  const url = imageUrl(s, `v2/images/${id}/file`, o);
  const res = await request('GET', url, { token: s.token, timeoutMs: s.timeoutMs, expect: [200, 204], headers: { Accept: 'application/octet-stream' }, service: 'glance-api' });
  res.stream.destroy();
  return res.status === 204 ? `GET ${url} answers 204 No Content: the image store has no file for it` : undefined;
}

/** Deleting an image that is already gone is not an error. */
export async function deleteImage(s: Session, id: string, o: GlanceOptions = {}): Promise<void> {
  await call(s, 'DELETE', imageUrl(s, `v2/images/${id}`, o), { expect: [204, 404] });
}

const FAILED: readonly ImageStatus[] = ['killed', 'deleted', 'pending_delete', 'deactivated'];

/** Poll until the image has `status`; a failed image (killed, deleted) stops the wait at once. */
export async function waitForStatus(
  s: Session, id: string, status: ImageStatus, timeoutMs: number, o: GlanceOptions & { intervalMs?: number } = {},
): Promise<GlanceImage> {
  const deadline = Date.now() + timeoutMs;
  let last: GlanceImage | undefined;
  for (;;) {
    last = await getImage(s, id, o);
    if (last.status === status) return last;
    if (FAILED.includes(last.status) && !FAILED.includes(status)) {
      throw new ApiError(
        `image ${id} (${last.name ?? 'no name'}) is "${last.status}" instead of "${status}": Glance failed to store it - ` +
          `see glance-api's log; a full or unwritable filesystem_store_datadir is the usual cause`,
        'GET', imageUrl(s, `v2/images/${id}`, o), 200,
      );
    }
    if (Date.now() >= deadline) {
      throw new ApiError(
        `image ${id} (${last.name ?? 'no name'}) still "${last.status}" after ${Math.round(timeoutMs / 1000)} s, waiting for "${status}"`,
        'GET', imageUrl(s, `v2/images/${id}`, o), 200,
      );
    }
    await new Promise((r) => setTimeout(r, o.intervalMs ?? FAST_POLL_MS));
  }
}

/** The first image whose data has this hash (sha512 multihash, or Glance's md5 `checksum`). Pure. */
export function findImageByHash(images: readonly GlanceImage[], hash: { sha512?: string; md5?: string }): GlanceImage | undefined {
  const sha512 = hash.sha512?.toLowerCase();
  const md5 = hash.md5?.toLowerCase();
  if (!sha512 && !md5) return undefined;
  return images.find((img) => {
    // The multihash is the stronger check; md5 decides only when one side has no sha512.
    if (sha512 !== undefined && img.os_hash_algo === 'sha512' && img.os_hash_value) return img.os_hash_value.toLowerCase() === sha512;
    return md5 !== undefined && !!img.checksum && img.checksum.toLowerCase() === md5;
  });
}
