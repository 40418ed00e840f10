/**
 * The frames of the events WebSocket (`GET /api/process/events`), as zod schemas: what a
 * client may send, what the server sends back, and the payload of each process.* topic.
 * The OpenAPI document publishes them as its `x-websocket` extension (OpenAPI has no
 * WebSocket operations), and the API tests validate every frame they receive against it.
 */
import { z } from 'zod';
import { processSnapshotSchema } from '../service/schemas.js';
import { apiErrorBodySchema } from './errors.js';

/**
 * A message a client sends: subscribe to a topic glob (narrowing process.output to one
 * process id), or drop a subscription.
 *
 * @example
 * ws.send(JSON.stringify({ subscribe: 'process.*', id: 'proc-3' }));
 */
export const wsClientMessageSchema = z.union([
  z.object({
    subscribe: z.string().describe('topic glob: process.*, daemon.{started,exited}'),
    id: z.string().optional().describe('only process.output of this managed process'),
  }),
  z.object({ unsubscribe: z.string().describe('a glob subscribed before') }),
]);

/**
 * Every message the server sends: a bus event, a subscription acknowledged, or an error.
 *
 * @example
 * const frame = wsServerMessageSchema.parse(JSON.parse(String(data)));
 */
export const wsServerMessageSchema = z.union([
  z.object({
    topic: z.string(),
    payload: z.unknown().describe('per topic: see x-websocket.topics'),
    time: z.number().describe('milliseconds since the epoch'),
    seq: z.int().nonnegative().describe('the bus’s sequence number, increasing'),
  }),
  z.object({ subscribed: z.string(), id: z.string().optional() }),
  z.object({ unsubscribed: z.string() }),
  apiErrorBodySchema,
]);

/**
 * The payload of each process.* topic (other topics carry their own JSON objects).
 *
 * @example
 * wsTopicPayloads['process.output'].parse(frame.payload).line;
 */
export const wsTopicPayloads = {
  'process.started': processSnapshotSchema.extend({
    spawnMs: z.number().nonnegative().describe('how long the spawn call took, in ms'),
  }),
  'process.spawn-failed': z.object({
    id: z.string(),
    program: z.string(),
    args: z.array(z.string()),
    error: z.string().describe('the message, values quoted bounded'),
    code: z.union([z.string(), z.number()]).nullable().describe('errno name or exit code'),
    kind: z.string().describe('the ProcessError kind'),
  }),
  'process.exited': processSnapshotSchema.extend({
    output: z
      .string()
      .describe('captured output (seed 001 §17.6 ProcessExited.Output): stdout, then stderr'),
  }),
  'process.output': z.object({
    id: z.string(),
    stream: z.enum(['stdout', 'stderr']),
    line: z.string().describe('one line, without its newline'),
  }),
  'process.killed': z.object({
    id: z.string(),
    pid: z.int().positive().nullable(),
    signal: z.string(),
  }),
} as const;
