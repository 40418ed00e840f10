// The audit trail through the API: what a client does over HTTP is recorded in the JSONL file
// with the API's actor ({ kind: 'user', id: 'api' }), and the pids in it are the real children.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../lib/events/envelope.js';
import { JsonlWriter } from '../../lib/events/jsonl.js';
import { validate } from '../../lib/events/validate.js';
import { eventually, programOf, runningAsleep, tempDir } from '../helpers.js';
import { type Api, alive, BASE, startProcess, useApi } from './helpers.js';

const start = useApi();
const API_ACTOR = { kind: 'user', id: 'api' };

async function audited(extra: Record<string, unknown> = {}): Promise<{ api: Api; file: string }> {
  const dir = tempDir();
  const file = path.join(dir, 'audit.jsonl');
  const api = await start({
    service: { audit: { subscribers: [new JsonlWriter(file, dir)] }, ...extra },
  });
  return { api, file };
}

async function records(api: Api, file: string): Promise<EventEnvelope[]> {
  await api.svc.audit?.flush();
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as EventEnvelope);
}

describe('audit through the API', () => {
  it('good: a start and a kill over HTTP are process.spawned and process.signalled by the API user', async () => {
    const { api, file } = await audited();
    const { id, pid } = await startProcess(api, { command: 'sleep', args: ['30'] });
    expect(await eventually(() => runningAsleep(programOf(pid)))).toBe(true);
    expect(
      (await api.call('POST', `${BASE}/processes/${id}/kill`, { signal: 'SIGTERM' })).status,
    ).toBe(200);
    await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    expect(alive(pid)).toBe(false);
    const all = await records(api, file);
    for (const e of all) expect(validate(e)).toBeNull();
    const spawned = all.find((e) => e.name === 'process.spawned');
    expect(spawned).toMatchObject({
      actor: API_ACTOR,
      payload: { id, pid, program: 'sleep', args: ['30'] },
    });
    const signalled = all.find((e) => e.name === 'process.signalled');
    expect(signalled).toMatchObject({
      actor: API_ACTOR,
      payload: { id, pid, signal: 'SIGTERM', sent: true, reason: 'process.kill' },
    });
    expect(all.find((e) => e.name === 'process.exited')?.payload).toMatchObject({
      pid,
      signal: 'SIGTERM',
    });
  });

  it('bad: a start the policy refuses is audited as process.denied by the API user, with no spawn', async () => {
    const { api, file } = await audited({ policy: { allow: ['true'] } });
    const r = await api.call('POST', `${BASE}/processes`, { command: 'echo', args: ['nope'] });
    expect(r.status).toBe(403);
    const all = await records(api, file);
    expect(all.map((e) => e.name)).toEqual(['process.denied']);
    expect(all[0]).toMatchObject({
      actor: API_ACTOR,
      payload: { action: 'process.start', request: { program: 'echo', args: ['nope'] } },
    });
  });

  it('ugly: a kill after the exit is still audited (sent: false) while the client gets 409', async () => {
    const { api, file } = await audited();
    const { id, pid } = await startProcess(api, { command: 'true' });
    await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    expect((await api.call('POST', `${BASE}/processes/${id}/kill`, {})).status).toBe(409);
    const signalled = (await records(api, file)).filter((e) => e.name === 'process.signalled');
    expect(signalled).toHaveLength(1);
    expect(signalled[0]).toMatchObject({ actor: API_ACTOR, payload: { id, pid, sent: false } });
  });
});
