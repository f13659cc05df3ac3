// Ctrl-C / SIGTERM: cleanups run and the exit code says which signal; a package transaction in
// progress is waited for, never cut in half. Run in a child process that gets the real signal.
import { execa } from 'execa';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..', '..');
const TSX = join(REPO, 'node_modules', '.bin', 'tsx');

const child = (body: string) =>
  execa(TSX, ['-e', `import { handleInterrupts, onInterrupt, uninterruptible } from ${JSON.stringify(join(REPO, 'lib', 'interrupt.ts'))};\n${body}`], {
    reject: false,
    all: true,
  });

const waitFor = async (p: ReturnType<typeof child>, text: string) => {
  let seen = '';
  await new Promise<void>((res) => {
    p.all!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) res();
    });
  });
};

describe('interrupts', () => {
  it('SIGTERM while nothing critical runs: cleanups (last first), exit 143', async () => {
    const p = child(`
      handleInterrupts((l) => console.log(l));
      onInterrupt(async () => console.log('cleanup-1'));
      onInterrupt(async () => console.log('cleanup-2'));
      console.log('ready');
      setInterval(() => {}, 1000);
    `);
    await waitFor(p, 'ready');
    p.kill('SIGTERM');
    const r = await p;
    expect(r.exitCode).toBe(143);
    expect(r.all).toMatch(/SIGTERM: stopping[\s\S]*cleanup-2\s+cleanup-1/);
  });

  // SIGTERM, not SIGINT: a shell's background job (how CI and tools start vitest) inherits SIGINT ignored.
  it('SIGTERM during a package transaction: it finishes first, then the cleanups; a second signal is told so', async () => {
    const p = child(`
      handleInterrupts((l) => console.log(l));
      onInterrupt(async () => console.log('cleanup'));
      void uninterruptible(async () => { console.log('dpkg running'); await new Promise((r) => setTimeout(r, 3000)); console.log('dpkg done'); });
      setInterval(() => {}, 1000);
    `);
    await waitFor(p, 'dpkg running');
    p.kill('SIGTERM');
    await waitFor(p, 'waiting for the package transaction');
    p.kill('SIGTERM');
    const r = await p;
    expect(r.exitCode).toBe(143);
    const out = r.all ?? '';
    expect(out).toContain('already stopping, waiting for the package transaction');
    expect(out.indexOf('dpkg done')).toBeLessThan(out.indexOf('cleanup'));
    expect(out.indexOf('dpkg done')).toBeGreaterThan(out.indexOf('waiting for the package transaction'));
  });
});
