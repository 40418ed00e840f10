/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table and the zod
 * schemas the actions validate their input with and declare their value with: the
 * description is the validation, and a client generated from it gets real types and method
 * names. The events WebSocket, which OpenAPI cannot describe, is the `x-websocket` extension.
 */
import { z } from 'zod';
import type { Core } from '../core/core.js';
import { supervisorStatusSchema } from '../service/daemons.js';
import {
  capturedOutputSchema,
  exitStatusSchema,
  processSnapshotSchema,
  resourceUsageSchema,
} from '../service/schemas.js';
import { apiErrorBodySchema } from './errors.js';
import { wsClientMessageSchema, wsServerMessageSchema, wsTopicPayloads } from './events-schema.js';
import { SLOW_CLIENT_CLOSE } from './events-ws.js';
import { errorStatuses, ROUTES, type Route } from './routes.js';

const BASE = '/api/process';

const ERROR_TEXT: Record<number, string> = {
  400: 'bad input: names the field (or a malformed bearer token: invalid_request)',
  401: 'no bearer token, or a wrong one (WWW-Authenticate says which, RFC 6750)',
  403: 'a good token without the right: not entitled, or refused by the policy',
  404: 'unknown id or name (or a program not in PATH)',
  408: 'timed out waiting (the process keeps running)',
  409: 'conflict with the current state',
  413: 'body larger than the limit',
  414: 'a path parameter longer than the router takes',
  415: 'the body is not application/json',
  422: 'the command could not be spawned, or it ran and failed (exit code, signal, output)',
  500: 'a fault of the server',
  501: 'this core does not have the action (or the platform lacks the feature)',
};

// Values that recur are named components, so a generated client has a type to name
// (components['schemas']['ProcessSnapshot']) instead of one anonymous copy per operation.
const NAMED = z.registry<{ id: string }>();
NAMED.add(processSnapshotSchema, { id: 'ProcessSnapshot' });
NAMED.add(capturedOutputSchema, { id: 'CapturedOutput' });
NAMED.add(exitStatusSchema, { id: 'ExitStatus' });
NAMED.add(resourceUsageSchema, { id: 'ResourceUsage' });
NAMED.add(supervisorStatusSchema, { id: 'DaemonStatus' });
NAMED.add(apiErrorBodySchema, { id: 'Error' });

type Components = Record<string, unknown>;

/**
 * A schema as JSON Schema. Outputs use the named components: zod puts them in `$defs`, and
 * they move to `components` (`#/$defs/X` -> `#/components/schemas/X`). Inputs stay inline:
 * an input's JSON Schema can differ from the same schema's output (defaults, loose objects).
 */
function jsonSchema(
  schema: z.ZodType,
  io: 'input' | 'output',
  components?: Components,
): Record<string, unknown> {
  const converted = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    ...(components === undefined ? {} : { metadata: NAMED }),
  });
  const {
    $schema: _drop,
    $defs,
    ...rest
  } = JSON.parse(
    JSON.stringify(converted).replaceAll('"#/$defs/', '"#/components/schemas/'),
  ) as Record<string, unknown> & { $defs?: Components };
  if (components !== undefined) Object.assign(components, $defs);
  return rest;
}

/**
 * `process.get` -> `processGet`, `daemon.health` -> `daemonHealth`: the method name a
 * generated client gives the operation.
 *
 * @example
 * operationIdOf({ action: 'process.close-stdin' }); // 'processCloseStdin'
 */
export function operationIdOf(route: Pick<Route, 'action' | 'operationId'>): string {
  return (
    route.operationId ??
    route.action.replace(/[.\-_]+([a-z0-9])/gi, (_, c: string) => c.toUpperCase())
  );
}

// An action replaced by one without an output schema (core.action(name, h, { replace }))
// still gets its operation: described as undeclared rather than failing the whole document.
function responseSchema(core: Core, route: Route, components: Components): Record<string, unknown> {
  const schema = route.response ?? core.action(route.action).def()?.output;
  if (schema === undefined) return { description: `action ${route.action} declares no schema` };
  return jsonSchema(schema, 'output', components);
}

function websocket(components: Components): Record<string, unknown> {
  return {
    [`${BASE}/events`]: {
      summary: 'Bus events as JSON messages, one per WebSocket text frame',
      description:
        'Authenticate with Authorization: Bearer or ?token=. Subscribe with ?topics=a,b (and ?id= to narrow process.output) or by sending client messages; every event, acknowledgement and error comes back as one server message.',
      query: {
        topics: { type: 'string', description: 'comma-separated topic globs' },
        id: { type: 'string', description: 'only process.output of this managed process' },
        token: { type: 'string', description: 'the bearer token, for browsers' },
      },
      clientMessage: jsonSchema(wsClientMessageSchema, 'input'),
      serverMessage: jsonSchema(wsServerMessageSchema, 'output', components),
      topics: Object.fromEntries(
        Object.entries(wsTopicPayloads).map(([topic, s]) => [
          topic,
          jsonSchema(s, 'output', components),
        ]),
      ),
      closeCodes: {
        1000: 'the client closed',
        1011: 'socket error',
        [SLOW_CLIENT_CLOSE]: 'too slow: more unsent data than the server keeps',
      },
    },
  };
}

/**
 * @example
 * const doc = openApiDocument(core, '0.1.0');
 * doc.paths['/api/process/processes/{id}'].get.operationId; // 'processGet'
 */
export function openApiDocument(core: Core, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const components: Components = {};
  jsonSchema(apiErrorBodySchema, 'output', components);
  const ids = new Set<string>();
  for (const route of ROUTES) {
    const path = `${BASE}${route.path.replace(/:(\w+)/g, '{$1}')}`;
    const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const def = core.action(route.action).def();
    const input = route.method === 'POST' ? (route.body ?? def?.schema) : undefined;
    const operationId = operationIdOf(route);
    if (ids.has(operationId)) {
      throw new TypeError(`openApiDocument: operationId ${operationId} is used twice`);
    }
    ids.add(operationId);
    const ok = String(route.status ?? 200);
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = {
      operationId,
      summary: route.summary,
      description: def?.description ?? `action ${route.action}`,
      'x-core-action': route.action,
      security: [{ bearer: [] }],
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(input !== undefined
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: jsonSchema(input, 'input') } },
            },
          }
        : {}),
      responses: {
        [ok]: {
          description: 'the action’s value',
          content: { 'application/json': { schema: responseSchema(core, route, components) } },
        },
        ...Object.fromEntries(
          errorStatuses(route).map((code) => [
            String(code),
            {
              description: ERROR_TEXT[code] ?? 'error',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
            },
          ]),
        ),
      },
    };
  }
  const ws = websocket(components);
  return {
    openapi: '3.1.0',
    info: { title: '@core/process API', version },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: components,
    },
    paths,
    'x-websocket': ws,
  };
}
