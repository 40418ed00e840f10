// The published contract, held against what the server really sends: the OpenAPI document is
// fetched from the running server like any client would, and every JSON answer (status and
// body) and every WebSocket frame the API tests receive is validated against the schema the
// document gives for it, with Ajv in the JSON Schema 2020-12 dialect of OpenAPI 3.1.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

interface Operation {
  pattern: RegExp;
  method: string;
  template: string;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

interface OpenApiDoc {
  paths: Record<string, Record<string, Omit<Operation, 'pattern' | 'method' | 'template'>>>;
  components: { schemas: Record<string, unknown> };
  'x-websocket': Record<
    string,
    { serverMessage: unknown; clientMessage: unknown; topics: Record<string, unknown> }
  >;
}

export interface Contract {
  /**
   * Throws naming the route, the status and the first broken field unless the answer fits
   * (its content type included: a documented JSON answer sent as text does not).
   */
  checkResponse(
    method: string,
    path: string,
    status: number,
    body: unknown,
    contentType?: string,
  ): void;
  /** Throws unless the frame is a documented server message (and its payload fits its topic). */
  checkFrame(frame: unknown): void;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&');

function explain(v: ValidateFunction): string {
  return (v.errors ?? [])
    .slice(0, 3)
    .map((e) => `${e.instancePath || '(root)'} ${e.message} ${JSON.stringify(e.params)}`)
    .join('; ');
}

/** Builds a Contract from a fetched document. */
export function contractOf(doc: OpenApiDoc): Contract {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const cache = new Map<unknown, ValidateFunction>();
  // Schemas refer to '#/components/...': compiled with the components beside them.
  const compile = (schema: unknown) => {
    let v = cache.get(schema);
    if (v === undefined) {
      v = ajv.compile({ ...(schema as object), components: doc.components });
      cache.set(schema, v);
    }
    return v;
  };
  const ops: Operation[] = Object.entries(doc.paths).flatMap(([template, byMethod]) =>
    Object.entries(byMethod).map(([method, op]) => ({
      ...op,
      template,
      method: method.toUpperCase(),
      pattern: new RegExp(`^${escapeRegExp(template).replace(/\{\w+\}/g, '[^/]+')}$`),
    })),
  );
  const errorSchema = { $ref: '#/components/schemas/Error' };
  const ws = Object.values(doc['x-websocket'])[0];
  if (ws === undefined) throw new Error('the document has no x-websocket entry');

  return {
    checkResponse(method, path, status, body, contentType = 'application/json') {
      const pathname = new URL(path, 'http://x').pathname;
      const op = ops.find((o) => o.method === method && o.pattern.test(pathname));
      if (op === undefined) {
        // Not a documented operation (unknown route, the panel, the document itself): its
        // errors still have the one error shape.
        if (status >= 400 && typeof body === 'object' && body !== null) {
          const v = compile(errorSchema);
          if (!v(body))
            throw new Error(`${method} ${pathname} ${status}: not an Error body: ${explain(v)}`);
        }
        return;
      }
      const response = op.responses[String(status)];
      if (response === undefined) {
        throw new Error(
          `${method} ${op.template}: status ${status} is not documented (documented: ${Object.keys(op.responses).join(', ')}); body ${JSON.stringify(body).slice(0, 300)}`,
        );
      }
      const schema = response.content?.['application/json']?.schema;
      if (schema === undefined) return;
      if (!contentType.includes('application/json')) {
        throw new Error(
          `${method} ${op.template} ${status}: sent as ${contentType || 'no content type'}, documented as application/json`,
        );
      }
      const v = compile(schema);
      if (!v(body)) {
        throw new Error(
          `${method} ${op.template} ${status}: the body does not fit the documented schema: ${explain(v)}; body ${JSON.stringify(body).slice(0, 300)}`,
        );
      }
    },
    checkFrame(frame) {
      const v = compile(ws.serverMessage);
      if (!v(frame)) {
        throw new Error(`WebSocket frame not documented: ${explain(v)}; ${JSON.stringify(frame)}`);
      }
      const { topic, payload } = frame as { topic?: unknown; payload?: unknown };
      const payloadSchema = typeof topic === 'string' ? ws.topics[topic] : undefined;
      if (payloadSchema === undefined) return;
      const p = compile(payloadSchema);
      if (!p(payload)) {
        throw new Error(
          `${String(topic)} payload does not fit: ${explain(p)}; ${JSON.stringify(payload)}`,
        );
      }
    },
  };
}

const byServer = new Map<string, Promise<Contract>>();

/** Forgets a closed server's contract (a later server may get its port). */
export function forgetContract(url: string): void {
  byServer.delete(url);
}

/** The contract of the server at `url` (its /openapi.json, fetched once). */
export function contractAt(url: string): Promise<Contract> {
  let c = byServer.get(url);
  if (c === undefined) {
    c = fetch(`${url}/api/process/openapi.json`).then(async (res) => {
      if (res.status !== 200) throw new Error(`GET openapi.json: ${res.status}`);
      return contractOf((await res.json()) as OpenApiDoc);
    });
    byServer.set(url, c);
  }
  return c;
}
