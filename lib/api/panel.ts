/**
 * The web panel's files: plain ES modules, CSS and HTML shipped in `panel/` (no build step),
 * served from a fixed list read once, so no request path ever reaches the filesystem.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface PanelFile {
  type: string;
  body: Buffer;
}

/** `panel/` of this package: two levels up from dist/api/ (and from lib/api/ in tests). */
export function panelDir(): string {
  return fileURLToPath(new URL('../../panel/', import.meta.url));
}

/**
 * Every servable file under the panel directory, keyed by URL path (`/`, `/panel.js`...).
 *
 * @example
 * const files = loadPanel(); files.get('/')?.type; // 'text/html; charset=utf-8'
 */
export function loadPanel(dir = panelDir()): Map<string, PanelFile> {
  const files = new Map<string, PanelFile>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel))) {
      const relPath = path.posix.join(rel, name);
      const full = path.join(dir, relPath);
      if (statSync(full).isDirectory()) walk(relPath);
      else {
        const type = TYPES[path.extname(name)];
        if (type !== undefined) files.set(`/${relPath}`, { type, body: readFileSync(full) });
      }
    }
  };
  try {
    walk('');
  } catch {
    return files; // no panel shipped: the API still works
  }
  const index = files.get('/index.html');
  if (index !== undefined) files.set('/', index);
  return files;
}
