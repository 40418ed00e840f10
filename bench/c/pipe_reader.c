/* C baseline for scenario 4: posix_spawn the writer with its stdout on a pipe (or, with KIND
 * "socketpair", an AF_UNIX stream socketpair as libuv uses for child stdio) and read() it to EOF
 * with a BUFSIZE buffer, counting and discarding bytes; then waitpid. Timed from before the
 * spawn to after the reap, like the JS side. PIPESIZE > 0 enlarges the pipe with F_SETPIPE_SZ;
 * WRITER_CPU is passed on to the writer (which pins itself there when >= 0).
 * With OUTFILE, every chunk is also write()n to that file (created/truncated): `cat > file`.
 *   pipe_reader BUFSIZE WRITER BYTES [pipe|socketpair] [PIPESIZE] [WRITER_CPU] [OUTFILE]
 * Prints {"bytes":B,"reads":R,"elapsedNs":T,"faults":F} (R = read() calls that returned data,
 * F = this reader's own minor page faults from spawn to reap, getrusage RUSAGE_SELF). */
#define _GNU_SOURCE  // before any libc header: pipe2, pidfd constants

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr,
            "usage: pipe_reader BUFSIZE WRITER BYTES [pipe|socketpair] [PIPESIZE] [WRITER_CPU] "
            "[OUTFILE]\n");
    return 1;
  }
  size_t bufsize = (size_t)atol(argv[1]);
  char *buf = malloc(bufsize);
  if (!buf) die("malloc", ENOMEM);
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  uint64_t t0 = now_ns();
  int fds[2];
  if (argc > 4 && strcmp(argv[4], "socketpair") == 0) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)) die("socketpair", errno);
  } else if (pipe2(fds, O_CLOEXEC)) {
    die("pipe2", errno);
  } else if (argc > 5 && atol(argv[5]) > 0) {
    if (fcntl(fds[0], F_SETPIPE_SZ, (int)atol(argv[5])) < 0) die("F_SETPIPE_SZ", errno);
  }
  posix_spawn_file_actions_t fa;
  null_stdio(&fa, 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  pid_t pid;
  char *cargv[] = {argv[2], argv[3], (char *)"0", argc > 6 ? argv[6] : (char *)"-1", NULL};
  int err = posix_spawn(&pid, argv[2], &fa, NULL, cargv, environ);
  if (err) die("posix_spawn", err);
  close(fds[1]);
  int out = -1;
  if (argc > 7 && (out = open(argv[7], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
    die("open OUTFILE", errno);
  unsigned long long total = 0, reads = 0;
  for (;;) {
    ssize_t r = read(fds[0], buf, bufsize);
    if (r > 0) {
      total += (unsigned long long)r;
      reads++;
      for (ssize_t off = 0; out >= 0 && off < r;) {
        ssize_t w = write(out, buf + off, (size_t)(r - off));
        if (w < 0 && errno != EINTR) die("write OUTFILE", errno);
        if (w > 0) off += w;
      }
    } else if (r == 0) {
      break;
    } else if (errno != EINTR) {
      die("read", errno);
    }
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) die("waitpid", errno);
  if (out >= 0 && close(out) != 0) die("close OUTFILE", errno);
  uint64_t el = now_ns() - t0;
  getrusage(RUSAGE_SELF, &ru1);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("writer failed", EIO);
  printf("{\"bytes\":%llu,\"reads\":%llu,\"elapsedNs\":%llu,\"faults\":%ld}\n", total, reads,
         (unsigned long long)el, ru1.ru_minflt - ru0.ru_minflt);
  return 0;
}
