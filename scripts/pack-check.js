#!/usr/bin/env node
// Proves the published tarball works without a compiler: `npm pack` (prepack runs
// prebuildify), install the tarball into an empty project with every compiler replaced by
// /bin/false, then spawn a real child through the installed package, from import and require().
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(path.join(tmpdir(), 'core-process-pack-'));
const run = (cmd, args, cwd, env = process.env) =>
  execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

try {
  console.log('pack-check: npm pack (prebuildify runs in prepack) ...');
  // prepack's own output precedes npm's JSON on stdout; the JSON is the last top-level array.
  const output = run('npm', ['pack', '--json', '--pack-destination', work], root);
  const packed = JSON.parse(output.slice(output.lastIndexOf('\n[\n') + 1));
  const tarball = path.join(work, packed[0].filename);
  const files = packed[0].files.map((f) => f.path);
  // Every prebuild the README's platform table promises (scripts/prebuild-all.js makes them).
  const promised = [
    'prebuilds/linux-x64/@core+process.glibc.node',
    'prebuilds/linux-arm64/@core+process.glibc.node',
    'prebuilds/linux-x64/@core+process.musl.node',
    'prebuilds/linux-arm64/@core+process.musl.node',
    // The PID-namespace init beside them (lib/process/pidns.ts finds it next to the addon).
    'prebuilds/linux-x64/core-process-init',
    'prebuilds/linux-arm64/core-process-init',
  ];
  const prebuilds = packed[0].files.filter((f) => f.path.startsWith('prebuilds/'));
  console.log('pack-check: prebuilds in the tarball:');
  for (const f of prebuilds) console.log(`  ${f.path} (${(f.size / 1024).toFixed(0)} KiB)`);
  const absent = promised.filter((f) => !files.includes(f));
  if (absent.length > 0)
    throw new Error(`pack-check: missing from the tarball: ${absent.join(', ')}`);
  const prebuild = promised[0];
  for (const f of files) {
    if (
      /^(test|bench|build|build-\w+|scripts|node_modules)\//.test(f) &&
      f !== 'scripts/install.js'
    ) {
      throw new Error(`pack-check: ${f} should not be published`);
    }
  }

  const app = path.join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(path.join(app, 'package.json'), '{"name":"app","private":true,"type":"module"}');
  const noCompiler = { ...process.env, CC: '/bin/false', CXX: '/bin/false', MAKE: '/bin/false' };
  console.log('pack-check: installing the tarball with every compiler set to /bin/false ...');
  run('npm', ['install', '--no-audit', '--no-fund', tarball], app, noCompiler);
  const installed = path.join(app, 'node_modules', '@core', 'process');
  if (existsSync(path.join(installed, 'build'))) {
    throw new Error('pack-check: the install compiled the addon instead of using the prebuild');
  }
  writeFileSync(
    path.join(app, 'smoke.mjs'),
    "import { run } from '@core/process';\n" +
      "const r = await run('sh', ['-c', 'echo packed-ok; exit 0']);\n" +
      'console.log(r.stdout.trim(), r.status.code);\n',
  );
  const out = run('node', ['smoke.mjs'], app).trim();
  if (out !== 'packed-ok 0')
    throw new Error(`pack-check: smoke test printed ${JSON.stringify(out)}`);
  // CommonJS users of the same install: require() of both entry points (Node 20.19+/22.12+).
  writeFileSync(
    path.join(app, 'smoke.cjs'),
    "const { run } = require('@core/process');\n" +
      "const { spawnSync } = require('@core/process/child_process');\n" +
      "const s = spawnSync('sh', ['-c', 'exit 4']);\n" +
      "run('sh', ['-c', 'echo required-ok']).then((r) => console.log(r.stdout.trim(), s.status));\n",
  );
  const cjs = run('node', ['smoke.cjs'], app).trim();
  if (cjs !== 'required-ok 4')
    throw new Error(`pack-check: the require() smoke test printed ${JSON.stringify(cjs)}`);
  console.log(
    `pack-check: ok (${files.length} files, prebuild ${prebuild}; ` +
      `installed without compiling: ${readdirSync(installed).join(' ')})`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
  // prebuildify rebuilds in build/ and leaves prebuilds/ behind; put the tree back as
  // `npm install` left it, so later runs load the local build, never a stale prebuild.
  rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true });
  if (!existsSync(path.join(root, 'build', 'Release', 'core_process.node'))) {
    execFileSync('npx', ['node-gyp', 'rebuild'], { cwd: root, stdio: 'ignore' });
  }
}
