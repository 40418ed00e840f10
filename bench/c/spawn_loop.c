/* C baseline for scenarios 1-3: how fast can this machine posix_spawn + waitpid a program?
 *   spawn_loop seq N PROG [HOLD_MIB]   sequential spawn+wait, optionally while holding HOLD_MIB
 *                                      of touched heap (scenario 2)
 *   spawn_loop inflight N K PROG       keep K children outstanding until N have been reaped
 * Prints one JSON object: {"ops":N,"elapsedNs":T[,"latNs":[...]]}. */
#define _GNU_SOURCE  // before any libc header: pipe2, pidfd constants

#include <sys/wait.h>

#include "common.h"

static pid_t spawn_one(const char *prog, posix_spawn_file_actions_t *fa) {
  pid_t pid;
  char *argv[] = {(char *)prog, NULL};
  int err = posix_spawn(&pid, prog, fa, NULL, argv, environ);
  if (err) die("posix_spawn", err);
  return pid;
}

static void reap(pid_t pid) {
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, 0);
    if (r >= 0) break;
    if (errno != EINTR) die("waitpid", errno);
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "child failed: status %d\n", st);
    exit(3);
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: spawn_loop seq N PROG [HOLD_MIB] | inflight N K PROG\n");
    return 1;
  }
  posix_spawn_file_actions_t fa;
  null_stdio(&fa, 0);
  long n = atol(argv[2]);

  if (strcmp(argv[1], "seq") == 0) {
    const char *prog = argv[3];
    size_t hold = argc > 4 ? (size_t)atol(argv[4]) << 20 : 0;
    volatile char *mem = NULL;
    if (hold) {
      mem = malloc(hold);
      if (!mem) die("malloc", ENOMEM);
      for (size_t off = 0; off < hold; off += 4096) mem[off] = 1;
    }
    uint64_t *lat = calloc((size_t)n, sizeof *lat);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
      uint64_t a = now_ns();
      reap(spawn_one(prog, &fa));
      lat[i] = now_ns() - a;
    }
    uint64_t el = now_ns() - t0;
    printf("{\"ops\":%ld,\"elapsedNs\":%llu,", n, (unsigned long long)el);
    print_ns_array("latNs", lat, n);
    printf(",\"held\":%d}\n", mem ? mem[hold / 2] : 0);
    return 0;
  }

  if (strcmp(argv[1], "inflight") == 0 && argc > 4) {
    long k = atol(argv[3]);
    const char *prog = argv[4];
    long started = 0, done = 0;
    uint64_t t0 = now_ns();
    while (started < n && started < k) {
      spawn_one(prog, &fa);
      started++;
    }
    while (done < n) {
      int st;
      pid_t r = waitpid(-1, &st, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        die("waitpid", errno);
      }
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("child failed", EIO);
      done++;
      if (started < n) {
        spawn_one(prog, &fa);
        started++;
      }
    }
    uint64_t el = now_ns() - t0;
    printf("{\"ops\":%ld,\"elapsedNs\":%llu}\n", n, (unsigned long long)el);
    return 0;
  }
  fprintf(stderr, "bad mode\n");
  return 1;
}
