// The OpenAPI document, fetched like any client would: public, 3.1, valid by a real validator,
// one operation per route of the table that drives the server, with identifier operationIds,
// request schemas generated from the very zod schemas the actions validate with and response
// schemas from the ones they declare their value with. (Every answer of the API suite is held
// to it by contract.ts; a client generated from it runs in client.test.ts.)
import { validate } from '@readme/openapi-parser';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ROUTES } from '../../lib/api/routes.js';
import { processStartInputSchema } from '../../lib/core/process-sugar.js';
import { contractOf } from './contract.js';
import { BASE, useApi } from './helpers.js';

const start = useApi();

const openApiPath = (p: string) => `${BASE}${p.replace(/:(\w+)/g, '{$1}')}`;

describe('GET /api/process/openapi.json', () => {
  it('good: public (no token), OpenAPI 3.1, valid, an operation for every route with its method', async () => {
    const api = await start();
    const r = await api.call('GET', `${BASE}/openapi.json`, undefined, { token: null });
    expect(r.status).toBe(200);
    const doc = r.body;
    const verdict = await validate(structuredClone(doc));
    expect(verdict).toMatchObject({ valid: true });
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const expected = ROUTES.map((route) => `${route.method} ${openApiPath(route.path)}`).sort();
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    expect(documented).toEqual(expected);
    for (const route of ROUTES) {
      const op = doc.paths[openApiPath(route.path)][route.method.toLowerCase()];
      expect(op['x-core-action'], route.path).toBe(route.action);
      expect(Object.keys(op.responses), route.path).toContain(String(route.status ?? 200));
      const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
      expect((op.parameters ?? []).map((p: { name: string }) => p.name)).toEqual(params);
    }
  });

  it('good: operationIds are unique identifiers named for the action (processGet, daemonHealth)', async () => {
    const api = await start();
    const doc = (await api.call('GET', `${BASE}/openapi.json`)).body;
    const ops = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>)
      .flatMap((byMethod) => Object.values(byMethod))
      .map((op) => op.operationId);
    expect(ops).toHaveLength(ROUTES.length);
    expect(new Set(ops).size).toBe(ops.length);
    for (const id of ops) expect(id).toMatch(/^[a-z][A-Za-z0-9]*$/);
    expect(doc.paths[`${BASE}/processes/{id}`].get.operationId).toBe('processGet');
    expect(doc.paths[`${BASE}/processes/run`].post.operationId).toBe('processRun');
    expect(doc.paths[`${BASE}/pipelines`].post.operationId).toBe('processPipeline');
    expect(doc.paths[`${BASE}/daemons/{code}/{daemon}/health`].get.operationId).toBe(
      'daemonHealth',
    );
  });

  it('good: every success response has a real schema, and it rejects a body of the wrong shape', async () => {
    const api = await start();
    const doc = (await api.call('GET', `${BASE}/openapi.json`)).body;
    const deref = (s: { $ref?: string; type?: string }) =>
      s.$ref === undefined
        ? s
        : doc.components.schemas[s.$ref.replace('#/components/schemas/', '')];
    for (const route of ROUTES) {
      const op = doc.paths[openApiPath(route.path)][route.method.toLowerCase()];
      const schema = op.responses[String(route.status ?? 200)].content['application/json'].schema;
      expect(deref(schema)?.type, `${route.method} ${route.path}`).toMatch(
        /^(object|array|string)$/,
      );
    }
    // Recurring values are named components a generated client can refer to.
    const ok = (p: string) =>
      doc.paths[`${BASE}${p}`].get.responses['200'].content['application/json'].schema;
    expect(ok('/processes/{id}')).toEqual({ $ref: '#/components/schemas/ProcessSnapshot' });
    expect(ok('/processes').items).toEqual({ $ref: '#/components/schemas/ProcessSnapshot' });
    expect(ok('/processes/{id}/output')).toEqual({ $ref: '#/components/schemas/CapturedOutput' });
    const snapshot = doc.components.schemas.ProcessSnapshot;
    expect(snapshot.required).toEqual(
      expect.arrayContaining(['id', 'pid', 'pgid', 'status', 'exitCode', 'signal', 'rusage']),
    );
    expect(snapshot.properties.status.enum).toContain('running');
    // The contract the API tests use does refuse what the document does not allow.
    const contract = contractOf(doc);
    const path = `${BASE}/processes/proc-1`;
    expect(() => contract.checkResponse('GET', path, 200, { id: 'proc-1' })).toThrow(/pid/);
    expect(() => contract.checkResponse('GET', path, 418, {})).toThrow(/not documented/);
    expect(() => contract.checkResponse('GET', path, 200, 'text', 'text/plain')).toThrow(
      /documented as application\/json/,
    );
    expect(() => contract.checkResponse('GET', path, 404, { error: { kind: 'NotFound' } })).toThrow(
      /message/,
    );
  });

  it('bad: the POST /processes body requires `command`, exactly as the action refuses without it', async () => {
    const api = await start();
    const doc = (await api.call('GET', `${BASE}/openapi.json`)).body;
    const schema =
      doc.paths[`${BASE}/processes`].post.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(['command']);
    expect(schema.properties.command).toMatchObject({ type: 'string', minLength: 1 });
    // The same schema the action validates with, converted the same way.
    const { $schema: _drop, ...fromZod } = z.toJSONSchema(processStartInputSchema, { io: 'input' });
    expect(schema).toEqual(fromZod);
    // And the server does refuse a body without it, naming that field.
    const r = await api.call('POST', `${BASE}/processes`, { args: ['x'] });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe('command');
  });

  it('ugly: route-level bodies (wait, kill, input) are documented with their own fields', async () => {
    const api = await start();
    const doc = (await api.call('GET', `${BASE}/openapi.json`)).body;
    const body = (p: string) =>
      doc.paths[`${BASE}${p}`].post.requestBody.content['application/json'].schema;
    expect(body('/processes/{id}/wait').properties.timeout).toMatchObject({ type: 'number' });
    expect(body('/processes/{id}/kill').properties.signal).toMatchObject({ type: 'string' });
    expect(body('/processes/{id}/input').required).toEqual(['data']);
    expect(body('/processes/run').required).toEqual(['command']);
    expect(body('/pipelines').required).toEqual(['specs']);
    // Errors reference one schema, and that schema has the shape the server sends.
    const ref =
      doc.paths[`${BASE}/processes`].post.responses['400'].content['application/json'].schema;
    expect(ref).toEqual({ $ref: '#/components/schemas/Error' });
    expect(doc.components.schemas.Error.properties.error.required).toEqual(['kind', 'message']);
    // A GET has no request body.
    expect(doc.paths[`${BASE}/processes`].get.requestBody).toBeUndefined();
  });

  it('ugly: the events WebSocket is described (x-websocket): client and server messages, topics', async () => {
    const api = await start();
    const doc = (await api.call('GET', `${BASE}/openapi.json`)).body;
    const ws = doc['x-websocket'][`${BASE}/events`];
    expect(Object.keys(ws.topics)).toEqual(
      expect.arrayContaining(['process.started', 'process.output', 'process.exited']),
    );
    const contract = contractOf(doc);
    const event = { topic: 'process.output', time: 1, seq: 2 };
    expect(() =>
      contract.checkFrame({ ...event, payload: { id: 'p', stream: 'stdout', line: 'x' } }),
    ).not.toThrow();
    expect(() =>
      contract.checkFrame({ ...event, payload: { id: 'p', stream: 'stdin', line: 'x' } }),
    ).toThrow(/stream/);
    expect(() => contract.checkFrame({ subscribed: 5 })).toThrow(/not documented/);
    expect(ws.clientMessage.anyOf).toHaveLength(2);
  });
});

describe('GET /api/process/openapi.json with a replaced action', () => {
  it('ugly: an action replaced without an output schema leaves its operation undeclared, the document valid', async () => {
    const api = await start();
    api.core.action('process.system', () => ({ cpus: [] }), { replace: true });
    const doc = (await api.call('GET', `${BASE}/openapi.json`)).body;
    expect(await validate(structuredClone(doc))).toMatchObject({ valid: true });
    const schema =
      doc.paths[`${BASE}/system`].get.responses['200'].content['application/json'].schema;
    expect(schema).toEqual({ description: 'action process.system declares no schema' });
    expect((await api.call('GET', `${BASE}/system`)).body).toEqual({ cpus: [] });
  });
});
