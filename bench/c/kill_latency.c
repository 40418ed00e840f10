/* C baseline for scenario 5: SIGKILL-to-exit-observed latency using pidfds. For each try:
 * posix_spawn PROG ARGS (stdio /dev/null), pidfd_open, wait until /proc/PID/stat says it is
 * sleeping, then time pidfd_send_signal(SIGKILL) -> poll(pidfd) readable -> waitid(P_PIDFD).
 *   kill_latency N PROG [ARGS...]
 * Prints {"tries":N,"latNs":[...]}. */
#define _GNU_SOURCE  // before any libc header: pipe2, pidfd constants

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int wait_sleeping(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  for (int i = 0; i < 20000; i++) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t n = read(fd, buf, sizeof buf - 1);
      close(fd);
      if (n > 0) {
        buf[n] = 0;
        char *rp = strrchr(buf, ')');
        if (rp && rp[1] == ' ' && rp[2] == 'S') return 0;
      }
    }
    usleep(100);
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: kill_latency N PROG [ARGS...]\n");
    return 1;
  }
  long n = atol(argv[1]);
  posix_spawn_file_actions_t fa;
  null_stdio(&fa, 0);
  uint64_t *lat = calloc((size_t)n, sizeof *lat);
  for (long i = 0; i < n; i++) {
    pid_t pid;
    int err = posix_spawn(&pid, argv[2], &fa, NULL, argv + 2, environ);
    if (err) die("posix_spawn", err);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0) die("pidfd_open", errno);
    if (wait_sleeping(pid)) die("child never slept", ETIMEDOUT);
    uint64_t a = now_ns();
    if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0)) die("pidfd_send_signal", errno);
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    while (poll(&p, 1, -1) < 0)
      if (errno != EINTR) die("poll", errno);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid(P_PIDFD, (id_t)pfd, &si, WEXITED) < 0)
      if (errno != EINTR) die("waitid", errno);
    lat[i] = now_ns() - a;
    close(pfd);
    if (si.si_code != CLD_KILLED || si.si_status != SIGKILL) die("unexpected exit", EIO);
  }
  printf("{\"tries\":%ld,", n);
  print_ns_array("latNs", lat, n);
  printf("}\n");
  return 0;
}
