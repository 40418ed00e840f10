/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table and the zod
 * schemas the actions validate with: the description is the validation.
 */
import { z } from 'zod';
import type { Core } from '../core/core.js';
import { ROUTES } from './routes.js';

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        kind: { type: 'string' },
        message: { type: 'string' },
        field: { type: 'string' },
      },
      required: ['kind', 'message'],
    },
  },
  required: ['error'],
};

function jsonSchema(schema: z.ZodType | undefined): Record<string, unknown> | undefined {
  if (schema === undefined) return undefined;
  try {
    const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
      io: 'input',
      unrepresentable: 'any',
    });
    return rest;
  } catch {
    return {};
  }
}

/**
 * @example
 * const doc = openApiDocument(core, '0.1.0'); // doc.paths['/api/process/processes'].post
 */
export function openApiDocument(core: Core, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const path = `/api/process${route.path.replace(/:(\w+)/g, '{$1}')}`;
    const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const def = core.action(route.action).def();
    const body = route.method === 'POST' ? jsonSchema(route.body ?? def?.schema) : undefined;
    const ok = String(route.status ?? 200);
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[/:-](\w)/g, (_, c: string) => c.toUpperCase())}`,
      summary: route.summary,
      description: def?.description ?? `action ${route.action}`,
      'x-core-action': route.action,
      security: [{ bearer: [] }],
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(body !== undefined
        ? { requestBody: { required: true, content: { 'application/json': { schema: body } } } }
        : {}),
      responses: {
        [ok]: {
          description: 'the action’s value',
          content: { 'application/json': { schema: {} } },
        },
        ...Object.fromEntries(
          [
            ['400', 'bad input: names the field (or a malformed bearer token: invalid_request)'],
            ['401', 'no bearer token, or a wrong one (WWW-Authenticate says which, RFC 6750)'],
            ['403', 'a good token without the right: not entitled, or refused by the policy'],
            ['404', 'unknown id or name'],
            ['409', 'conflict with the current state'],
            ['413', 'body larger than the limit'],
          ].map(([code, text]) => [
            code,
            {
              description: text,
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
            },
          ]),
        ),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: '@core/process API', version },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: errorSchema },
    },
    paths,
  };
}
