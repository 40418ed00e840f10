// The layer rule of DESIGN.md, read from the source: a file under lib/ may import only from its
// own layer or the layers below it. Imports are found by the TypeScript compiler's own scanner
// (static, re-export, type-only and dynamic imports alike), not by a regular expression.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const LIB = resolve(import.meta.dirname, '../../lib');

// Bottom to top, one entry per floor; rooms sharing a floor may import each other. This is the
// order the code has: DESIGN.md's table lists process under sched, but spawn() validates its
// options with sched's checks and reports a failed child setup with sched's errors, so sched is
// the lower floor (it imports only the binding and lib/errors.ts).
const FLOORS: readonly (readonly string[])[] = [
  ['native.ts'],
  ['errors.ts', 'exit-status.ts', 'result.ts'],
  ['sched'],
  ['process'],
  ['thread'],
  ['child_process'],
  ['core'],
  ['events', 'runner'],
  ['daemon'],
  ['service'],
  ['api'],
  ['cli'],
  ['index.ts'],
];

/** The room a path under lib/ belongs to: its top folder, or the file itself at the top. */
function roomOf(path: string): string {
  // A specifier names the emitted file (`../errors.js`); the room is its source.
  return (relative(LIB, path).split(sep)[0] ?? '').replace(/\.js$/, '.ts');
}

function floorOf(room: string): number {
  return FLOORS.findIndex((rooms) => rooms.includes(room));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The lib/ rooms a file imports, with the specifier that names each. */
function importsOf(file: string): { to: string; spec: string }[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => ({ to: roomOf(resolve(dirname(file), spec)), spec }));
}

describe('layers', () => {
  const files = sourceFiles(LIB);

  it('every folder and top-level file under lib/ has a floor in the layer table', () => {
    const unknown = [...new Set(files.map(roomOf))].filter((room) => floorOf(room) < 0);
    expect(unknown, 'add these rooms to FLOORS here and to the table in DESIGN.md').toEqual([]);
  });

  it('no file imports from a layer above its own', () => {
    const upward: string[] = [];
    for (const file of files) {
      const from = roomOf(file);
      for (const { to, spec } of importsOf(file)) {
        if (floorOf(to) > floorOf(from)) upward.push(`${relative(LIB, file)} imports ${spec}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('the bottom of the house (errors, result) imports no layer, not even the binding', () => {
    const bottom = FLOORS[1] ?? [];
    const found = files
      .filter((f) => bottom.includes(roomOf(f)))
      .flatMap((f) =>
        importsOf(f)
          .filter(({ to }) => !bottom.includes(to))
          .map(({ spec }) => `${relative(LIB, f)} imports ${spec}`),
      );
    expect(found).toEqual([]);
  });

  it('the scanner sees the imports it judges (a known upward arrow would be caught)', () => {
    // Guards the test itself: if preProcessFile stopped reporting imports, every check above
    // would pass on an empty list.
    const spawn = importsOf(join(LIB, 'process/spawn.ts')).map(({ to }) => to);
    expect(spawn).toContain('sched');
    expect(floorOf('sched')).toBeLessThan(floorOf('process'));
  });
});
