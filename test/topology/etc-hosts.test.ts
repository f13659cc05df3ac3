import { describe, expect, it } from 'vitest';
import { BEGIN, END, stripBlock, withBlock } from '../../lib/etc-hosts.ts';

const ORIGINAL = '127.0.0.1\tlocalhost\n127.0.1.1\th1\n';

describe('the /etc/hosts block', () => {
  it('adds the missing names in one marked block, replaces it on a re-run, and strips back to the original', () => {
    const once = withBlock(ORIGINAL, new Map([['h2', '10.0.0.12'], ['h3', '10.0.0.13']]));
    expect(once).toBe(`${ORIGINAL}\n${BEGIN}\n10.0.0.12\th2\n10.0.0.13\th3\n${END}\n`);
    const again = withBlock(once, new Map([['h3', '10.0.0.99']]));
    expect(again.match(/BEGIN stack\.ts/g)).toHaveLength(1);
    expect(again).toContain('10.0.0.99\th3');
    expect(again).not.toContain('h2');
    expect(stripBlock(again)).toBe(ORIGINAL);
    expect(withBlock(ORIGINAL, new Map())).toBe(ORIGINAL);
  });

  it('keeps what the user wrote after the block', () => {
    const mine = `${withBlock(ORIGINAL, new Map([['h2', '10.0.0.12']]))}10.1.1.1\tprinter\n`;
    expect(stripBlock(mine)).toBe(`${ORIGINAL}10.1.1.1\tprinter\n`);
  });
});
