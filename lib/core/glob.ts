/**
 * Glob matching for dotted names (action names, event topics): `*` is one segment, `**` any
 * number of segments, so `process.*` matches `process.run` but not `process.output.chunk`.
 * picomatch matches paths, so dots are mapped to slashes; the lone pattern `*` means
 * everything, because that is what people mean when they subscribe to `*`.
 */
import picomatch from 'picomatch';

export type NameMatcher = (name: string) => boolean;

/**
 * @example
 * const m = globMatcher('plugin.*.panic');
 * m('plugin.audit.panic'); // true
 */
export function globMatcher(pattern: string): NameMatcher {
  if (pattern === '*' || pattern === '**') return () => true;
  const isMatch = picomatch(pattern.replaceAll('.', '/'), { dot: true });
  return (name) => isMatch(name.replaceAll('.', '/'));
}
