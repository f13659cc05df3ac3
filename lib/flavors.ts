// The flavors a stack makes: devstack's m1.* set, and stack.tiny, which fits a 2-core test host
// (and the CirrOS-sized test image) with room for two guests.
import type { FlavorSpec } from './openstack/nova.ts';

export const FLAVORS: readonly FlavorSpec[] = [
  { name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 },
  { name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 },
  { name: 'm1.medium', ram: 4096, vcpus: 2, disk: 40 },
  { name: 'm1.large', ram: 8192, vcpus: 4, disk: 80 },
  { name: 'm1.xlarge', ram: 16384, vcpus: 8, disk: 160 },
  { name: 'stack.tiny', ram: 128, vcpus: 1, disk: 1 },
];
