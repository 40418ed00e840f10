// The OpenAPI document, fetched like any client would: public, 3.1, one operation per route of
// the table that drives the server, and request schemas generated from the very zod schemas
// the actions validate with (so what it says is required is what the server refuses without).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ROUTES } from '../../lib/api/routes.js';
import { processStartInputSchema } from '../../lib/core/process-sugar.js';
import { BASE, useApi } from './helpers.js';

const start = useApi();

const openApiPath = (p: string) => `${BASE}${p.replace(/:(\w+)/g, '{$1}')}`;

describe('GET /api/process/openapi.json', () => {
  it('good: public (no token), OpenAPI 3.1, an operation for every route with its method', async () => {
    const api = await start();
    const r = await api.call('GET', `${BASE}/openapi.json`, undefined, { token: null });
    expect(r.status).toBe(200);
    const doc = r.body;
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
    expect(body('/processes/run').required).toEqual(['specs']);
    // Errors reference one schema, and that schema has the shape the server sends.
    const ref =
      doc.paths[`${BASE}/processes`].post.responses['400'].content['application/json'].schema;
    expect(ref).toEqual({ $ref: '#/components/schemas/Error' });
    expect(doc.components.schemas.Error.properties.error.required).toEqual(['kind', 'message']);
    // A GET has no request body.
    expect(doc.paths[`${BASE}/processes`].get.requestBody).toBeUndefined();
  });
});
