// OutputTail: the newest bytes of a spec's output, whole UTF-8 characters at the cut.
import { describe, expect, it } from 'vitest';
import { OutputTail } from '../../lib/runner/output.js';

describe('OutputTail', () => {
  it('good: keeps everything below the limit, in order', () => {
    const t = new OutputTail(10);
    t.append(Buffer.from('abc'));
    t.append(Buffer.from('def'));
    expect(t.text()).toBe('abcdef');
    expect(t.dropped).toBe(0);
  });

  it('good: keeps exactly the newest bytes across many chunks and one larger than the limit', () => {
    const t = new OutputTail(5);
    let all = '';
    for (const s of ['ab', 'cdef', 'g', 'hijklmnop', 'q']) {
      t.append(Buffer.from(s));
      all += s;
      expect(t.text()).toBe(all.slice(-5));
    }
    expect(t.dropped).toBe(all.length - 5);
  });

  it('ugly: a cut inside a multi-byte character drops its continuation bytes', () => {
    const t = new OutputTail(5);
    t.append(Buffer.from('ééé')); // 6 bytes; the newest 5 start mid-character
    expect(t.text()).toBe('éé');
  });

  it('ugly: a limit of 0 keeps nothing', () => {
    const t = new OutputTail(0);
    t.append(Buffer.from('abc'));
    expect(t.text()).toBe('');
    expect(t.dropped).toBe(3);
  });
});
