// TypeScript users: the declarations of both entry points resolve, for import and for
// require, under the resolutions we support: node16 / nodenext (Node's own rules) and bundler.
// The consumers are test/fixtures/consumer-types/, compiled against the package as staged by
// stage.ts (its real `exports` map over the run's compiled lib/ with .d.ts). Each file has
// lines that expect a type error, which fail the check if the types resolved to `any`.
import path from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../subprocess.js';
import { compiledDist, stageConsumer } from './stage.js';

const stage = stageConsumer(['consumer-types']);
afterAll(() => stage.cleanup());
const dir = path.join(stage.dir, 'consumer-types');

interface Checked {
  errors: string[];
  /** Declaration files of ours the program loaded, relative to the compiled lib/. */
  ours: string[];
}

function check(files: string[], options: Record<string, unknown>): Checked {
  const { options: parsed, errors } = ts.convertCompilerOptionsFromJson(
    {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: 'es2022',
      lib: ['es2023'],
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      ...options,
    },
    dir,
  );
  if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, host));
  const program = ts.createProgram(
    files.map((f) => path.join(dir, f)),
    parsed,
  );
  const dist = compiledDist();
  return {
    errors: ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file
        ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1} `
        : '';
      return `${where}TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    }),
    ours: program
      .getSourceFiles()
      .map((s) => path.relative(dist, s.fileName))
      .filter((f) => f === 'index.d.ts' || f === 'child_process/index.d.ts')
      .sort(),
  };
}

const host: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => dir,
  getNewLine: () => '\n',
};
const both = ['child_process/index.d.ts', 'index.d.ts'];

// Each check builds a program over @types/node: seconds apiece on a loaded machine.
describe('types of @core/process and @core/process/child_process', { timeout: 120_000 }, () => {
  it('nodenext: import from ESM and import = require() from CommonJS both type-check', () => {
    const r = check(['esm.mts', 'cjs.cts'], { module: 'nodenext', moduleResolution: 'nodenext' });
    expect(r).toEqual({ errors: [], ours: both });
  });

  it('node16: import, and import type from CommonJS, type-check; a value require() is refused', () => {
    // node16 models a Node without require(esm): a CommonJS file gets the types through
    // `import type ... with { 'resolution-mode': 'import' }`, and a value require() is
    // TypeScript's own refusal naming why (TS1471), not a missing declaration.
    // docs/platforms.md says so (use nodenext or node20 for require()).
    const r = check(['esm.mts', 'cjs-types.cts', 'cjs.cts'], {
      module: 'node16',
      moduleResolution: 'node16',
    });
    expect(r.ours).toEqual(both);
    expect(r.errors.map((e) => e.split(' ').slice(0, 2).join(' '))).toEqual([
      'cjs.cts:3 TS1471',
      'cjs.cts:4 TS1471',
    ]);
  });

  it('bundler: import from ESM and import = require() under module preserve type-check', () => {
    const r = check(['esm.mts', 'preserve.cts'], {
      module: 'preserve',
      moduleResolution: 'bundler',
    });
    expect(r).toEqual({ errors: [], ours: both });
  });
});
