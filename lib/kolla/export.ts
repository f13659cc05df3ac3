// ./stack.ts export kolla-ansible DIR: the cloud this config describes, as kolla-ansible's
// multinode inventory, globals.yml and passwords.yml. The hosts are only read (like plan): the
// interfaces that carry their addresses, and which have none for Neutron's external bridge.

import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Config } from '../config/types.ts';
import { InputError } from '../errors.ts';
import type { Host, HostFacts } from '../host/types.ts';
import type { Release } from '../plugin.ts';
import { writePrivateFile } from '../private-file.ts';
import type { HostSpec } from '../topology.ts';
import { renderGlobals, renderPasswords } from './globals.ts';
import { readInterfaces } from './interfaces.ts';
import { renderInventory } from './inventory.ts';
import { decideLayout } from './layout.ts';

export { EXPORT_FORMATS, type ExportFormat } from './formats.ts';

export interface ExportSource {
  readonly config: Config;
  readonly hosts: ReadonlyArray<{ spec: HostSpec; host: Host; facts: HostFacts; release: Release; address: string }>;
}

export interface ExportResult {
  /** Paths written, the inventory first. */
  readonly files: readonly string[];
  /** Facts that could not be read, and the default taken. */
  readonly notes: readonly string[];
}

export const KOLLA_FILES = { inventory: 'multinode', globals: 'globals.yml', passwords: 'passwords.yml' } as const;

export async function exportKollaAnsible(src: ExportSource, dir: string): Promise<ExportResult> {
  const invented = src.config.inventedSecrets ?? [];
  if (invented.length) {
    throw new InputError(
      `No password is kept yet for ${invented.join(', ')} (${src.config.secretsFile}), so there are no passwords of this cloud to export.`,
      'stack the cloud first (./stack.ts), or set those passwords in your localrc, then run the export again',
    );
  }
  const facts = await Promise.all(src.hosts.map(async (h) => ({ ...h, interfaces: await readInterfaces(h.host, h.address) })));
  const layout = decideLayout(facts, src.config.settings);
  const source = relative(process.cwd(), src.config.file) || src.config.file;
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new InputError(`cannot make the export directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'name a directory you may write, or one that does not exist yet under one you may write');
  }
  const path = (f: string) => join(dir, f);
  const plain = async (file: string, text: string) => {
    await writeFile(file, text, { mode: 0o644 });
    // The mode of an existing file is not changed by writeFile.
    await chmod(file, 0o644);
  };
  await plain(path(KOLLA_FILES.inventory), renderInventory(layout, source));
  await plain(path(KOLLA_FILES.globals), renderGlobals(layout, source));
  await writePrivateFile(path(KOLLA_FILES.passwords), renderPasswords(src.config.settings));
  return { files: Object.values(KOLLA_FILES).map(path), notes: layout.notes };
}
