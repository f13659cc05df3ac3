import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createImage,
  deleteImage,
  downloadImage,
  findImageByHash,
  getImage,
  listImages,
  uploadImage,
  waitForStatus,
  type GlanceImage,
} from '../../lib/openstack/glance.ts';
import { authenticate, type Session } from '../../lib/openstack/keystone.ts';
import {
  computeRoot,
  createServer,
  deleteServer,
  listHypervisors,
  listImagesViaNova,
  serverBuildState,
  waitForServerActive,
  waitForServerUnlisted,
} from '../../lib/openstack/nova.ts';
import { getAllocations } from '../../lib/openstack/placement.ts';
import { ADMIN_PASSWORD, startFakeCloud, type FakeCloud } from './fake-cloud.ts';
import { providerWithInventory } from '../../plugins/nova-compute/index.ts';

let cloud: FakeCloud;
let s: Session;
let dir: string;

beforeAll(async () => {
  cloud = await startFakeCloud();
  dir = await mkdtemp(join(tmpdir(), 'stack-glance-'));
});
afterAll(async () => {
  await cloud?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  s = await authenticate({ authUrl: cloud.url, username: 'admin', password: ADMIN_PASSWORD, projectName: 'admin' });
  cloud.srv.requests.length = 0;
});

const hex = (algo: string, b: Buffer) => createHash(algo).update(b).digest('hex');

describe('glance', () => {
  it('creates, uploads a file with its length, waits for active, downloads the same bytes, deletes', async () => {
    const data = randomBytes(300_000);
    const file = join(dir, 'x.img');
    await writeFile(file, data);
    const id = await createImage(s, { name: 'cirros', disk_format: 'qcow2', container_format: 'bare', visibility: 'public' });
    expect((await getImage(s, id)).status).toBe('queued');
    await uploadImage(s, id, file);
    const put = cloud.srv.requests.find((r) => r.method === 'PUT')!;
    expect(put.url).toBe(`/v2/images/${id}/file`);
    expect(put.headers['content-type']).toBe('application/octet-stream');
    expect(put.headers['content-length']).toBe(String(data.length));
    const img = await waitForStatus(s, id, 'active', 5000, { intervalMs: 10 });
    expect(img.os_hash_value).toBe(hex('sha512', data));
    const chunks: Buffer[] = [];
    for await (const c of await downloadImage(s, id)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    await deleteImage(s, id);
    await deleteImage(s, id); // already gone: fine
    await expect(getImage(s, id)).rejects.toMatchObject({ status: 404 });
  });

  it('uploads a stream of unknown length chunked', async () => {
    const data = randomBytes(50_000);
    const id = await createImage(s, { name: 'streamed', disk_format: 'raw', container_format: 'bare' });
    await uploadImage(s, id, Readable.from([data.subarray(0, 20_000), data.subarray(20_000)]));
    const put = cloud.srv.requests.find((r) => r.method === 'PUT')!;
    expect(put.headers['transfer-encoding']).toBe('chunked');
    expect((await getImage(s, id)).checksum).toBe(hex('md5', data));
  });

  it('lists images across pages by following `next`, with filters', async () => {
    cloud.images.length = 0;
    for (let i = 0; i < 5; i++) cloud.images.push({ id: `img-${i}`, name: `n${i}`, status: i === 3 ? 'queued' : 'active', visibility: 'public' });
    const all = await listImages(s);
    expect(all.map((i) => i.id)).toEqual(['img-0', 'img-1', 'img-2', 'img-3', 'img-4']);
    expect(cloud.srv.requests.filter((r) => r.url.startsWith('/v2/images'))).toHaveLength(3);
    const active = await listImages(s, { status: 'active' });
    expect(active.map((i) => i.id)).toEqual(['img-0', 'img-1', 'img-2', 'img-4']);
  });

  it('stops waiting at once when the image is killed', async () => {
    const id = randomUUID();
    cloud.images.push({ id, name: 'broken', status: 'killed' });
    const t0 = Date.now();
    const err = (await waitForStatus(s, id, 'active', 60_000, { intervalMs: 10 }).catch((e: unknown) => e)) as Error;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err.message).toContain('"killed"');
    expect(err.message).toContain('glance-api');
  });

  it('times out waiting with the last status', async () => {
    const id = randomUUID();
    cloud.images.push({ id, name: 'slow', status: 'saving' });
    await expect(waitForStatus(s, id, 'active', 50, { intervalMs: 10 })).rejects.toThrow(/still "saving"/);
  });

  it('findImageByHash prefers sha512 and falls back to md5', () => {
    const img = (id: string, o: Partial<GlanceImage>) => ({ id, name: id, status: 'active', ...o }) as GlanceImage;
    const images = [
      img('a', { os_hash_algo: 'sha512', os_hash_value: 'AAA', checksum: 'm1' }),
      img('b', { os_hash_algo: null, os_hash_value: null, checksum: 'm2' }),
      img('c', { os_hash_algo: 'sha512', os_hash_value: 'ccc', checksum: 'm2' }),
    ];
    expect(findImageByHash(images, { sha512: 'aaa' })?.id).toBe('a');
    expect(findImageByHash(images, { sha512: 'zzz', md5: 'm2' })?.id).toBe('b');
    // sha512 disagrees with c, so c's md5 match (a collision) does not count
    expect(findImageByHash([images[2]!], { sha512: 'zzz', md5: 'm2' })).toBeUndefined();
    expect(findImageByHash(images, { md5: 'M1' })?.id).toBe('a');
    expect(findImageByHash(images, {})).toBeUndefined();
  });
});

describe('nova and placement', () => {
  it('lists images through nova with compute 2.35', async () => {
    cloud.images.length = 0;
    cloud.images.push({ id: 'i1', name: 'cirros', status: 'active' });
    expect(await listImagesViaNova(s)).toEqual([{ id: 'i1', name: 'cirros', status: 'ACTIVE' }]);
    expect(cloud.srv.requests.at(-1)!.headers['openstack-api-version']).toBe('compute 2.35');
  });

  it('computeRoot adds /v2.1 only when the catalog URL has no version', () => {
    expect(computeRoot(s)).toBe(`${cloud.url}/compute/v2.1`);
    const bare = { ...s, endpointFor: () => 'http://h:8774/' };
    expect(computeRoot(bare)).toBe('http://h:8774/v2.1');
  });

  it('creates a server at 2.37 with networks none and hides adminPass', async () => {
    const id = await createServer(s, { name: 'vm', imageRef: 'i1', flavorRef: 'f1' });
    expect(id).toBe(cloud.nova.server!.id);
    const req = cloud.srv.requests.at(-1)!;
    expect(req.headers['openstack-api-version']).toBe('compute 2.37');
    expect(JSON.parse(req.body)).toEqual({ server: { name: 'vm', imageRef: 'i1', flavorRef: 'f1', networks: 'none' } });
  });

  describe('server status without neutron', () => {
    let id: string;
    const action = (events: Record<string, unknown>[]) => {
      cloud.nova.actions = [{ action: 'create', request_id: 'req-1', start_time: 't', message: null, events: events.map((e) => ({ id: '', ...e })) }];
    };
    beforeEach(async () => {
      cloud.nova.getServerStatus = 500;
      cloud.nova.actions = [];
      cloud.nova.hypervisorServers = [];
      cloud.nova.allocations = {};
      id = await createServer(s, { name: 'vm', imageRef: 'i1', flavorRef: 'f1' });
    });

    it('building while the compute event has not finished', async () => {
      action([{ event: 'conductor_schedule_and_build_instances', finish_time: 't', result: 'Success' }]);
      expect((await serverBuildState(s, id)).phase).toBe('building');
      action([{ event: 'compute__do_build_and_run_instance', finish_time: null, result: null, host: 'c1' }]);
      expect(await serverBuildState(s, id)).toEqual({ phase: 'building', detail: 'spawning on c1' });
    });

    it('failed when an event failed, with its details', async () => {
      action([{ event: 'conductor_schedule_and_build_instances', finish_time: 't', result: 'Error', details: 'No valid host was found.' }]);
      const st = await serverBuildState(s, id);
      expect(st).toMatchObject({ phase: 'failed', final: true });
      expect(st.detail).toContain('No valid host was found.');
      await expect(waitForServerActive(s, id, 5000, { intervalMs: 10 })).rejects.toThrow(/No valid host/);
    });

    it('failed when the build "succeeded" but nova took the server off its host', async () => {
      action([{ event: 'compute__do_build_and_run_instance', finish_time: 't', result: 'Success', host: 'c1' }]);
      cloud.nova.allocations = { rp1: { resources: { VCPU: 1 } } };
      const st = await serverBuildState(s, id);
      expect(st).toMatchObject({ phase: 'failed', final: false });
      expect(st.detail).toContain('no hypervisor holds the server');
      // Believed only once it lasts (a reschedule looks the same for a moment).
      const t0 = Date.now();
      await expect(waitForServerActive(s, id, 5000, { intervalMs: 10, graceMs: 150 })).rejects.toThrow(/no hypervisor holds/);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    });

    it('rides out a reschedule: the newest build event counts', async () => {
      action([
        { event: 'compute__do_build_and_run_instance', start_time: '2024-01-01T00:00:05', finish_time: null, result: null, host: 'c2' },
        { event: 'compute__do_build_and_run_instance', start_time: '2024-01-01T00:00:01', finish_time: 't', result: 'Success', host: 'c1' },
      ]);
      expect(await serverBuildState(s, id)).toEqual({ phase: 'building', detail: 'spawning on c2' });
      // between the two attempts the server is on no host; then the second attempt succeeds
      action([{ event: 'compute__do_build_and_run_instance', start_time: '2024-01-01T00:00:01', finish_time: 't', result: 'Success', host: 'c1' }]);
      setTimeout(() => {
        action([
          { event: 'compute__do_build_and_run_instance', start_time: '2024-01-01T00:00:05', finish_time: 't', result: 'Success', host: 'c2' },
          { event: 'compute__do_build_and_run_instance', start_time: '2024-01-01T00:00:01', finish_time: 't', result: 'Success', host: 'c1' },
        ]);
        cloud.nova.hypervisorServers = [{ name: 'vm', uuid: id }];
        cloud.nova.allocations = { rp2: { resources: { VCPU: 1 } } };
      }, 100);
      await waitForServerActive(s, id, 5000, { intervalMs: 10, graceMs: 2000 });
    });

    it('active when the build finished, the hypervisor holds it and placement has its allocation', async () => {
      action([{ event: 'compute__do_build_and_run_instance', finish_time: 't', result: 'Success', host: 'c1' }]);
      cloud.nova.hypervisorServers = [{ name: 'vm', uuid: id }];
      expect(await serverBuildState(s, id)).toMatchObject({ phase: 'failed', final: false }); // no allocation yet
      cloud.nova.allocations = { rp1: { resources: { VCPU: 1, MEMORY_MB: 128 } } };
      expect(await serverBuildState(s, id)).toEqual({ phase: 'active', detail: 'running on fake-mini' });
      expect((await getAllocations(s, id)).allocations.rp1!.resources.VCPU).toBe(1);
      await waitForServerActive(s, id, 5000, { intervalMs: 10 });
      const paths = cloud.srv.requests.map((r) => r.url);
      expect(paths).toContain(`/compute/v2.1/servers/${id}/os-instance-actions`);
      expect(paths).toContain('/compute/v2.1/os-hypervisors/detail?with_servers=true');
      expect(paths).toContain(`/placement/allocations/${id}`);
      expect(cloud.srv.requests.find((r) => r.url.startsWith('/placement/'))!.headers['openstack-api-version']).toMatch(/^placement 1\.\d+$/);
    });

    it('waits until the build state turns active', async () => {
      action([{ event: 'compute__do_build_and_run_instance', finish_time: null, result: null }]);
      setTimeout(() => {
        action([{ event: 'compute__do_build_and_run_instance', finish_time: 't', result: 'Success' }]);
        cloud.nova.hypervisorServers = [{ name: 'vm', uuid: id }];
        cloud.nova.allocations = { rp1: { resources: { VCPU: 1 } } };
      }, 100);
      await waitForServerActive(s, id, 5000, { intervalMs: 20 });
    });

    it('asks the check between polls at its own pace, and ends the wait with what it throws', async () => {
      action([{ event: 'compute__do_build_and_run_instance', finish_time: null, result: null, host: 'c1' }]);
      let asked = 0;
      const t0 = Date.now();
      const check = async () => {
        asked++;
        if (asked === 3) throw new Error('nova-compute on c1 is not running');
      };
      await expect(waitForServerActive(s, id, 5000, { intervalMs: 10, check, checkEveryMs: 50 })).rejects.toThrow(/nova-compute on c1 is not running/);
      // every 50 ms, not at every 10 ms poll: the third ask ended it after ~150 ms, not the 5 s timeout
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
      expect(Date.now() - t0).toBeLessThan(2000);
    });

    it('a check that passes leaves the wait to end as it would', async () => {
      action([{ event: 'compute__do_build_and_run_instance', finish_time: null, result: null, host: 'c1' }]);
      let asked = 0;
      await expect(waitForServerActive(s, id, 200, { intervalMs: 10, check: async () => void asked++, checkEveryMs: 30 })).rejects.toThrow(/not ACTIVE after/);
      expect(asked).toBeGreaterThanOrEqual(2);
      expect(asked).toBeLessThanOrEqual(8);
    });

    it('times out with where the build stands', async () => {
      action([{ event: 'compute__do_build_and_run_instance', finish_time: null, result: null, host: 'c1' }]);
      await expect(waitForServerActive(s, id, 60, { intervalMs: 20 })).rejects.toThrow(/not ACTIVE after .*spawning on c1/);
    });

    it('waits for deletion by the server list, never asking GET /servers/{id} (which asks Neutron)', async () => {
      const name = String(cloud.nova.server!.name);
      // a server whose name only contains the test server's (the list filters by regular expression)
      cloud.nova.others.push({ id: 'other', name: `${name}-2` });
      setTimeout(() => void deleteServer(s, id), 50);
      await waitForServerUnlisted(s, id, name, 5000, { intervalMs: 10 });
      const polls = cloud.srv.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/compute/v2.1/servers'));
      expect(polls.length).toBeGreaterThan(1);
      expect(polls.every((r) => r.url.startsWith('/compute/v2.1/servers?'))).toBe(true);
      expect(decodeURIComponent(polls[0]!.url)).toContain(`name=^${name}$`);
      cloud.nova.others.length = 0;
    });

    it('names the server still listed when its deletion runs out of time', async () => {
      const name = String(cloud.nova.server!.name);
      await expect(waitForServerUnlisted(s, id, name, 50, { intervalMs: 10 })).rejects.toThrow(new RegExp(`server ${id} \\(${name}\\) still listed after`));
    });

    it('a compute node counts once its provider offers VCPU and memory, not when the provider is made', async () => {
      cloud.nova.providers = [{ uuid: 'rp-h1', name: 'h1', inventories: {} }];
      expect(await providerWithInventory(s, 'h1')).toBeUndefined(); // made, inventory not reported yet
      expect(await providerWithInventory(s, 'h2')).toBeUndefined(); // no provider
      cloud.nova.providers[0]!.inventories = { VCPU: { total: 2 }, MEMORY_MB: { total: 2048 }, DISK_GB: { total: 10 } };
      expect((await providerWithInventory(s, 'h1'))?.uuid).toBe('rp-h1');
      cloud.nova.providers = [];
    });
  });

  it('lists hypervisors at a microversion that still reports running_vms', async () => {
    const hv = await listHypervisors(s);
    expect(hv[0]!.hypervisor_hostname).toBe('fake-mini');
    expect(cloud.srv.requests.at(-1)!.headers['openstack-api-version']).toBe('compute 2.53');
  });
});
