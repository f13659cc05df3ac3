/** `text` as a regular expression that matches exactly it (a key, a name, a server's name in Nova's regex filter). */
export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
