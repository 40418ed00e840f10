import os from 'node:os';
import { defineConfig } from 'vitest/config';

// One behaviour suite over every backend (STYLE §15): the default run uses posix_spawn and
// pidfd exit watching; 'clone' forces the clone(CLONE_VFORK) child; 'sigchld' forces the
// no-pidfd fallback. Heavier lifecycle tests run once, on the default backend.
const behaviour = [
  'test/process/spawn.test.ts',
  'test/process/stdio.test.ts',
  'test/process/extra-fds.test.ts',
  'test/compat/events.test.ts',
  'test/compat/stdio.test.ts',
  'test/compat/exec.test.ts',
  'test/process/errors.test.ts',
  'test/sched/spawn.test.ts',
];

// Inside the qemu lanes (scripts/vm/run.js) everything runs several times slower (TCG).
const scale = Number(process.env.CORE_PROCESS_TEST_TIME_SCALE) || 1;

export default defineConfig({
  test: {
    // Generous: a test's own bounds say what it proves; these only stop a hung file. A set-up
    // hook that compiles lib/ (test/subprocess.ts) took over 30 s on a loaded machine.
    testTimeout: 60_000 * scale,
    hookTimeout: 120_000 * scale,
    teardownTimeout: 10_000 * scale,
    pool: 'forks',
    // Vitest's default on this 2-vCPU machine is one worker (CPUs - 1), which ran the files
    // one after another while most of them wait on child processes: 12 minutes. Two workers
    // also make every file prove it passes beside another (the suite must pass on a loaded
    // machine). CI and a developer can still set --maxWorkers.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    projects: [
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'clone', include: behaviour, env: { CORE_PROCESS_FORCE_CLONE: '1' } },
      },
      {
        extends: true,
        test: { name: 'sigchld', include: behaviour, env: { CORE_PROCESS_NO_PIDFD: '1' } },
      },
      {
        // glibc 2.28 (RHEL 8): no posix_spawn addclosefrom/addchdir, so every spawn takes the
        // clone child. The spawn, stdio and error suites prove that path there.
        extends: true,
        test: {
          name: 'no-spawn-extensions',
          include: [
            'test/process/spawn.test.ts',
            'test/process/spawn-extensions.test.ts',
            'test/process/stdio.test.ts',
            'test/process/errors.test.ts',
          ],
          env: { CORE_PROCESS_NO_SPAWN_EXTENSIONS: '1' },
        },
      },
      {
        // Kernels before 5.7 and seccomp profiles that refuse clone3: the child joins its
        // cgroup through cgroup.procs. The containment suite proves that path there.
        extends: true,
        test: {
          name: 'no-clone3',
          include: ['test/process/clone-into-cgroup.test.ts', 'test/process/containment.test.ts'],
          env: { CORE_PROCESS_NO_CLONE3: '1' },
        },
      },
    ],
  },
});
