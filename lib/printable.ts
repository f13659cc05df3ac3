// Text from the user's files and from hosts is shown on the user's terminal. Control bytes in it
// (ESC sequences that recolour, move the cursor or retitle the window, a CR that hides what came
// before) are shown escaped, \x1b, never sent raw.

/** `text` with every control character except line breaks and tabs written as \xNN. */
// eslint-disable-next-line no-control-regex
export const printable = (text: string): string => text.replace(/[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** One line of it: line breaks escaped too (a value is one line). */
export const printableLine = (text: string): string => printable(text).replace(/[\n\t]/g, (c) => (c === '\n' ? '\\n' : '\\t'));
