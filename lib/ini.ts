// Comment- and order-preserving editor for OpenStack (oslo.config) ini files.
// Users diff the packaged file against ours, so an edit touches only the lines it must;
// the npm `ini` package rewrites the whole file and drops every comment, so this works on
// a line model instead. Line classification follows oslo_config/iniparser.py: a line that
// starts with whitespace continues the previous value, `#`/`;` start a comment, `[x]` a section.

import { osloEscape, osloUnescape } from './escape.ts';
import { escapeRegExp } from './regexp.ts';

export type IniDialect = 'oslo' | 'plain';

export type IniEdit =
  | { op: 'set'; section: string; key: string; value: string }
  | { op: 'comment' | 'delete'; section: string; key: string };

interface Line {
  text: string; // without its line terminator
  eol: string; // '\n', '\r\n' or '' (last line without a final newline)
}

/** One active `key = value` with its continuation lines: lines[start, end). */
interface Entry {
  key: string;
  start: number;
  end: number;
}

/** A run of lines under one `[section]` header: header at `header`, body (header, end). */
interface Block {
  name: string;
  header: number;
  end: number;
}

const isBlank = (t: string): boolean => t.trim() === '';
const isContinuation = (t: string): boolean => /^[ \t]/.test(t) && !isBlank(t);
const isComment = (t: string): boolean => t.startsWith('#') || t.startsWith(';');
const sectionName = (t: string): string | undefined => {
  const r = t.trimEnd();
  return r.startsWith('[') && r.endsWith(']') && r.length > 2 ? r.slice(1, -1) : undefined;
};

/** Key and raw value of an active assignment line, split as oslo.config does (first `=` or `:`). */
function splitAssignment(t: string): { key: string; raw: string } | undefined {
  if (isBlank(t) || isComment(t) || /^[ \t]/.test(t) || sectionName(t) !== undefined) return undefined;
  const eq = t.indexOf('=');
  const colon = t.indexOf(':');
  if (eq < 0 && colon < 0) return undefined;
  const at = colon < 0 || (eq >= 0 && eq < colon) ? eq : colon;
  return { key: t.slice(0, at).trim(), raw: t.slice(at + 1) };
}

export class IniDoc {
  private constructor(
    private readonly lines: Line[],
    private readonly dialect: IniDialect,
  ) {}

  static parse(text: string, opts?: { dialect?: IniDialect }): IniDoc {
    const lines: Line[] = [];
    const re = /\r?\n/g;
    let from = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      lines.push({ text: text.slice(from, m.index), eol: m[0] });
      from = m.index + m[0].length;
    }
    if (from < text.length) lines.push({ text: text.slice(from), eol: '' });
    return new IniDoc(lines, opts?.dialect ?? 'oslo');
  }

  toString(): string {
    return this.lines.map((l) => l.text + l.eol).join('');
  }

  hasSection(section: string): boolean {
    return this.blocks(section).length > 0;
  }

  /** The value oslo.config would read: the last assignment wins; `$$` read as `$` (oslo dialect). */
  get(section: string, key: string): string | undefined {
    const entries = this.entries(section, key);
    const last = entries[entries.length - 1];
    return last === undefined ? undefined : this.readValue(last);
  }

  set(section: string, key: string, value: string): void {
    checkName('key', key);
    const wanted = this.renderLine(key, value);
    const entries = this.entries(section, key);
    const first = entries[0];
    if (first !== undefined) {
      // Later duplicates go first so the first entry's indices stay valid.
      for (const dup of entries.slice(1).reverse()) this.lines.splice(dup.start, dup.end - dup.start);
      // An assignment that already reads as the wanted value keeps its exact bytes.
      if (this.readValue(first) === value) return;
      const eol = this.lines[first.end - 1]!.eol;
      this.lines.splice(first.start, first.end - first.start, { text: wanted, eol });
      return;
    }
    if (!this.hasSection(section)) this.addSection(section);
    const commented = this.commentedAt(section, key);
    if (commented !== undefined) {
      this.insertAt(commented + 1, wanted);
      return;
    }
    const blocks = this.blocks(section);
    const block = blocks[blocks.length - 1]!;
    let at = block.end;
    while (at > block.header + 1 && isBlank(this.lines[at - 1]!.text)) at--;
    this.insertAt(at, wanted);
  }

  /** Turns every active `key = value` of the section into `#key = value`. */
  comment(section: string, key: string): void {
    for (const e of this.entries(section, key)) {
      for (let i = e.start; i < e.end; i++) this.lines[i]!.text = '#' + this.lines[i]!.text;
    }
  }

  delete(section: string, key: string): void {
    for (const e of this.entries(section, key).reverse()) this.lines.splice(e.start, e.end - e.start);
  }

  addSection(section: string): void {
    checkName('section', section);
    if (this.hasSection(section)) return;
    const last = this.lines[this.lines.length - 1];
    if (last !== undefined && !isBlank(last.text)) this.insertAt(this.lines.length, '');
    this.insertAt(this.lines.length, `[${section}]`);
  }

  // --- internals -------------------------------------------------------------

  private eol(): string {
    return this.lines.find((l) => l.eol !== '')?.eol ?? '\n';
  }

  /** Inserts one line before index `at`; a file without a final newline stays without one. */
  private insertAt(at: number, text: string): void {
    const prev = this.lines[at - 1];
    if (at === this.lines.length && prev !== undefined && prev.eol === '') {
      prev.eol = this.eol();
      this.lines.push({ text, eol: '' });
      return;
    }
    this.lines.splice(at, 0, { text, eol: this.eol() });
  }

  private blocks(section?: string): Block[] {
    const out: Block[] = [];
    this.lines.forEach((l, i) => {
      const name = sectionName(l.text);
      if (name === undefined) return;
      const prev = out[out.length - 1];
      if (prev) prev.end = i;
      out.push({ name, header: i, end: this.lines.length });
    });
    return section === undefined ? out : out.filter((b) => b.name === section);
  }

  private entries(section: string, key: string): Entry[] {
    const out: Entry[] = [];
    for (const b of this.blocks(section)) {
      for (let i = b.header + 1; i < b.end; i++) {
        const a = splitAssignment(this.lines[i]!.text);
        if (a === undefined || a.key !== key) continue;
        let end = i + 1;
        while (end < b.end && isContinuation(this.lines[end]!.text)) end++;
        out.push({ key, start: i, end });
        i = end - 1;
      }
    }
    return out;
  }

  /** Index of the first `#key = ...` line in the section, if any. */
  private commentedAt(section: string, key: string): number | undefined {
    const re = new RegExp(`^[#;][ \\t]*${escapeRegExp(key)}[ \\t]*=`);
    for (const b of this.blocks(section)) {
      for (let i = b.header + 1; i < b.end; i++) if (re.test(this.lines[i]!.text)) return i;
    }
    return undefined;
  }

  private readValue(e: Entry): string {
    const first = splitAssignment(this.lines[e.start]!.text)!;
    if (this.dialect === 'plain') {
      return [first.raw.trim(), ...this.lines.slice(e.start + 1, e.end).map((l) => l.text.trim())].join('\n');
    }
    // oslo: strip, drop one pair of matching quotes, join continuation lines with newlines.
    let v = first.raw.trim();
    if (v.length > 0 && v[0] === v[v.length - 1] && (v[0] === '"' || v[0] === "'")) v = v.slice(1, -1);
    const parts = [v, ...this.lines.slice(e.start + 1, e.end).map((l) => l.text.trim())];
    return osloUnescape(parts.join('\n'));
  }

  private renderLine(key: string, value: string): string {
    if (/[\r\n]/.test(value)) {
      throw new Error(`ini value for "${key}" contains a line break; oslo.config files cannot hold one on a single line`);
    }
    if (this.dialect === 'plain') return `${key} = ${value}`;
    let v = osloEscape(value);
    // oslo.config strips surrounding whitespace and one pair of matching quotes: protect both.
    const quoted = v !== v.trim() || (v.length > 0 && v[0] === v[v.length - 1] && (v[0] === '"' || v[0] === "'"));
    if (quoted) v = `"${v}"`;
    return `${key} = ${v}`;
  }
}

/** Characters an ini key may not hold: the file could not be read back as the same key. */
const BAD_KEY = /[=:\r\n[\]#;]|^\s|\s$/;

/** Why `name` cannot be an ini key (for local.conf's post-config, checked with its line), or undefined. */
export function iniKeyProblem(name: string): string | undefined {
  if (name.length === 0) return 'an option name is empty';
  const c = BAD_KEY.exec(name)?.[0];
  return c === undefined ? undefined : `option name '${name}' holds ${/\s/.test(c) ? 'a blank at an end' : `'${c}'`}, which an ini file cannot carry in a key`;
}

function checkName(what: 'key' | 'section', name: string): void {
  const bad = what === 'key' ? BAD_KEY : /[\]\r\n]|^\s|\s$/;
  if (name.length === 0 || bad.test(name)) throw new Error(`invalid ini ${what} name ${JSON.stringify(name)}`);
}

export function applyIniEdits(text: string, edits: readonly IniEdit[], dialect: IniDialect = 'oslo'): string {
  const doc = IniDoc.parse(text, { dialect });
  for (const e of edits) {
    if (e.op === 'set') doc.set(e.section, e.key, e.value);
    else if (e.op === 'comment') doc.comment(e.section, e.key);
    else doc.delete(e.section, e.key);
  }
  return doc.toString();
}

/**
 * Effective values of a file, section -> key -> value, read the way oslo.config reads them
 * (last assignment wins, `$$` -> `$`, quotes and continuation lines handled). Written on the
 * line model rather than the `ini` package, which cuts values at `#`/`;` and JSON-decodes
 * quoted ones - both wrong for passwords in oslo files.
 */
export function parseIniValues(text: string, dialect: IniDialect = 'oslo'): Record<string, Record<string, string>> {
  const doc = IniDoc.parse(text, { dialect });
  const out: Record<string, Record<string, string>> = {};
  const lines = text.split(/\r?\n/);
  let section: string | undefined;
  for (const l of lines) {
    const name = sectionName(l);
    if (name !== undefined) {
      section = name;
      out[section] ??= {};
      continue;
    }
    const a = section === undefined ? undefined : splitAssignment(l);
    if (a && section !== undefined) out[section]![a.key] = doc.get(section, a.key)!;
  }
  return out;
}
