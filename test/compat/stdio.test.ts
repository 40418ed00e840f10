// stdio forms, shell quoting, cwd/env/argv0 and detached groups, against node:child_process
// and ours with the same expectations. Facts come from the child's /proc entries and ps.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  createReadStream,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { collect, IMPLS } from './impls.js';

/** What each of the child's fds 0..n points at, as the child itself sees it in /proc. */

describe.each(IMPLS)('%s: stdio forms', (_name, cp) => {
  it("'ignore' connects 0..2 to /dev/null (seen in /proc/<pid>/fd)", async () => {
    const child = cp.spawn('sleep', ['5'], { stdio: 'ignore' });
    const targets = [0, 1, 2].map((fd) => readlinkSync(`/proc/${child.pid}/fd/${fd}`));
    child.kill('SIGKILL');
    await once(child, 'close');
    expect(targets).toEqual(['/dev/null', '/dev/null', '/dev/null']);
    expect([child.stdin, child.stdout, child.stderr]).toEqual([null, null, null]);
  });

  it("'inherit' and a number share our descriptors", async () => {
    const dir = tempDir();
    const fd = openSync(`${dir}/out.txt`, 'w');
    try {
      const child = cp.spawn('sh', ['-c', 'echo to-file; readlink /proc/$$/fd/2 >&1'], {
        stdio: ['ignore', fd, 'inherit'],
      });
      await once(child, 'close');
    } finally {
      closeSync(fd);
    }
    const lines = readFileSync(`${dir}/out.txt`, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('to-file');
    expect(lines[1]).toBe(readlinkSync('/proc/self/fd/2'));
  });

  it('extra pipes become fd 3 and 4 of the child, duplex sockets on our side', async () => {
    const child = cp.spawn('sh', ['-c', 'echo three >&3; echo four >&4'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
    });
    expect(child.stdio.length).toBe(5);
    const [three, four] = await Promise.all([
      collect(child.stdio[3] as NodeJS.ReadableStream),
      collect(child.stdio[4] as NodeJS.ReadableStream),
    ]);
    await once(child, 'close');
    expect([three, four]).toEqual(['three\n', 'four\n']);
  });

  it("'ignore' beyond fd 2 leaves the child's fd closed; a pipe there is open", async () => {
    // readlink itself is the child: a closed fd 3 prints nothing (and exits 1).
    const child = cp.spawn('readlink', ['/proc/self/fd/3', '/proc/self/fd/4'], {
      stdio: ['ignore', 'pipe', 'ignore', 'ignore', 'pipe'],
    });
    const out = collect(child.stdout);
    (child.stdio[4] as NodeJS.ReadableStream | null)?.resume();
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect((await out).trim().split('\n')).toEqual([expect.stringMatching(/^socket:/)]);
  });

  it('a stream with an fd is accepted as that fd', async () => {
    const dir = tempDir();
    const fd = openSync(`${dir}/s.txt`, 'w');
    const stream = { fd } as unknown as NodeJS.WritableStream;
    const child = cp.spawn('echo', ['via-stream'], { stdio: ['ignore', stream, 'ignore'] });
    await once(child, 'close');
    closeSync(fd);
    expect(readFileSync(`${dir}/s.txt`, 'utf8')).toBe('via-stream\n');
  });

  it("another child's stdout as stdin: the second child reads the first's pipe itself", async () => {
    const a = cp.spawn('sh', ['-c', 'read go; echo hello; echo world'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const b = cp.spawn('tr', ['a-z', 'A-Z'], { stdio: [a.stdout, 'pipe', 'ignore'] });
    // The kernel's view: b's fd 0 is the socket we held as a.stdout, the same inode one of our
    // own descriptors still names (a copy through us would give b a fresh socketpair end,
    // which we would not hold).
    const bIn = readlinkSync(`/proc/${b.pid}/fd/0`);
    const ours = readdirSync('/proc/self/fd').map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    });
    let seenHere = 0;
    a.stdout?.on('data', () => seenHere++);
    const out = collect(b.stdout);
    a.stdin?.end('go\n');
    expect(await out).toBe('HELLO\nWORLD\n');
    await once(b, 'close');
    expect(bIn).toMatch(/^socket:\[\d+\]$/);
    expect(ours).toContain(bIn);
    expect(seenHere).toBe(0);
    expect(a.stdout?.readableFlowing).toBe(false);
  });

  it("a child's stdin as another child's stdout", async () => {
    const sink = cp.spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    const out = collect(sink.stdout);
    const src = cp.spawn('echo', ['via stdin'], { stdio: ['ignore', sink.stdin, 'ignore'] });
    await once(src, 'exit');
    sink.stdin?.end();
    expect(await out).toBe('via stdin\n');
  });

  it('an fs stream with an fd as stdin', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/in.txt`, 'from a file\n');
    const rs = createReadStream(`${dir}/in.txt`);
    await once(rs, 'open');
    const child = cp.spawn('cat', [], { stdio: [rs, 'pipe', 'ignore'] });
    expect(await collect(child.stdout)).toBe('from a file\n');
    rs.destroy();
  });

  it('a string or Buffer in an async stdio array is ERR_INVALID_SYNC_FORK_INPUT', () => {
    for (const v of ['x', Buffer.from('x')]) {
      expect(() => cp.spawn('true', [], { stdio: [v as never] })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_SYNC_FORK_INPUT', name: 'TypeError' }),
      );
    }
  });

  it('stdio pipes are sockets, as libuv makes them', async () => {
    const child = cp.spawn('sh', ['-c', 'readlink /proc/$$/fd/1']);
    const out = await collect(child.stdout);
    expect(out).toMatch(/^socket:\[\d+\]/);
  });
});

describe.each(IMPLS)('%s: shell, cwd, env, argv0', (_name, cp) => {
  it('shell: true joins file and args with spaces and quotes nothing', async () => {
    const child = cp.spawn('echo', ['"a  b"', '$((1+2))', "'c'"], { shell: true });
    expect(await collect(child.stdout)).toBe('a  b 3 c\n');
  });

  it('shell as a path runs that shell with -c', async () => {
    const child = cp.spawn('echo $0', { shell: '/bin/sh' });
    expect(await collect(child.stdout)).toBe('/bin/sh\n');
  });

  it('cwd as a string and as a file: URL', async () => {
    const dir = tempDir();
    const a = cp.spawn('pwd', [], { cwd: dir });
    expect((await collect(a.stdout)).trim()).toBe(dir);
    const b = cp.spawn('pwd', [], { cwd: pathToFileURL(dir) });
    expect((await collect(b.stdout)).trim()).toBe(dir);
  });

  it('env replaces the whole environment; undefined values are dropped, numbers stringified', async () => {
    const child = cp.spawn('/usr/bin/env', [], {
      env: { ONLY: 'one', NUM: 2 as unknown as string, GONE: undefined },
    });
    expect((await collect(child.stdout)).trim().split('\n').sort()).toEqual(['NUM=2', 'ONLY=one']);
  });

  it('without env the child sees process.env as it is now', async () => {
    process.env.CORE_COMPAT_PROBE = 'now';
    try {
      const child = cp.spawn('sh', ['-c', 'echo $CORE_COMPAT_PROBE']);
      expect(await collect(child.stdout)).toBe('now\n');
    } finally {
      delete process.env.CORE_COMPAT_PROBE;
    }
  });

  it('argv0 is what the child sees as argv[0]', async () => {
    const child = cp.spawn('sh', ['-c', 'echo $0'], { argv0: 'custom-zero' });
    expect(await collect(child.stdout)).toBe('custom-zero\n');
  });

  it('windowsHide and windowsVerbatimArguments are accepted and change nothing on POSIX', async () => {
    const child = cp.spawn('echo', ['x'], { windowsHide: true, windowsVerbatimArguments: true });
    expect(await collect(child.stdout)).toBe('x\n');
  });
});

describe.each(IMPLS)('%s: detached process groups', (_name, cp) => {
  it('detached: the child leads a new session and group (ps -o pgid,sid)', async () => {
    const child = cp.spawn('sleep', ['5'], { detached: true, stdio: 'ignore' });
    const [pgid, sid] = execFileSync('ps', ['-o', 'pgid=,sid=', '-p', String(child.pid)], {
      encoding: 'utf8',
    })
      .trim()
      .split(/\s+/)
      .map(Number);
    expect([pgid, sid]).toEqual([child.pid, child.pid]);
    child.kill('SIGKILL');
    await once(child, 'exit');
  });

  it('not detached: the child stays in our process group', async () => {
    const child = cp.spawn('sleep', ['5'], { stdio: 'ignore' });
    const pgid = Number(
      execFileSync('ps', ['-o', 'pgid=', '-p', String(child.pid)], { encoding: 'utf8' }).trim(),
    );
    const ours = Number(
      execFileSync('ps', ['-o', 'pgid=', '-p', String(process.pid)], { encoding: 'utf8' }).trim(),
    );
    expect(pgid).toBe(ours);
    child.kill('SIGKILL');
    await once(child, 'exit');
  });
});
