/**
 * Listen addresses as people write them (`127.0.0.1:9464`, `[::1]:0`, `:8080`) and the URL
 * of a server listening on one. Shared by the health server, the API and the metrics server.
 */
import { describe } from '../errors.js';

/**
 * Splits `host:port` (IPv6 in brackets; an empty host means 127.0.0.1). Throws a TypeError
 * naming `op` and the value.
 *
 * @example
 * parseListenAddr('[::1]:9464', '--metrics'); // { host: '::1', port: 9464 }
 */
export function parseListenAddr(addr: string, op: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (m === null || port > 65535) {
    throw new TypeError(`${op}: addr must be 'host:port', got ${describe(addr)}`);
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/**
 * `http://host:port`, with an IPv6 host in brackets.
 *
 * @example
 * httpUrl('::1', 80); // 'http://[::1]:80'
 */
export function httpUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
