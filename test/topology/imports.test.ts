// Plugins are services, not libraries: no plugin imports another plugin's folder (nova-compute
// extends nova, the one exception), and nothing under lib/ imports a plugin. Read from the
// sources' import lines.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The repository paths a file imports or re-exports from (relative specifiers only). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.[^'"]+)['"]/gm), ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
  return specs.map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)));
}

/** plugins/<folder>/... -> <folder>; undefined for plugins/index.ts and files outside plugins/. */
const pluginFolder = (path: string): string | undefined => /^plugins\/([^/]+)\//.exec(path)?.[1];

const ALLOWED: ReadonlySet<string> = new Set(['nova-compute -> nova']);

describe('imports between the floors', () => {
  it('reads the import lines of the sources (the check below sees them)', () => {
    expect(importsOf('plugins/nova-compute/index.ts')).toContain('plugins/nova/index.ts');
    expect(importsOf('plugins/index.ts')).toContain('plugins/glance/index.ts');
  });

  it('no plugin imports another plugin folder, except nova-compute -> nova', () => {
    const wrong: string[] = [];
    for (const file of sources('plugins')) {
      const from = pluginFolder(file);
      if (!from) continue;
      for (const target of importsOf(file)) {
        const to = pluginFolder(target);
        if (to && to !== from && !ALLOWED.has(`${from} -> ${to}`)) wrong.push(`${file} imports ${target}`);
        if (!to && target.startsWith('plugins/')) wrong.push(`${file} imports ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('no file under lib/ imports from plugins/', () => {
    const wrong = sources('lib').flatMap((file) => importsOf(file).filter((t) => t.startsWith('plugins/') || t === 'plugins').map((t) => `${file} imports ${t}`));
    expect(wrong).toEqual([]);
  });
});
