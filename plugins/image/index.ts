// The test image: fetched once into the cache on this machine, uploaded to Glance as public,
// skipped when Glance already holds an image with the same content.

import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { stepSkipped } from '../../lib/step-notes.ts';
import { fetchImage, detectFormat, GLANCE_IMAGE_DIR, imageName, progressLine, type FetchedImage } from '../../lib/image.ts';
import { createImage, deleteImage, downloadImage, findImageByHash, getImage, listImages, missingData, uploadImage, waitForStatus, type GlanceImage } from '../../lib/openstack/glance.ts';
import type { Session } from '../../lib/openstack/keystone.ts';
import { brokenLinkError, windowLines, windowStart } from '../../lib/links.ts';
import { createHash } from 'node:crypto';
import { checkImageSources } from '../../lib/image-preflight.ts';
import { InputError, StackError } from '../../lib/errors.ts';
import { type ServicePlugin, type StackContext } from '../../lib/plugin.ts';
import { adminSession } from '../../lib/service/lifecycle.ts';
import { logTail } from '../../lib/log-tail.ts';

const GLANCE_LOG = '/var/log/glance/glance-api.log';

/** "cirros-0.6.2-x86_64-disk.img" -> "cirros-0.6.2-x86_64-disk" */

const fetched = async (ctx: StackContext): Promise<{ url: string; image: FetchedImage }[]> => {
  const s = ctx.config.settings;
  const out: { url: string; image: FetchedImage }[] = [];
  for (const url of s.IMAGE_URLS) {
    let last = 0;
    const image = await fetchImage(url, s.IMAGE_CACHE_DIR, {
      offline: s.OFFLINE,
      onProgress: (bytes, total) => {
        if (Date.now() - last > 2000) {
          last = Date.now();
          ctx.log.info(`image: ${progressLine(bytes, total)}`);
        }
      },
    });
    out.push({ url, image });
  }
  return out;
};

/**
 * The Glance image that already holds this file's data, if any. Records with the same checksum
 * but no data (the file removed from the store, or a status other than active) would be found by
 * checksum forever and never uploaded again: they are deleted, and the image is uploaded anew
 * (Glance takes no second upload into an active record).
 */
async function keptImage(ctx: StackContext, s: Session, image: FetchedImage): Promise<GlanceImage | undefined> {
  let kept: GlanceImage | undefined;
  for (const img of (await listImages(s)).filter((i) => findImageByHash([i], { sha512: image.sha512, md5: image.md5 }))) {
    const why = await missingData(s, img.id);
    if (!why) {
      kept ??= img;
      continue;
    }
    ctx.log.warn(`image ${img.name ?? '(no name)'} (${img.id}) has a record in Glance but no data (${why}): deleting the record to upload the image again`);
    await deleteImage(s, img.id);
  }
  return kept;
}

/** The link between Glance's records and its store, as verify names it. */
const storeLink = (ctx: StackContext) => ({
  service: 'glance',
  link: `glance-api -> its image store (${GLANCE_IMAGE_DIR} on ${ctx.host.name})`,
  hint: 'A record without data is a missing image: ./stack.ts deletes the record and uploads the image again.',
});

const noDataWhat = (img: GlanceImage, why: string): string => `has the record of image ${img.name ?? '(no name)'} (${img.id}) but not its data: ${why}`;

const plugin: ServicePlugin = {
  name: 'image',
  services: ['g-api'],
  needs: ['glance'],
  after: { register: ['glance/register'] },
  packages: async () => [],

  async preflight(ctx) {
    const s = ctx.config.settings;
    const problems = await checkImageSources(s.IMAGE_URLS, { cacheDir: s.IMAGE_CACHE_DIR, offline: s.OFFLINE });
    if (problems.length) {
      // Each entry with its own "what to do": the preflight report lists them one per line.
      throw new InputError(problems.map((p) => `${p.message}\n    What to do: ${p.hint}`).join('\n  - '));
    }
  },

  async register(ctx) {
    const s = await adminSession(ctx);
    const kept: string[] = [];
    const all = await fetched(ctx);
    for (const { url, image } of all) {
      const existing = await keptImage(ctx, s, image);
      if (existing) {
        ctx.log.info(`image ${existing.name} (${existing.id}) already in Glance with the same checksum; not uploaded again`);
        kept.push(existing.name ?? existing.id);
        continue;
      }
      const format = await detectFormat(image.path);
      const id = await createImage(s, { name: imageName(url), disk_format: format, container_format: 'bare', visibility: 'public' });
      try {
        await uploadImage(s, id, createReadStream(image.path), image.size);
        await waitForStatus(s, id, 'active', ctx.config.settings.SERVICE_TIMEOUT * 1000);
      } catch (err) {
        throw new StackError(`Uploading ${imageName(url)} to Glance failed: ${(err as Error).message}`,
          'The Glance log below names the cause (store directory, database or Keystone).', { file: GLANCE_LOG, lines: await logTail(ctx, GLANCE_LOG) });
      }
    }
    if (kept.length && kept.length === all.length) stepSkipped(`${kept.join(', ')} already in Glance with the same data`);
  },

  // Checked with the other links, before any functional check: a server booted from a record
  // without data fails far from the cause. By name only (no image is fetched or hashed here).
  links: async (ctx) => [
    {
      ...storeLink(ctx),
      log: GLANCE_LOG,
      check: async () => {
        const s = await adminSession(ctx);
        for (const url of ctx.config.settings.IMAGE_URLS) {
          // Active records only: they claim to hold data (a queued one is an upload that was cut short).
          for (const img of await listImages(s, { name: imageName(url), status: 'active' })) {
            const why = await missingData(s, img.id);
            if (why) return noDataWhat(img, why);
          }
        }
        return undefined;
      },
    },
  ],

  async verify(ctx) {
    const s = await adminSession(ctx);
    for (const { url, image } of await fetched(ctx)) {
      const found = findImageByHash(await listImages(s), { sha512: image.sha512, md5: image.md5 });
      if (!found) throw new StackError(`Image ${imageName(url)} is not in Glance.`, 'Run `./stack.ts` again to upload it.');
      // A record without data is a missing image: Nova could not boot from it.
      const why = await missingData(s, found.id);
      if (why) {
        const l = storeLink(ctx);
        throw brokenLinkError({ ...l, host: ctx.host.name, what: noDataWhat(found, why), log: { file: GLANCE_LOG, lines: await windowLines(ctx, GLANCE_LOG, await windowStart(ctx)) } });
      }
      const current = await getImage(s, found.id);
      // Download it back and compare: proves the store returns the bytes it was given.
      const hash = createHash('sha256');
      for await (const chunk of await downloadImage(s, found.id)) hash.update(chunk as Buffer);
      const got = hash.digest('hex');
      if (got !== image.sha256) {
        throw new StackError(`Image ${current.name} downloads with sha256 ${got}, but the file has ${image.sha256}.`,
          'The image store returns other bytes than were uploaded; check /var/lib/glance/images and the Glance log.');
      }
    }
  },
};

export default plugin;
