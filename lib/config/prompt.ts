// Asks for one password on the terminal without echoing it. Blank means "generate one".

import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

export interface TtyPromptStreams {
  readonly input: NodeJS.ReadableStream;
  /** Where the question goes; stderr, so stdout stays clean for output that is piped. */
  readonly output: NodeJS.WritableStream;
}

/** A prompt for loadConfig's `prompt` option, reading from a TTY (stdin by default). */
export function ttyPrompt(streams: TtyPromptStreams = { input: process.stdin, output: process.stderr }) {
  return (name: string, doc: string): Promise<string> =>
    new Promise((resolve, reject) => {
      let muted = false;
      // readline echoes what it reads through its output stream: a stream that drops writes
      // while `muted` hides the typed characters but keeps the question visible.
      const sink = new Writable({
        write(chunk, encoding, done) {
          if (!muted) streams.output.write(chunk, encoding);
          done();
        },
      });
      const rl = createInterface({ input: streams.input, output: sink, terminal: true });
      let answered = false;
      rl.on('SIGINT', () => {
        rl.close();
      });
      rl.on('close', () => {
        if (!answered) {
          streams.output.write('\n');
          reject(new Error(`no answer for ${name}: input closed or interrupted`));
        }
      });
      streams.output.write(`${doc}\n`);
      rl.question(`${name} (hidden; leave blank to generate one): `, (answer) => {
        answered = true;
        muted = false;
        streams.output.write('\n');
        rl.close();
        resolve(answer);
      });
      muted = true;
    });
}
