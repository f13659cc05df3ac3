// Edits to shell-style VAR=value files (rabbitmq-env.conf, /etc/sysconfig/*): one line per
// variable changed in place, the rest of the packaged file (comments, order) kept byte for byte.

import { quote } from './shell.ts';
import { escapeRegExp } from './regexp.ts';

/**
 * Set NAME=value: replace the active assignment if there is one, else add it right after the
 * packaged commented-out example (`#NAME=...`), else at the end. Applying it twice changes nothing.
 */
export function setShellVar(text: string, name: string, value: string): string {
  const line = `${name}=${quote(value)}`;
  const lines = text.split('\n');
  const active = new RegExp(`^(\\s*(?:export\\s+)?)${escapeRegExp(name)}=`);
  const idx = lines.findIndex((l) => active.test(l));
  if (idx >= 0) {
    const prefix = active.exec(lines[idx]!)![1]!;
    lines[idx] = `${prefix}${line}`;
    // A later duplicate would win when the shell reads the file: drop it.
    return lines.filter((l, i) => i <= idx || !active.test(l)).join('\n');
  }
  const commented = lines.findIndex((l) => new RegExp(`^\\s*#\\s*(?:export\\s+)?${escapeRegExp(name)}=`).test(l));
  if (commented >= 0) {
    lines.splice(commented + 1, 0, line);
    return lines.join('\n');
  }
  const body = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return `${body}${line}\n`;
}

/** The value of an active NAME=value line (quotes removed), or undefined. */
export function getShellVar(text: string, name: string): string | undefined {
  const m = new RegExp(`^\\s*(?:export\\s+)?${escapeRegExp(name)}=(.*)$`, 'm').exec(text);
  if (!m) return undefined;
  const raw = m[1]!.trim();
  if (/^'.*'$/.test(raw)) return raw.slice(1, -1).replace(/'\\''/g, "'");
  if (/^".*"$/.test(raw)) return raw.slice(1, -1);
  return raw;
}

/** Remove active NAME= lines (clean: back to the packaged default). */
export function deleteShellVar(text: string, name: string): string {
  const active = new RegExp(`^\\s*(?:export\\s+)?${escapeRegExp(name)}=`);
  return text
    .split('\n')
    .filter((l) => !active.test(l))
    .join('\n');
}
