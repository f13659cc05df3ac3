// The test image: fetched once into the cache on this machine, uploaded to Glance as public,
// skipped when Glance already holds an image with the same content.

import { createReadStream } from 'node:fs';
import { fetchImage, detectFormat, imageName, progressLine, type FetchedImage } from '../../lib/image.ts';
import { createImage, downloadImage, findImageByHash, getImage, listImages, uploadImage, waitForStatus } from '../../lib/openstack/glance.ts';
import { createHash } from 'node:crypto';
import { checkImageSources } from '../../lib/image-preflight.ts';
import { InputError, StackError } from '../../lib/errors.ts';
import { type ServicePlugin, type StackContext } from '../../lib/plugin.ts';
import { adminSession, logTail } from '../common/openstack.ts';

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
    for (const { url, image } of await fetched(ctx)) {
      const existing = findImageByHash(await listImages(s), { sha512: image.sha512, md5: image.md5 });
      if (existing) {
        ctx.log.info(`image ${existing.name} (${existing.id}) already in Glance with the same checksum; not uploaded again`);
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
  },

  async verify(ctx) {
    const s = await adminSession(ctx);
    for (const { url, image } of await fetched(ctx)) {
      const found = findImageByHash(await listImages(s), { sha512: image.sha512, md5: image.md5 });
      if (!found) throw new StackError(`Image ${imageName(url)} is not in Glance.`, 'Run `./stack.ts` again to upload it.');
      const current = await getImage(s, found.id);
      if (current.status !== 'active') {
        throw new StackError(`Image ${current.name} is ${current.status} in Glance, not active.`, 'See the Glance log below.', {
          file: GLANCE_LOG,
          lines: await logTail(ctx, GLANCE_LOG),
        });
      }
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
