// --import'ed by scripts/compat.js: the ESM half of hook.cjs. Registers resolve hooks that
// send `import ... from 'child_process'` (and 'node:child_process') to our facade.
import { register } from 'node:module';

if (process.env.CORE_COMPAT_TARGET) {
  register('./resolve-hooks.mjs', import.meta.url, {
    data: { target: process.env.CORE_COMPAT_TARGET },
  });
}
