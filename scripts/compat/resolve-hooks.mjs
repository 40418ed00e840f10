// Module resolve hooks (run on Node's loader thread): builtin child_process -> the facade.
import { pathToFileURL } from 'node:url';

let targetUrl = '';

export function initialize(data) {
  targetUrl = pathToFileURL(data.target).href;
}

export function resolve(specifier, context, next) {
  // The facade itself never imports child_process, so there is no loop to guard against.
  if (specifier === 'child_process' || specifier === 'node:child_process') {
    return { url: targetUrl, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}
