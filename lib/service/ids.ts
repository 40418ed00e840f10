/**
 * The one place ids come from: `<prefix>-<n>`, unique within this process, never reused, so a
 * stale id can never name a newer process.
 */
let counter = 0;

/**
 * @example
 * nextId('proc'); // 'proc-1'
 */
export function nextId(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}
