// The process routes over real HTTP on loopback: every answer is checked against the child
// itself (/proc/<pid>/cmdline, its exit code or signal, what it wrote), not only the JSON.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually, programOf, runningAsleep, tempDir } from '../helpers.js';
import { alive, BASE, cmdline, startProcess, useApi } from './helpers.js';

const start = useApi();

describe('POST /processes/run', () => {
  it('good: runs one command to completion and answers its combined output; the child is gone', async () => {
    const api = await start();
    const dir = tempDir();
    const r = await api.call('POST', `${BASE}/processes/run`, {
      command: 'sh',
      args: ['-c', 'echo $$ > pid; pwd; echo "$GREETING"'],
      cwd: dir,
      env: { GREETING: 'hi there' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ output: `${dir}\nhi there\n` });
    const pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
    expect(alive(pid)).toBe(false);
    // Run to completion: not kept in the managed list.
    expect((await api.call('GET', `${BASE}/processes`)).body).toEqual([]);
  });

  it('bad: a command that exits non-zero is 422 with its exit code and its output as written', async () => {
    const api = await start();
    const r = await api.call('POST', `${BASE}/processes/run`, {
      command: 'sh',
      args: ['-c', 'echo partial; echo broken >&2; echo after; exit 7'],
    });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({
      kind: 'NonZeroExit',
      exitCode: 7,
      signal: null,
      output: 'partial\nbroken\nafter\n',
    });
    const apart = await api.call('POST', `${BASE}/processes/run`, {
      command: 'sh',
      args: ['-c', 'echo partial; echo broken >&2; exit 7'],
      output: 'separate',
    });
    expect(apart.body.error).toMatchObject({ stdout: 'partial\n', stderr: 'broken\n' });
  });

  it('ugly: a pipeline body is refused naming `command` (pipelines are POST /pipelines), nothing runs', async () => {
    const api = await start();
    const marker = path.join(tempDir(), 'never');
    const r = await api.call('POST', `${BASE}/processes/run`, {
      specs: [{ name: 'a', command: 'touch', args: [marker] }],
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ kind: 'InvalidInput', field: 'command' });
    expect(existsSync(marker)).toBe(false);
    const killed = await api.call('POST', `${BASE}/processes/run`, {
      command: 'sh',
      args: ['-c', 'kill -KILL $$'],
    });
    expect(killed.status).toBe(422);
    expect(killed.body.error).toMatchObject({
      kind: 'TerminatedBySignal',
      exitCode: null,
      signal: 'SIGKILL',
    });
  });
});

describe('POST /processes', () => {
  it('good: 201 { id, pid }, and the child really runs in /proc with the command line asked for', async () => {
    const api = await start();
    const r = await api.call('POST', `${BASE}/processes`, { command: 'sleep', args: ['30'] });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ id: expect.stringMatching(/^proc-/), pid: expect.any(Number) });
    const got = await api.call('GET', `${BASE}/processes/${r.body.id}`);
    const pid = got.body.pid as number;
    expect(await eventually(() => runningAsleep(programOf(pid)))).toBe(true);
    const program = programOf(pid);
    expect(cmdline(program).slice(1)).toEqual(['30']);
    expect(path.basename(cmdline(program)[0] ?? '')).toBe('sleep');
    expect(readFileSync(`/proc/${program}/comm`, 'utf8').trim()).toBe('sleep');
  });

  it('bad: a spawn option the child cannot have is 400 naming the field, and nothing runs', async () => {
    const api = await start();
    const marker = path.join(tempDir(), 'never');
    const r = await api.call('POST', `${BASE}/processes`, {
      command: 'touch',
      args: [marker],
      nice: 'high',
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ field: 'nice', message: expect.stringMatching(/nice/) });
    expect(existsSync(marker)).toBe(false);
    expect((await api.call('GET', `${BASE}/processes`)).body).toEqual([]);
  });

  it('ugly: the spawn options pass through: cwd and env reach the child', async () => {
    const api = await start();
    const dir = tempDir();
    const { id } = await startProcess(api, {
      command: 'sh',
      args: ['-c', 'pwd; echo "$API_TEST_VAR"'],
      cwd: dir,
      env: { API_TEST_VAR: 'from-the-api' },
    });
    await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    const out = await api.call('GET', `${BASE}/processes/${id}/output`);
    expect(out.body.stdout).toBe(`${dir}\nfrom-the-api\n`);
  });
});

describe('GET /processes and GET /processes/:id', () => {
  it('good: the list and the snapshot agree with /proc (pid, pgid, command, running)', async () => {
    const api = await start();
    const a = await startProcess(api, { command: 'sleep', args: ['30'] });
    const b = await startProcess(api, { command: 'sleep', args: ['31'] });
    const list = await api.call('GET', `${BASE}/processes`);
    expect(list.status).toBe(200);
    expect(list.body.map((p: { id: string }) => p.id).sort()).toEqual([a.id, b.id].sort());
    const got = await api.call('GET', `${BASE}/processes/${a.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: a.id,
      command: 'sleep',
      args: ['30'],
      status: 'running',
      exitCode: null,
      pgid: a.pid, // started as its own group leader
    });
    expect(alive(a.pid)).toBe(true);
    const stat = readFileSync(`/proc/${a.pid}/stat`, 'utf8');
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])).toBe(a.pid);
  });

  it('bad: an unknown id is 404 naming it', async () => {
    const api = await start();
    const r = await api.call('GET', `${BASE}/processes/proc-424242`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({
      error: { kind: 'NotFound', message: expect.stringContaining('proc-424242') },
    });
  });

  it('ugly: an exited process stays listed with its exit code', async () => {
    const api = await start();
    const { id } = await startProcess(api, { command: 'sh', args: ['-c', 'exit 7'] });
    await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    const got = await api.call('GET', `${BASE}/processes/${id}`);
    expect(got.body).toMatchObject({ status: 'exited', exitCode: 7, signal: null });
  });
});

describe('GET /processes/:id/output', () => {
  it('good: stdout and stderr captured apart once the child is waited for', async () => {
    const api = await start();
    const { id } = await startProcess(api, {
      command: 'sh',
      args: ['-c', 'echo hi; echo err >&2'],
    });
    const waited = await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    expect(waited.body).toMatchObject({ status: 'exited', exitCode: 0 });
    const out = await api.call('GET', `${BASE}/processes/${id}/output`);
    expect(out.status).toBe(200);
    expect(out.body).toEqual({
      stdout: 'hi\n',
      stderr: 'err\n',
      dropped: { stdout: 0, stderr: 0 },
    });
  });

  it('bad: output of an unknown id is 404', async () => {
    const api = await start();
    expect((await api.call('GET', `${BASE}/processes/nope/output`)).status).toBe(404);
  });

  it('ugly: output beyond the ring buffer keeps the newest bytes and counts the dropped ones', async () => {
    const api = await start({ service: { bufferSize: 1024 } });
    const { id } = await startProcess(api, {
      command: 'sh',
      args: ['-c', 'seq 1 2000; echo last'],
    });
    await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    const out = await api.call('GET', `${BASE}/processes/${id}/output`);
    expect(out.body.stdout.length).toBeLessThanOrEqual(1024);
    expect(out.body.stdout.endsWith('2000\nlast\n')).toBe(true);
    expect(out.body.dropped.stdout).toBeGreaterThan(0);
  });
});

describe('POST /processes/:id/wait', () => {
  it('good: without a timeout it answers once the child has exited, with its exit code', async () => {
    const api = await start();
    const { id, pid } = await startProcess(api, {
      command: 'sh',
      args: ['-c', 'sleep 0.2; exit 3'],
    });
    const r = await api.call('POST', `${BASE}/processes/${id}/wait`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id, pid, status: 'exited', exitCode: 3 });
    expect(alive(pid)).toBe(false);
  });

  it('bad: `sleep 5` with timeout 100 is 408 TimedOut, and the child is still running', async () => {
    const api = await start();
    const { id, pid } = await startProcess(api, { command: 'sleep', args: ['5'] });
    const r = await api.call('POST', `${BASE}/processes/${id}/wait`, { timeout: 100 });
    expect(r.status).toBe(408);
    expect(r.body).toEqual({ error: { kind: 'TimedOut', message: expect.any(String) } });
    expect(alive(pid)).toBe(true);
    expect((await api.call('GET', `${BASE}/processes/${id}`)).body.status).toBe('running');
  });

  it('ugly: a timeout longer than the child needs returns its exit, not a 408', async () => {
    const api = await start();
    const { id } = await startProcess(api, { command: 'true' });
    const r = await api.call('POST', `${BASE}/processes/${id}/wait`, { timeout: 10_000 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'exited', exitCode: 0 });
  });
});

describe('POST /processes/:id/input and /close-stdin', () => {
  it('good: what is written to `cat` comes back as its output, and closing stdin ends it with 0', async () => {
    const api = await start();
    const { id, pid } = await startProcess(api, { command: 'cat' });
    const w1 = await api.call('POST', `${BASE}/processes/${id}/input`, { data: 'hello\n' });
    expect(w1).toMatchObject({ status: 200, body: { id } });
    await api.call('POST', `${BASE}/processes/${id}/input`, { data: 'world\n' });
    expect(alive(pid)).toBe(true); // cat waits for more until stdin closes
    const closed = await api.call('POST', `${BASE}/processes/${id}/close-stdin`);
    expect(closed.status).toBe(200);
    const waited = await api.call('POST', `${BASE}/processes/${id}/wait`, { timeout: 10_000 });
    expect(waited.body).toMatchObject({ status: 'exited', exitCode: 0 });
    const out = await api.call('GET', `${BASE}/processes/${id}/output`);
    expect(out.body.stdout).toBe('hello\nworld\n');
  });

  it('bad: data that is not a string is 400 naming `data`, and nothing is written', async () => {
    const api = await start();
    const { id } = await startProcess(api, { command: 'cat' });
    const r = await api.call('POST', `${BASE}/processes/${id}/input`, { data: 42 });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ kind: 'InvalidInput', field: 'data' });
    await api.call('POST', `${BASE}/processes/${id}/close-stdin`, {});
    await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    expect((await api.call('GET', `${BASE}/processes/${id}/output`)).body.stdout).toBe('');
  });

  it('ugly: input to an unknown id is 404', async () => {
    const api = await start();
    const r = await api.call('POST', `${BASE}/processes/proc-9999999/input`, { data: 'x' });
    expect(r.status).toBe(404);
    expect((await api.call('POST', `${BASE}/processes/proc-9999999/close-stdin`)).status).toBe(404);
  });
});

describe('POST /processes/:id/kill', () => {
  it('good: { sent: true } and the child dies of SIGTERM (the default)', async () => {
    const api = await start();
    const { id, pid } = await startProcess(api, { command: 'sleep', args: ['30'] });
    expect(await eventually(() => runningAsleep(programOf(pid)))).toBe(true);
    const r = await api.call('POST', `${BASE}/processes/${id}/kill`);
    expect(r).toMatchObject({ status: 200, body: { id, sent: true } });
    const waited = await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    expect(waited.body).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
    expect(await eventually(() => !alive(pid))).toBe(true);
  });

  it('bad: a second kill after the exit is 409 Conflict', async () => {
    const api = await start();
    const { id } = await startProcess(api, { command: 'sleep', args: ['30'] });
    expect((await api.call('POST', `${BASE}/processes/${id}/kill`, {})).status).toBe(200);
    await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    const again = await api.call('POST', `${BASE}/processes/${id}/kill`, {});
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      error: { kind: 'Conflict', message: expect.stringContaining(id) },
    });
  });

  it('ugly: the given signal is the one delivered: a shell trapping TERM still dies of SIGKILL', async () => {
    const api = await start();
    const dir = tempDir();
    const ready = path.join(dir, 'ready');
    const { id, pid } = await startProcess(api, {
      command: 'sh',
      args: ['-c', `trap '' TERM; touch ${ready}; while :; do sleep 0.05; done`],
    });
    expect(await eventually(() => existsSync(ready))).toBe(true);
    expect((await api.call('POST', `${BASE}/processes/${id}/kill`, {})).body.sent).toBe(true);
    const still = await api.call('POST', `${BASE}/processes/${id}/wait`, { timeout: 200 });
    expect(still.status).toBe(408); // TERM ignored: the shell runs on
    const r = await api.call('POST', `${BASE}/processes/${id}/kill`, { signal: 'SIGKILL' });
    expect(r.body).toMatchObject({ sent: true });
    const waited = await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    expect(waited.body).toMatchObject({ signal: 'SIGKILL' });
    expect(await eventually(() => !alive(pid))).toBe(true);
  });
});
