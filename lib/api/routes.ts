/**
 * The REST routes: each one is a core action with its input taken from the path and body.
 * The table drives both the server and the OpenAPI document, so they cannot disagree.
 */
import { z } from 'zod';
import { supervisorStatusSchema } from '../service/daemons.js';

export interface RouteRequest {
  params: Record<string, string>;
  body: unknown;
  query: URLSearchParams;
}

export interface Route {
  method: 'GET' | 'POST';
  /** Under /api/process, fastify syntax (`/processes/:id`). */
  path: string;
  action: string;
  summary: string;
  /** The action input from the request. */
  input(req: RouteRequest, core: { name: string }): unknown;
  /** Success status; default 200. */
  status?: number;
  /** Schema of the request body, when it is not the action's input as is. */
  body?: z.ZodType;
  /** Turns the action's value into the response (and may refuse it with a conflict). */
  output?(value: unknown, core: { name: string }): { status?: number; body: unknown };
  /** Schema of the success body when `output` reshapes the value; else the action's output. */
  response?: z.ZodType;
  /** Client method name when the action's own (`process.get` -> `processGet`) is taken. */
  operationId?: string;
  /** Error statuses this route answers besides the ones every route may (see errorStatuses). */
  errors?: readonly number[];
}

/**
 * Every error status a route may answer: bad input, auth, server faults, an action missing
 * from this core (501), 404 and 414 (a path parameter over the router's length limit) where
 * the path names something, 413 and 415 where there is a body, and the route's own.
 *
 * @example
 * errorStatuses(route); // [400, 401, 403, 404, 409, 413, 414, 415, 500, 501] for the kill route
 */
export function errorStatuses(route: Route): number[] {
  const all = new Set([400, 401, 403, 500, 501, ...(route.errors ?? [])]);
  if (route.path.includes(':')) {
    all.add(404);
    all.add(414);
  }
  if (route.method === 'POST') {
    all.add(413);
    all.add(415);
  }
  return [...all].sort((a, b) => a - b);
}

const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

// The API names a daemon code/daemon; the service's daemons live under the core's name (the
// server answers 404 for any other code before the action runs).
function daemonName(req: RouteRequest): { name: string } {
  return { name: req.params.daemon ?? '' };
}

const withCode = (core: { name: string }) => (s: unknown) => ({
  code: core.name,
  daemon: obj(s).name,
  ...obj(s),
});
const daemonView = supervisorStatusSchema.extend({
  code: z.string().describe('the core the daemon runs under'),
  daemon: z.string().describe('its name (the same as name)'),
});

export const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/processes',
    action: 'process.list',
    summary: 'Every managed process',
    input: () => undefined,
  },
  {
    method: 'POST',
    path: '/processes',
    action: 'process.start',
    summary: 'Start a managed process (spawn options); 201 { id }',
    input: (r) => r.body,
    status: 201,
    // 404: the program is not in PATH; 422: it could not be spawned.
    errors: [404, 422],
  },
  {
    method: 'POST',
    path: '/processes/run',
    action: 'process.run',
    summary:
      "Run a command to completion and answer its combined output ({ output }), or { stdout, stderr } with output: 'separate'; a non-zero exit or a signal is 422 with the output",
    input: (r) => r.body,
    // A bare JSON string is not a body most clients parse: the text goes in an object.
    output: (v) => ({ body: typeof v === 'string' ? { output: v } : v }),
    // One object (not a union) so generated clients get one type: `output` by default,
    // `stdout` and `stderr` with output: 'separate'.
    response: z.object({
      output: z.string().optional().describe('stdout and stderr, in the order written'),
      stdout: z.string().optional(),
      stderr: z.string().optional(),
    }),
    errors: [404, 422],
  },
  {
    method: 'GET',
    path: '/processes/:id',
    action: 'process.get',
    summary: 'One process',
    input: (r) => ({ id: r.params.id }),
  },
  {
    method: 'GET',
    path: '/processes/:id/output',
    action: 'process.output',
    summary: 'Captured stdout and stderr (ring buffers)',
    input: (r) => ({ id: r.params.id }),
  },
  {
    method: 'POST',
    path: '/processes/:id/wait',
    action: 'process.wait',
    summary: 'Wait for exit; 408 after `timeout` ms',
    input: (r) => ({ ...obj(r.body), id: r.params.id }),
    body: z.object({ timeout: z.number().nonnegative().optional() }),
    errors: [408],
  },
  {
    method: 'POST',
    path: '/processes/:id/input',
    action: 'process.input',
    summary: 'Write to stdin',
    input: (r) => ({ id: r.params.id, data: obj(r.body).data }),
    body: z.object({ data: z.string() }),
    errors: [409],
  },
  {
    method: 'POST',
    path: '/processes/:id/close-stdin',
    action: 'process.input',
    summary: 'Close stdin',
    input: (r) => ({ id: r.params.id, close: true }),
    body: z.object({}),
    operationId: 'processCloseStdin',
    errors: [409],
  },
  {
    method: 'POST',
    path: '/processes/:id/kill',
    action: 'process.kill',
    summary: 'Signal the process (its group when it leads one); 409 once it has exited',
    input: (r) => ({ id: r.params.id, signal: obj(r.body).signal ?? 'SIGTERM' }),
    body: z.object({ signal: z.string().optional() }),
    output: (v) =>
      obj(v).sent === false
        ? {
            status: 409,
            body: {
              error: {
                kind: 'Conflict',
                message: `process ${obj(v).id}: already exited, no signal sent`,
              },
            },
          }
        : { body: v },
    errors: [409],
  },
  {
    method: 'GET',
    path: '/pipelines',
    action: 'process.pipelines',
    summary: 'Recent pipeline runs',
    input: () => undefined,
  },
  {
    method: 'POST',
    path: '/pipelines',
    action: 'process.pipeline',
    summary: 'Run a pipeline of specs; the value is every spec’s result',
    input: (r) => r.body,
  },
  {
    method: 'GET',
    path: '/daemons',
    action: 'daemon.list',
    summary: 'Supervised daemons',
    input: () => undefined,
    output: (v, core) => ({ body: (Array.isArray(v) ? v : []).map(withCode(core)) }),
    response: z.array(daemonView),
  },
  {
    method: 'GET',
    path: '/daemons/:code/:daemon',
    action: 'daemon.get',
    summary: 'One daemon',
    input: daemonName,
    output: (v, core) => ({ body: withCode(core)(v) }),
    response: daemonView,
  },
  {
    method: 'POST',
    path: '/daemons/:code/:daemon/stop',
    action: 'daemon.stop',
    summary: 'Stop a daemon and its group',
    input: daemonName,
    body: z.object({}),
    output: (v, core) => ({ body: withCode(core)(v) }),
    response: daemonView,
  },
  {
    method: 'GET',
    path: '/daemons/:code/:daemon/health',
    action: 'daemon.health',
    summary: 'Probe a daemon now',
    input: daemonName,
  },
  {
    method: 'GET',
    path: '/system',
    action: 'process.system',
    summary: 'Online CPUs and what is placed on each',
    input: () => undefined,
  },
];
