// NoOp: the explicit opt-out. It takes every event and leaves no trace anywhere.
import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dispatch } from '../../lib/events/dispatch.js';
import { NoOp } from '../../lib/events/noop.js';
import { tempDir } from '../helpers.js';
import { validEvent } from './helpers.js';

const cwd = process.cwd();
afterEach(() => {
  process.chdir(cwd);
  vi.restoreAllMocks();
});

describe('NoOp', () => {
  it('good: resolves and counts as delivered', async () => {
    const noop = new NoOp();
    expect(noop.name).toBe('noop');
    await expect(noop.deliver(validEvent())).resolves.toBeUndefined();
    const r = await dispatch(validEvent(), [noop], { stderr: () => {} });
    expect(r).toMatchObject({ delivered: 1, failed: 0 });
  });

  it('bad: writes no file and prints nothing, even through dispatch with the default stderr', async () => {
    const dir = tempDir('core-events-noop-');
    process.chdir(dir);
    const out = vi.spyOn(process.stdout, 'write');
    const err = vi.spyOn(process.stderr, 'write');
    await new NoOp().deliver(validEvent());
    await dispatch(validEvent(), [new NoOp()]);
    expect(out).not.toHaveBeenCalled();
    expect(err).not.toHaveBeenCalled();
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(fs.existsSync(`${dir}/.core-process`)).toBe(false);
  });

  it('ugly: an aborted signal or an invalid-looking event changes nothing: it still resolves', async () => {
    const e = { ...validEvent(), name: '' };
    await expect(new NoOp().deliver(e, AbortSignal.abort())).resolves.toBeUndefined();
  });
});
