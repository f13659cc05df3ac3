// Reads localrc (shell-style VAR=value lines) and local.conf (the same inside [[local|localrc]],
// plus [[post-config|$FILE]] ini sections). The file is read, never run: only the shell syntax a
// localrc really uses is understood, and anything else is an error that says what to write instead.
//
// A value that refers to a known setting not assigned earlier in the file (and not in the
// environment) is kept as a reference and filled in later, after defaults and detected values,
// so `SERVICE_HOST=$HOST_IP` means the HOST_IP stack.ts ends up with, not an empty string.

import { KNOWN_SERVICES, SCHEMA, type ServiceName, type SettingName } from './schema.ts';
import type { ConfigWarning, PostConfigEntry } from './types.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { checkValue, closest, MIN_PASSWORD_LENGTH, splitList } from './validate.ts';
import { iniKeyProblem } from '../ini.ts';

/** A piece of a value: literal text, a setting filled in later, or `${NAME:-fallback}` decided later. */
export type Part =
  | string
  | { readonly ref: SettingName }
  | { readonly value: readonly Part[]; readonly fallback: readonly Part[] };

export interface Assignment {
  readonly name: string;
  readonly parts: readonly Part[];
  /** "localrc:12" */
  readonly origin: string;
}

export interface ParsedConfig {
  /** The name used in origins ("localrc"). */
  readonly file: string;
  readonly kind: 'localrc' | 'local.conf';
  /** Last assignment of each known setting (ENABLED_SERVICES is in `services`). */
  readonly settings: ReadonlyMap<SettingName, Assignment>;
  /** Assignments to names that are not settings (helpers for expansion, or typos). */
  readonly others: ReadonlyMap<string, Assignment>;
  /** Enabled services after every ENABLED_SERVICES / enable_service / disable_service line, in order. */
  readonly services: readonly ServiceName[];
  readonly postConfig: readonly PostConfigEntry[];
  readonly warnings: readonly ConfigWarning[];
}

export type Env = Readonly<Record<string, string | undefined>>;

const SETTING_NAMES = Object.keys(SCHEMA) as SettingName[];
const isSetting = (name: string): name is SettingName => Object.hasOwn(SCHEMA, name);
const isSecret = (name: string): boolean => isSetting(name) && SCHEMA[name].type === 'secret';
/** More unknown names than this are one summary line: a wrong file (a 10 MB log, say) must not flood the terminal. */
const MAX_UNKNOWN_WARNINGS = 20;

/** A problem's text with every given secret replaced by ***. */
export function hideSecrets<T extends { message: string; hint?: string }>(problem: T, secrets: readonly string[]): T {
  // Also as a message may quote it: JSON-escaped ("a\"b") as checkAddress shows a value with a blank.
  // A password too short to hide safely is refused with its own message; hiding it would garble the rest.
  const forms = [...new Set(secrets.filter((v) => [...v.trim()].length >= MIN_PASSWORD_LENGTH).flatMap((v) => [v, JSON.stringify(v).slice(1, -1)]))];
  const hide = (t: string) => forms.sort((a, b) => b.length - a.length).reduce((acc, v) => acc.split(v).join('***'), t);
  return { ...problem, message: hide(problem.message), ...(problem.hint !== undefined ? { hint: hide(problem.hint) } : {}) };
}
const isService = (name: string): name is ServiceName => (KNOWN_SERVICES as readonly string[]).includes(name);
const FUNCTIONS = ['enable_service', 'disable_service', 'disable_all_services'];

/** A problem on one line; the caller adds the origin. */
class LineError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** True when every part is literal text. */
export const isLiteral = (parts: readonly Part[]): parts is readonly string[] => parts.every((p) => typeof p === 'string');

/** Display form of parts: references shown as ${NAME}. For messages about non-secret values and tests. */
export function partsToString(parts: readonly Part[]): string {
  return parts
    .map((p) =>
      typeof p === 'string' ? p : 'ref' in p ? `\${${p.ref}}` : `\${${partsToString(p.value)}:-${partsToString(p.fallback)}}`,
    )
    .join('');
}

function concat(...lists: (readonly Part[])[]): Part[] {
  const out: Part[] = [];
  for (const p of lists.flat()) {
    const last = out[out.length - 1];
    if (typeof p === 'string' && typeof last === 'string') out[out.length - 1] = last + p;
    else if (p !== '') out.push(p);
  }
  return out;
}

/** What `$NAME` means at this point of the file; undefined when NAME is unset. */
type Lookup = (name: string, hasFallback: boolean) => readonly Part[] | undefined;

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const SPECIAL_PARAMS = '@*#?$!-0123456789';
const META = ';&|<>()';

/**
 * One shell word, with the quoting and `$` expansion a localrc uses. `what` names the word in
 * messages ("the value of ADMIN_PASSWORD"); the text itself is never quoted in a message because
 * it may be a password.
 */
class WordScanner {
  i = 0;
  constructor(
    private readonly s: string,
    private readonly lookup: Lookup,
    private readonly what: string,
    private readonly home: string | undefined,
    /** A password: messages say what is wrong without quoting any of its characters. */
    private readonly secret = false,
  ) {}

  atEnd(): boolean {
    return this.i >= this.s.length;
  }

  skipBlanks(): void {
    while (this.i < this.s.length && /[ \t]/.test(this.s[this.i]!)) this.i++;
  }

  /** At a `#` that starts a comment (only at the start of a word). */
  atComment(): boolean {
    return this.s[this.i] === '#';
  }

  word(opts: { tilde?: boolean; inBraces?: boolean } = {}): Part[] {
    const parts: Part[][] = [];
    const start = this.i;
    if (opts.tilde && this.home !== undefined && this.s[this.i] === '~' && /^(\/|[ \t]|$)/.test(this.s.slice(this.i + 1, this.i + 2))) {
      parts.push([this.home]);
      this.i++;
    }
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === ' ' || c === '\t') break;
      if (opts.inBraces && c === '}') break;
      if (c === "'") {
        const end = this.s.indexOf("'", this.i + 1);
        if (end < 0) throw new LineError(`unterminated single quote in ${this.what}`, 'close the quote on the same line; a value cannot span lines');
        parts.push([this.s.slice(this.i + 1, end)]);
        this.i = end + 1;
      } else if (c === '"') {
        parts.push(this.doubleQuoted());
      } else if (c === '\\') {
        if (this.i + 1 >= this.s.length) {
          throw new LineError('line continuation (\\ at the end of a line) is not supported', 'put the whole value on one line');
        }
        parts.push([this.s[this.i + 1]!]);
        this.i += 2;
      } else if (c === '$') {
        const q = this.s[this.i + 1];
        if (q === "'" || q === '"') {
          throw new LineError(
            `${q === "'" ? "ANSI-C quoting $'...'" : 'locale quoting $"..."'} in ${this.what} is not supported`,
            "write the characters themselves inside '...' (a value is one line: it cannot hold a line break)",
          );
        }
        parts.push(this.dollar());
      } else if (c === '`') {
        throw this.commandSubstitution();
      } else if (META.includes(c)) {
        throw new LineError(`unquoted '${c}' in ${this.what}`, "put the value in single quotes, e.g. NAME='a;b' (inside '...' every character is kept as it is)");
      } else {
        let j = this.i;
        while (j < this.s.length && !` \t'"\\$\`${META}`.includes(this.s[j]!) && !(opts.inBraces && this.s[j] === '}')) j++;
        parts.push([this.s.slice(this.i, j)]);
        this.i = j;
      }
    }
    if (this.i === start) return [];
    return concat(...parts);
  }

  private doubleQuoted(): Part[] {
    const parts: Part[][] = [];
    this.i++; // opening quote
    let text = '';
    for (;;) {
      if (this.i >= this.s.length) {
        throw new LineError(`unterminated double quote in ${this.what}`, 'close the quote on the same line; a value cannot span lines');
      }
      const c = this.s[this.i]!;
      if (c === '"') {
        this.i++;
        break;
      }
      if (c === '\\' && this.i + 1 < this.s.length && '$`"\\'.includes(this.s[this.i + 1]!)) {
        text += this.s[this.i + 1];
        this.i += 2;
      } else if (c === '$') {
        parts.push([text]);
        text = '';
        parts.push(this.dollar());
      } else if (c === '`') {
        throw this.commandSubstitution();
      } else {
        text += c;
        this.i++;
      }
    }
    parts.push([text]);
    return concat(...parts);
  }

  private commandSubstitution(): LineError {
    return new LineError(
      `command substitution in ${this.what} is not supported`,
      "write the value itself; if the $ or ` is part of the value, put it in single quotes: NAME='...'",
    );
  }

  private readName(): string {
    let j = this.i;
    if (j < this.s.length && NAME_START.test(this.s[j]!)) {
      j++;
      while (j < this.s.length && NAME_CHAR.test(this.s[j]!)) j++;
    }
    const name = this.s.slice(this.i, j);
    this.i = j;
    return name;
  }

  /** At `$`: an expansion, or a literal `$` where the shell keeps one too. */
  private dollar(): Part[] {
    const next = this.s[this.i + 1];
    if (next === undefined || !(next === '{' || next === '(' || NAME_START.test(next) || SPECIAL_PARAMS.includes(next))) {
      this.i++;
      return ['$'];
    }
    if (next === '(') throw this.commandSubstitution();
    if (SPECIAL_PARAMS.includes(next)) {
      throw new LineError(
        this.secret ? `${this.what} holds a shell special parameter ($ followed by a digit or one of @*#?$!-)` : `$${next} in ${this.what} is a shell special parameter`,
        "if the $ is part of the value (a password, say), put the value in single quotes: NAME='...'",
      );
    }
    this.i++;
    if (next !== '{') return [...(this.lookup(this.readName(), false) ?? [])];

    this.i++; // {
    const name = this.readName();
    const unsupported = new LineError(
      `unsupported \${...} form in ${this.what}`,
      'only $NAME, ${NAME}, ${NAME:-default} and ${NAME-default} are understood',
    );
    if (name === '') throw unsupported;
    if (this.s[this.i] === '}') {
      this.i++;
      return [...(this.lookup(name, false) ?? [])];
    }
    let emptyCounts: boolean;
    if (this.s.startsWith(':-', this.i)) {
      emptyCounts = true;
      this.i += 2;
    } else if (this.s[this.i] === '-') {
      emptyCounts = false;
      this.i += 1;
    } else {
      throw unsupported;
    }
    const fallback: Part[][] = [];
    // The default may contain blanks (`${X:-a b}`): keep reading words until the closing brace.
    for (;;) {
      fallback.push(this.word({ inBraces: true }));
      if (this.s[this.i] === '}') break;
      if (this.atEnd()) throw new LineError(`missing '}' in ${this.what}`, 'close ${NAME:-default} with }');
      fallback.push([this.s[this.i]!]);
      this.i++;
    }
    this.i++; // }
    const def = concat(...fallback);
    const value = this.lookup(name, true);
    if (value === undefined) return def;
    if (!emptyCounts) return [...value];
    if (isLiteral(value)) return value.join('') === '' ? def : [...value];
    return [{ value, fallback: def }];
  }
}

/** Reads the localrc lines of one file (all of localrc, or the [[local|localrc]] parts of local.conf). */
class LocalrcReader {
  readonly vars = new Map<string, Assignment>();
  services: ServiceName[];
  readonly issues: ConfigIssue[] = [];
  readonly warnings: ConfigWarning[] = [];
  /** Names used in an expansion: an unknown variable used that way is a helper, not a typo. */
  readonly referenced = new Set<string>();
  /** The name being assigned: `X=${X:-default}` asks whether X came from outside, not for a later X. */
  private assigning = '';
  /** The value being assigned refers to the name itself (`X=${X:-d}`, `X="$X more"`): not a duplicate. */
  private selfReference = false;

  constructor(
    private readonly file: string,
    private readonly env: Env,
    /** Secrets files and schema defaults have no services and no deferred references. */
    private readonly deferSettings: boolean,
  ) {
    this.services = splitList(SCHEMA.ENABLED_SERVICES.default).filter(isService);
  }

  private lookup: Lookup = (name, hasFallback) => {
    this.referenced.add(name);
    if (name === this.assigning) this.selfReference = true;
    const assigned = this.vars.get(name);
    if (assigned) return assigned.parts;
    if (name === 'ENABLED_SERVICES' && this.deferSettings) return [this.services.join(',')];
    const fromEnv = this.env[name];
    if (fromEnv !== undefined) return [fromEnv];
    if (this.deferSettings && isSetting(name) && name !== this.assigning) return [{ ref: name }];
    if (!hasFallback && isSecret(this.assigning)) {
      // `ADMIN_PASSWORD=Pa$sword` would quietly become "Pa": never guess at a password.
      throw new LineError(
        `the value of ${this.assigning} expands a variable that is not set, so part of the password would be dropped`,
        `if the $ is part of the password, put the whole value in single quotes: ${this.assigning}='...'`,
      );
    }
    if (this.deferSettings && !hasFallback) {
      // The shell would quietly expand it to nothing; usually it is a typo. (A file of a million
      // helper names must not make every lookup compare against all of them.)
      const helpers = this.vars.size <= 1000 ? [...this.vars.keys()] : [];
      const near = closest(name, [...helpers, ...SETTING_NAMES]);
      this.warnings.push({
        origin: this.origin,
        message: `$${name} is not set (not earlier in the file, not in the environment, not a setting); it expands to nothing` + (near ? `; did you mean ${near}?` : ''),
      });
    }
    return undefined;
  };
  private origin = '';

  line(raw: string, lineNo: number): void {
    const origin = `${this.file}:${lineNo}`;
    this.origin = origin;
    try {
      this.statement(raw.replace(/\r$/, ''), origin);
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      this.issues.push({ origin, message: e.message, ...(e.hint ? { hint: e.hint } : {}) });
    }
  }

  private statement(raw: string, origin: string): void {
    const text = raw.trimStart();
    this.assigning = '';
    this.selfReference = false;
    if (text === '' || text.startsWith('#')) return;

    const assign = /^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)(\+?=)/.exec(text);
    if (assign) {
      const name = assign[1]!;
      this.assigning = name;
      const rest = text.slice(assign[0].length);
      const what = `the value of ${name}`;
      const scanner = new WordScanner(rest, this.lookup, what, this.env.HOME, isSecret(name));
      if (/^[ \t]/.test(rest)) {
        scanner.skipBlanks();
        if (!scanner.atEnd() && !scanner.atComment()) {
          throw new LineError(
            `space after '=' in the assignment to ${name}`,
            `write ${name}=value with no space; quote a value that contains spaces: ${name}="a b"`,
          );
        }
        this.assign(name, assign[2] === '+=', [], origin);
        return;
      }
      const parts = scanner.word({ tilde: true });
      scanner.skipBlanks();
      if (!scanner.atEnd() && !scanner.atComment()) {
        throw new LineError(
          `unquoted space in ${what}`,
          `quote the whole value: ${name}="..." (or ${name}='...' to keep $ and \\ as they are)`,
        );
      }
      this.assign(name, assign[2] === '+=', parts, origin);
      return;
    }

    const spaced = /^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]+\+?=/.exec(text);
    if (spaced) {
      const name = spaced[1]!;
      throw new LineError(
        `spaces around '=' in the assignment to ${name}`,
        `the shell reads "${name} = ..." as a command; write ${name}=value with no spaces`,
      );
    }

    const scanner = new WordScanner(text, this.lookup, 'this line', this.env.HOME);
    const words: Part[][] = [];
    while (!scanner.atEnd() && !scanner.atComment()) {
      words.push(scanner.word());
      scanner.skipBlanks();
    }
    const command = words[0] && isLiteral(words[0]) ? words[0].join('') : '';
    if (command === 'export' && words.slice(1).every((w) => isLiteral(w) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(w.join('')))) return;
    if (FUNCTIONS.includes(command)) {
      this.call(command, words.slice(1), origin);
      return;
    }
    const shown = /^[A-Za-z0-9_.\/-]{1,40}$/.test(command) ? `'${command}'` : 'this line';
    throw new LineError(
      `${shown} is neither an assignment (NAME=value) nor one of ${FUNCTIONS.join(', ')}`,
      text.startsWith('[')
        ? 'ini [sections] belong in a local.conf, under [[post-config|$FILE]]'
        : 'this file is read, not run as a shell script; turn the line into NAME=value or remove it',
    );
  }

  private serviceArgs(words: readonly Part[][], where: string): string[] {
    return words.flatMap((w) => {
      if (!isLiteral(w)) throw new LineError(`${where} cannot refer to other settings`, 'name the services themselves');
      return splitList(w.join(''));
    });
  }

  private unknownService(name: string, where: string, origin: string): void {
    const near = closest(name, KNOWN_SERVICES);
    this.issues.push({
      origin,
      message: `unknown service '${name}' in ${where}` + (near ? `; did you mean ${near}?` : ''),
      hint: `known services: ${KNOWN_SERVICES.join(', ')}`,
    });
  }

  private enable(names: readonly string[], where: string, origin: string): void {
    for (const name of names) {
      if (!isService(name)) this.unknownService(name, where, origin);
      else if (!this.services.includes(name)) this.services.push(name);
    }
  }

  private call(fn: string, args: readonly Part[][], origin: string): void {
    if (fn === 'disable_all_services') {
      if (args.length > 0) throw new LineError('disable_all_services takes no arguments', 'write disable_all_services alone, then enable_service lines');
      this.services = [];
      return;
    }
    const names = this.serviceArgs(args, fn);
    if (names.length === 0) throw new LineError(`${fn} needs at least one service name`, `e.g. ${fn} n-cpu`);
    if (fn === 'enable_service') {
      this.enable(names, 'enable_service', origin);
      return;
    }
    for (const name of names) {
      if (isService(name)) {
        this.services = this.services.filter((s) => s !== name);
      } else {
        const near = closest(name, KNOWN_SERVICES);
        this.warnings.push({
          origin,
          message: `disable_service: '${name}' is not a service stack.ts knows, so there is nothing to disable` + (near ? `; did you mean ${near}?` : ''),
        });
      }
    }
  }

  private assign(name: string, append: boolean, parts: readonly Part[], origin: string): void {
    if (name === 'ENABLED_SERVICES' && this.deferSettings) {
      if (!isLiteral(parts)) throw new LineError('ENABLED_SERVICES cannot refer to other settings', 'name the services themselves');
      const text = (append ? this.services.join(',') : '') + parts.join('');
      this.services = [];
      this.enable(splitList(text), 'ENABLED_SERVICES', origin);
      return;
    }
    const earlier = this.vars.get(name);
    if (earlier && !append && !this.selfReference && this.deferSettings) {
      this.warnings.push({ origin, message: `${name} is set again here (first at ${earlier.origin}); this later value is the one used` });
    }
    // `+=` appends to what the shell would have: an earlier assignment or the environment.
    const before = append ? (this.vars.get(name)?.parts ?? (this.env[name] !== undefined ? [this.env[name]!] : [])) : [];
    this.vars.set(name, { name, parts: concat(before, parts), origin });
  }

  /** Unknown names, reported once each at their last assignment, unless used as helpers. */
  finish(): void {
    const unknown = [...this.vars.values()].filter((a) => !isSetting(a.name) && !this.referenced.has(a.name));
    for (const a of unknown.slice(0, MAX_UNKNOWN_WARNINGS)) {
      const near = closest(a.name, SETTING_NAMES);
      this.warnings.push({
        origin: a.origin,
        message: `${a.name} is not a setting stack.ts knows; it is ignored` + (near ? `; did you mean ${near}?` : ''),
      });
    }
    if (unknown.length > MAX_UNKNOWN_WARNINGS) {
      this.warnings.push({
        origin: unknown[MAX_UNKNOWN_WARNINGS]!.origin,
        message: `and ${unknown.length - MAX_UNKNOWN_WARNINGS} more names that are not settings (ignored); is this the right file?`,
      });
    }
    // A message about another setting must not show a password it was built from (TARGET_HOST=${ADMIN_PASSWORD}x).
    const secrets = [...this.vars.values()].filter((a) => isSecret(a.name) && isLiteral(a.parts)).map((a) => a.parts.join('')).filter((v) => v !== '');
    for (const [name, a] of this.vars) {
      if (!isSetting(name) || !isLiteral(a.parts)) continue;
      const problem = checkValue(name, a.parts.join(''));
      if (problem) this.issues.push({ origin: a.origin, ...hideSecrets(problem, secrets) });
    }
  }
}

const META_LINE = /^\s*\[\[.*\]\]\s*$/;
const META_HEADER = /^\s*\[\[\s*([^|\]]*?)\s*\|\s*([^\]]*?)\s*\]\]\s*$/;

type Section = { kind: 'none' } | { kind: 'skip' } | { kind: 'localrc' } | { kind: 'post'; target: string; header: string; ini?: string };

/** local.conf: meta-sections, each either localrc lines or ini lines for one file. */
function readLocalConf(lines: readonly string[], file: string, reader: LocalrcReader, post: PostConfigEntry[]): void {
  let section: Section = { kind: 'none' };
  const issue = (lineNo: number, message: string, hint?: string) =>
    reader.issues.push({ origin: `${file}:${lineNo}`, message, ...(hint ? { hint } : {}) });

  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.replace(/\r$/, '');
    if (META_LINE.test(line)) {
      const m = META_HEADER.exec(line);
      section = { kind: 'skip' };
      if (!m) {
        issue(lineNo, 'malformed meta-section header', 'write [[local|localrc]] or [[post-config|$NOVA_CONF]]');
        return;
      }
      const [, phase, target] = m as unknown as [string, string, string];
      if (phase === 'local') {
        if (target === 'localrc') section = { kind: 'localrc' };
        else issue(lineNo, `[[local|${target}]]: the local phase only takes localrc`, 'write [[local|localrc]]');
      } else if (phase === 'post-config') {
        const variable = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(target);
        if (variable && (target.startsWith('${') === target.endsWith('}'))) section = { kind: 'post', target: variable[1]!, header: target };
        else if (target.startsWith('/')) section = { kind: 'post', target, header: target };
        else issue(lineNo, `post-config target '${target}' is neither a $VARIABLE nor an absolute path`, 'e.g. [[post-config|$GLANCE_API_CONF]] or [[post-config|/etc/glance/glance-api.conf]]');
      } else {
        issue(lineNo, `unknown meta-section phase '${phase}'`, 'stack.ts knows [[local|localrc]] and [[post-config|$FILE]]');
      }
      return;
    }
    const blank = /^\s*$/.test(line);
    switch (section.kind) {
      case 'skip':
        return;
      case 'localrc':
        reader.line(line, lineNo);
        return;
      case 'none':
        if (!blank && !/^\s*#/.test(line)) {
          issue(lineNo, 'line outside any [[...]] meta-section', 'put settings under [[local|localrc]] and file options under [[post-config|$FILE]]');
        }
        return;
      case 'post': {
        if (blank || /^\s*[#;]/.test(line)) return;
        const head = /^\s*\[\s*([^\]\s]+)\s*\]\s*$/.exec(line);
        if (head) {
          section.ini = head[1]!;
          return;
        }
        const kv = /^\s*([^=\s[][^=\s]*)\s*=\s*(.*?)\s*$/.exec(line);
        if (!kv) {
          issue(lineNo, `expected [section] or key = value in [[post-config|${section.header}]]`, 'one option per line, e.g. debug = True');
          return;
        }
        if (section.ini === undefined) {
          issue(lineNo, `option '${kv[1]}' comes before any [section] in [[post-config|${section.header}]]`, 'add a section line above it, e.g. [DEFAULT]');
          return;
        }
        const keyProblem = iniKeyProblem(kv[1]!);
        if (keyProblem) {
          issue(lineNo, `${keyProblem} (in [[post-config|${section.header}]])`, 'write the option as the service documents it, e.g. debug = True; a key never holds [ ] = : # ;');
          return;
        }
        post.push(Object.freeze({ target: section.target, section: section.ini, key: kv[1]!, value: kv[2]!, origin: `${file}:${lineNo}` }));
        return;
      }
    }
  });
}

/**
 * Reads a localrc or local.conf text. Pure: the environment is only read through `env`.
 * Throws one ConfigError listing every problem of the file.
 */
export function parseConfigText(text: string, fileName: string, env: Env = process.env): ParsedConfig {
  const lines = text.split('\n');
  const reader = new LocalrcReader(fileName, env, true);
  const postConfig: PostConfigEntry[] = [];
  const isLocalConf = lines.some((l) => META_LINE.test(l.replace(/\r$/, '')));
  if (isLocalConf) readLocalConf(lines, fileName, reader, postConfig);
  else lines.forEach((line, i) => reader.line(line, i + 1));
  reader.finish();
  if (reader.issues.length > 0) {
    throw new ConfigError([...reader.issues].sort((a, b) => lineOf(a.origin) - lineOf(b.origin)));
  }
  const settings = new Map<SettingName, Assignment>();
  const others = new Map<string, Assignment>();
  for (const [name, a] of reader.vars) {
    if (isSetting(name)) settings.set(name, a);
    else others.set(name, a);
  }
  return {
    file: fileName,
    kind: isLocalConf ? 'local.conf' : 'localrc',
    settings,
    others,
    services: Object.freeze([...reader.services]),
    postConfig: Object.freeze(postConfig),
    warnings: Object.freeze([...reader.warnings].sort((a, b) => lineOf(a.origin) - lineOf(b.origin))),
  };
}

const lineOf = (origin: string): number => Number(/:(\d+)$/.exec(origin)?.[1] ?? 0);

/**
 * Plain `NAME='value'` lines, as in the secrets file: no environment, no services, no references.
 * Returns the last value of each name with its origin; throws a ConfigError on syntax errors.
 */
export function parseAssignments(text: string, fileName: string): Map<string, { value: string; origin: string }> {
  const reader = new LocalrcReader(fileName, {}, false);
  text.split('\n').forEach((line, i) => reader.line(line, i + 1));
  if (reader.issues.length > 0) throw new ConfigError(reader.issues);
  const out = new Map<string, { value: string; origin: string }>();
  for (const [name, a] of reader.vars) out.set(name, { value: partsToString(a.parts), origin: a.origin });
  return out;
}

/** A schema default as parts: every ${NAME} in it is a reference to another setting. */
export function parseDefault(text: string): Part[] {
  const lookup: Lookup = (name) => (isSetting(name) ? [{ ref: name }] : undefined);
  const scanner = new WordScanner(text, lookup, 'a default', undefined);
  return scanner.word();
}
