// require() of an ES module graph is synchronous: Node refuses it (ERR_REQUIRE_ASYNC_MODULE) if
// any module the graph loads uses top-level await. This walks the graph our two entry points
// load, as compiled (every static import and re-export, not dynamic import(), which runs
// later), and names any top-level await with its file and line. require.test.ts proves the
// same at run time on each Node line, dependencies included, but with Node's message only.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { compiledDist } from './stage.js';

/** `await` / `for await` outside any function: the module's own evaluation waits on it. */
function topLevelAwaits(source: ts.SourceFile): number[] {
  const lines: number[] = [];
  const visit = (node: ts.Node): void => {
    // A function body (declaration, expression, arrow, method, accessor, constructor) runs
    // when called, not when the module loads.
    if (ts.isFunctionLike(node)) return;
    const awaited =
      ts.isAwaitExpression(node) ||
      (ts.isForOfStatement(node) && node.awaitModifier !== undefined) ||
      // `await using x = ...` (explicit resource management) waits at scope exit.
      (ts.isVariableDeclarationList(node) &&
        (node.flags & ts.NodeFlags.AwaitUsing) === ts.NodeFlags.AwaitUsing);
    if (awaited) lines.push(source.getLineAndCharacterOfPosition(node.getStart()).line + 1);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return lines;
}

function parse(file: string, text = readFileSync(file, 'utf8')): ts.SourceFile {
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
}

/** Specifiers a module loads before it runs: static imports and `export ... from`. */
function staticImports(source: ts.SourceFile): string[] {
  return source.statements.flatMap((s) =>
    (ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) &&
    s.moduleSpecifier !== undefined &&
    ts.isStringLiteral(s.moduleSpecifier)
      ? [s.moduleSpecifier.text]
      : [],
  );
}

/** Every module of ours the entry loads, and every package specifier it reaches. */
function loadGraph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of staticImports(parse(file))) {
      if (!spec.startsWith('.')) {
        packages.add(spec);
        continue;
      }
      const target = resolve(dirname(file), spec);
      if (!existsSync(target)) throw new Error(`${file} imports ${spec}: ${target} is missing`);
      walk(target);
    }
  };
  walk(entry);
  return { files: [...files], packages: [...packages] };
}

describe('no top-level await on the load path of the package entry points', () => {
  const dist = compiledDist();

  for (const entry of ['index.js', 'child_process/index.js']) {
    it(`${entry} and every module it loads evaluate without top-level await`, () => {
      const { files, packages } = loadGraph(resolve(dist, entry));
      const found = files.flatMap((f) =>
        topLevelAwaits(parse(f)).map((line) => `${relative(dist, f)}:${line}`),
      );
      expect(found, 'require() of the package would throw ERR_REQUIRE_ASYNC_MODULE').toEqual([]);
      // The walk reached the graph, not just the entry (lib/native.ts loads the addon).
      expect(files.map((f) => relative(dist, f))).toContain('native.js');
      expect(packages).toContain('node:module');
    });
  }

  it('the scan finds top-level await and ignores await inside functions', () => {
    // Guards the test itself: a scan that found nothing would pass everything above.
    const src = [
      'const a = await load();',
      'async function f() { await g(); }',
      'const h = async () => { for await (const x of y) {} };',
      'class C { async m() { await 1; } }',
      'for await (const line of lines) {}',
      'if (ready) { await using r = open(); }',
      'export default await x;',
    ].join('\n');
    expect(topLevelAwaits(parse('probe.js', src))).toEqual([1, 5, 6, 7]);
  });
});
