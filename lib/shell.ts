// POSIX shell quoting for commands sent to a host's /bin/sh (dash on Debian).
// Not zx's quote: it emits bash's $'...' form, which dash does not understand.

export const quote = (arg: string): string =>
  /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;

/** Join argv into one shell command, quoting each word. */
export const sh = (...argv: readonly string[]): string => argv.map(quote).join(' ');
