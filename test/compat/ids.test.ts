// uid/gid as nobody: root only (switching users needs CAP_SETUID); as another user both
// implementations refuse synchronously with EPERM.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { asRoot } from '../optional.js';
import { collect, IMPLS } from './impls.js';

const NOBODY = 65534;
const { describeRoot } = asRoot('spawning as uid/gid nobody');

describeRoot.each(IMPLS)('%s: uid and gid', (_name, cp) => {
  it('the child runs as nobody (id -u, id -g) and has no supplementary root group', async () => {
    const child = cp.spawn('sh', ['-c', 'id -u; id -g; id -G'], { uid: NOBODY, gid: NOBODY });
    const out = (await collect(child.stdout)).trim().split('\n');
    expect(out).toEqual([String(NOBODY), String(NOBODY), String(NOBODY)]);
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});

describe.each(IMPLS)('%s: uid refused without privilege', (_name, cp) => {
  it.skipIf(process.getuid?.() === 0)('spawn with another uid throws spawn EPERM', () => {
    const other = process.getuid?.() === NOBODY ? 0 : NOBODY;
    expect(() => cp.spawn('true', [], { uid: other })).toThrow(
      expect.objectContaining({ code: 'EPERM', syscall: 'spawn' }),
    );
  });
});
