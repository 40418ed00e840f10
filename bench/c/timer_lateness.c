/* C floor for scenario 7: how late does a 50 ms CLOCK_MONOTONIC timerfd, waited on with
 * epoll_wait (what a libuv loop does), wake this process up on this machine? For each try:
 * read the clock, arm a fresh timerfd for MS milliseconds, epoll_wait for it, and record
 * (elapsed - MS). Prints {"tries":N,"latNs":[...]} (signed nanoseconds).
 *   timer_lateness N MS */
#define _GNU_SOURCE  // before any libc header

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: timer_lateness N MS\n");
    return 1;
  }
  long n = atol(argv[1]);
  long long ms = atoll(argv[2]);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1", errno);
  long long *late = calloc((size_t)n, sizeof *late);
  for (long i = 0; i < n; i++) {
    uint64_t t0 = now_ns();
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) die("timerfd_create", errno);
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    spec.it_value.tv_sec = (time_t)(ms / 1000);
    spec.it_value.tv_nsec = (long)((ms % 1000) * 1000000);
    if (timerfd_settime(fd, 0, &spec, NULL)) die("timerfd_settime", errno);
    struct epoll_event ev = {.events = EPOLLIN};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) die("epoll_ctl", errno);
    while (epoll_wait(ep, &ev, 1, -1) < 0)
      if (errno != EINTR) die("epoll_wait", errno);
    late[i] = (long long)(now_ns() - t0) - ms * 1000000LL;
    close(fd);
  }
  printf("{\"tries\":%ld,\"latNs\":[", n);
  for (long i = 0; i < n; i++) printf(i ? ",%lld" : "%lld", late[i]);
  printf("]}\n");
  return 0;
}
