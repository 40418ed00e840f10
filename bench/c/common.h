/* Shared helpers for the C baselines of the @core/process benchmark suite (the bench/c sources):
 * monotonic clock, /dev/null stdio file actions and small JSON printing. Header-only. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void die(const char *what, int err) {
  fprintf(stderr, "%s: %s\n", what, strerror(err));
  exit(2);
}

/* stdin/stdout/stderr -> /dev/null in the child (the 'null' / 'ignore' stdio of the JS side).
 * /dev/null is opened once (CLOEXEC) in the parent and dup2'ed in the child, so the child does
 * no path lookup; dup2 clears CLOEXEC on the targets. */
static inline void null_stdio(posix_spawn_file_actions_t *fa, int keep_stdout) {
  static int devnull = -1;
  if (devnull < 0) devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) die("open /dev/null", errno);
  posix_spawn_file_actions_init(fa);
  posix_spawn_file_actions_adddup2(fa, devnull, 0);
  if (!keep_stdout) posix_spawn_file_actions_adddup2(fa, devnull, 1);
  posix_spawn_file_actions_adddup2(fa, devnull, 2);
}

static inline void print_ns_array(const char *key, const uint64_t *v, long n) {
  printf("\"%s\":[", key);
  for (long i = 0; i < n; i++) printf(i ? ",%llu" : "%llu", (unsigned long long)v[i]);
  printf("]");
}

#endif
