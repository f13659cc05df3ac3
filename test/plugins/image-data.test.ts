// An image whose record Glance keeps but whose file is gone from the store (issue 15 §2): it is a
// missing image. verify names it with the link to the store, and a re-run uploads it again,
// where it used to find the record by checksum and skip the upload forever.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import image from '../../plugins/image/index.ts';
import type { StackContext } from '../../lib/plugin.ts';
import { StackError } from '../../lib/errors.ts';
import { DEBIAN_SYSV, RecordingHost, makeContext } from '../fixtures/recording-host.ts';
import { ADMIN_PASSWORD, startFakeCloud, type FakeCloud } from '../openstack/fake-cloud.ts';

let cloud: FakeCloud;
let dir: string;
let ctx: StackContext & { log: { lines: string[] } };
const DATA = Buffer.alloc(4096, 7);

beforeAll(async () => {
  cloud = await startFakeCloud();
  dir = mkdtempSync(join(tmpdir(), 'stack-image-data-'));
  writeFileSync(join(dir, 'tiny.img'), DATA);
  const base = makeContext(new RecordingHost({ facts: DEBIAN_SYSV }), DEBIAN_SYSV, { ADMIN_PASSWORD, IMAGE_URLS: [join(dir, 'tiny.img')], IMAGE_CACHE_DIR: join(dir, 'cache') });
  const url = { ...base.endpoints.url, identity: cloud.url, image: cloud.url };
  ctx = { ...base, endpoints: { ...base.endpoints, url } };
});
afterAll(async () => {
  await cloud?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The record an earlier upload left: active, with the file's checksums, but no data in the store. */
const emptyRecord = () => ({
  id: 'img-empty',
  name: 'tiny',
  status: 'active',
  size: DATA.length,
  visibility: 'public',
  checksum: createHash('md5').update(DATA).digest('hex'),
  os_hash_algo: 'sha512',
  os_hash_value: createHash('sha512').update(DATA).digest('hex'),
});

describe('an image record whose data is gone from the store', () => {
  it('verify names it as a missing image, with the link to the store', async () => {
    cloud.images.push(emptyRecord());
    const err = await image.verify!(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    const e = err as StackError;
    expect(e.message).toMatch(/^glance on h1 has the record of image tiny \(img-empty\) but not its data: GET \S+\/v2\/images\/img-empty\/file answers 204 No Content/);
    expect(e.message).toContain('Broken link: glance-api -> its image store (/var/lib/glance/images/ on h1)');
    expect(e.hint).toMatch(/uploads the image again/);
  });

  it('a re-run deletes the empty record, uploads the image again, and verify passes', async () => {
    await image.register!(ctx);
    expect(cloud.images.map((i) => i.id)).not.toContain('img-empty');
    expect(cloud.images.filter((i) => i.name === 'tiny')).toHaveLength(1);
    const now = cloud.images[0]!;
    expect(cloud.imageData.get(now.id)).toEqual(DATA);
    expect(ctx.log.lines.join('\n')).toMatch(/image tiny \(img-empty\) has a record in Glance but no data .*: deleting the record to upload the image again/);
    await image.verify!(ctx);
  });

  it('a record that is not active, or of size 0, counts as missing too; a good record is kept', async () => {
    cloud.images.length = 0;
    cloud.images.push({ ...emptyRecord(), id: 'img-zero', size: 0 });
    await expect(image.verify!(ctx)).rejects.toThrow(/img-zero\) but not its data: its size is 0/);
    cloud.images.length = 0;
    cloud.images.push({ ...emptyRecord(), id: 'img-killed', status: 'killed' });
    await expect(image.verify!(ctx)).rejects.toThrow(/img-killed\) but not its data: its status is "killed"/);
    cloud.images.length = 0;
    cloud.images.push({ ...emptyRecord(), id: 'img-good' });
    cloud.imageData.set('img-good', DATA);
    const writes = cloud.writes().length;
    await image.register!(ctx);
    expect(cloud.writes().slice(writes)).toEqual([]);
    await image.verify!(ctx);
  });
});

describe("the image store's link", () => {
  it('names an active record without data before any functional check; a queued upload cut short is not named', async () => {
    const [link] = await image.links!(ctx);
    cloud.images.length = 0;
    cloud.images.push({ ...emptyRecord(), id: 'img-queued', status: 'queued', size: null, checksum: null, os_hash_value: null });
    expect(await link!.check()).toBeUndefined();
    cloud.images.push(emptyRecord());
    expect(await link!.check()).toMatch(/^has the record of image tiny \(img-empty\) but not its data: GET \S+ answers 204 No Content/);
    expect(link!.link).toBe('glance-api -> its image store (/var/lib/glance/images/ on h1)');
  });
});
