// A command that asks for input it will never get must end the run at once with its name, not
// sit until its timeout and be reported as "killed". stack.ts never gives a command a terminal:
// stdin is closed (or holds one secret line, then is closed), so a prompt that stays on screen
// while the command goes quiet means it waits for something no one will type (a second
// password, a confirmation, a tool that ignores the stdin it was given).

/** How long a command may stay silent after printing a prompt before it counts as waiting for input. */
export const PROMPT_SILENCE_MS = 3000;
const CHECK_EVERY_MS = 500;

// The last line of output, when it is a question: "Password:", "Confirm password: ",
// "Continue? [y/N]", "Enter passphrase for key '/k':", "(yes/no/[fingerprint])?".
const PROMPT_LINE =
  /(?:password|passphrase|passcode|pin|token|secret|user ?name|login|confirm\w*|continue|proceed|overwrite|replace|enter [^\n]*|\[y\/n\]|\(y\/n\)|\(yes\/no[^\n]*\))[^\n]{0,80}?[:?>\]]\s*$/i;

/** A secret for a command's stdin: exactly one line, with its terminating newline. */
export function secretLine(secret: string): string {
  return secret.endsWith('\n') ? secret : `${secret}\n`;
}

// A whole line that is only a password question ("Password:\n", as Elixir's IO.puts prints it).
const PROMPT_ONLY_LINE = /^[\w '-]{0,40}(?:password|passphrase)[\w '()-]{0,20}:\s*$/i;

/**
 * Pure: the prompt a command's output ends with, or undefined. Only a stream's last line counts:
 * an unfinished line that asks something, or - with finishedLines, for a command already past its
 * timeout - a finished line that only asks for a password (Elixir's IO.puts ends its prompt with a
 * newline, and a tool may print one before a slow step, so early on that alone proves nothing).
 */
export function trailingPrompt(streams: readonly string[], finishedLines = false): string | undefined {
  for (const text of streams) {
    const tail = text.slice(-400).replace(/\r\n?/g, '\n');
    const lines = tail.split('\n');
    const partial = lines.pop() ?? '';
    if (partial.trim() !== '') {
      if (PROMPT_LINE.test(partial)) return partial.trim();
      continue;
    }
    const last = lines.filter((l) => l.trim() !== '').pop();
    if (finishedLines && last !== undefined && PROMPT_ONLY_LINE.test(last)) return last.trim();
  }
  return undefined;
}

/**
 * Watches a running command's output; calls onWaiting(prompt) once when the output has ended in
 * a prompt and nothing came for PROMPT_SILENCE_MS. stop() when the command ends.
 */
export function watchForPrompt(
  output: () => readonly string[],
  onWaiting: (prompt: string) => void,
  silenceMs = PROMPT_SILENCE_MS,
): { touched(): void; stop(): void } {
  let lastOutputAt = Date.now();
  let fired = false;
  const timer = setInterval(() => {
    if (fired || Date.now() - lastOutputAt < silenceMs) return;
    const prompt = trailingPrompt(output());
    if (prompt === undefined) return;
    fired = true;
    clearInterval(timer);
    onWaiting(prompt);
  }, Math.min(CHECK_EVERY_MS, silenceMs));
  timer.unref();
  return {
    touched: () => {
      lastOutputAt = Date.now();
    },
    stop: () => clearInterval(timer),
  };
}
