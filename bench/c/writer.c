/* Data source for scenario 4 (pipe throughput): writes BYTES bytes to stdout in CHUNK-sized
 * write()s (default 1 MiB), as fast as the pipe takes them. The data is 4095 'x' + '\n' per
 * 4 KiB so that line-oriented consumers (nano-spawn only offers a line iterator) can take it.
 * With CPU >= 0 it first pins itself to that CPU, so reader/writer placement is deterministic.
 *   writer BYTES [CHUNK] [CPU] */
#define _GNU_SOURCE  // before any libc header: sched_setaffinity

#include <sched.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: writer BYTES [CHUNK] [CPU]\n");
    return 1;
  }
  long long left = atoll(argv[1]);
  size_t chunk = argc > 2 && atol(argv[2]) > 0 ? (size_t)atol(argv[2]) : (size_t)1 << 20;
  if (argc > 3 && atoi(argv[3]) >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(atoi(argv[3]), &set);
    if (sched_setaffinity(0, sizeof set, &set)) die("sched_setaffinity", errno);
  }
  char *buf = malloc(chunk);
  if (!buf) die("malloc", ENOMEM);
  for (size_t i = 0; i < chunk; i++) buf[i] = (i % 4096) == 4095 ? '\n' : 'x';
  while (left > 0) {
    size_t want = left < (long long)chunk ? (size_t)left : chunk;
    ssize_t w = write(1, buf, want);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write", errno);
    }
    left -= w;
  }
  return 0;
}
