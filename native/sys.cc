// Syscall wrappers and exit-status decoding shared by every reaping path.
#include "sys.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fd.h"

#ifdef __linux__
#include <sys/stat.h>
#include <sys/syscall.h>  // SYS_pidfd_open, SYS_pidfd_send_signal, SYS_waitid
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#endif

namespace coreproc {

int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

#ifdef __linux__
int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int sig, unsigned int flags) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, flags));
}

static void DecodeSiginfo(const siginfo_t& si, ExitInfo* info) {
  switch (si.si_code) {
    case CLD_EXITED: info->code = si.si_status; break;
    case CLD_DUMPED:
      info->coreDumped = true;
      info->signal = si.si_status;
      break;
    default:  // CLD_KILLED (we never ask for stopped/continued)
      info->signal = si.si_status;
      break;
  }
}

int ReapPidfd(int pidfd, bool block, ExitInfo* info) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  int options = WEXITED | (block ? 0 : WNOHANG);
  // A pidfd that libuv marked O_NONBLOCK answers EAGAIN instead of blocking; callers that
  // block poll the pidfd first, so EAGAIN here only means "not yet".
  long r = RetryEintr([&] { return syscall(SYS_waitid, P_PIDFD, pidfd, &si, options, &ru); });
  if (r == -1) return errno == EAGAIN ? 0 : -1;
  if (si.si_pid == 0) return 0;  // WNOHANG and still running (readiness can be spurious)
  DecodeSiginfo(si, info);
  info->usage = ru;
  info->endNs = MonotonicNs();
  return 1;
}

bool KernelHasPidfd() {
  // pidfd_open (5.3) and waitid(P_PIDFD) (5.4) are probed together on ourselves: a
  // waitid on our own pidfd answers ECHILD when supported and EINVAL when P_PIDFD is not.
  static const bool has = [] {
    int fd = PidfdOpen(getpid());
    if (fd < 0) return false;
    UniqueFd owned(fd);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    long r = syscall(SYS_waitid, P_PIDFD, fd, &si, WEXITED | WNOHANG, nullptr);
    return !(r == -1 && errno == EINVAL);
  }();
  return has;
}
#endif

int ReapPid(pid_t pid, bool block, ExitInfo* info) {
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  pid_t r = RetryEintr([&] { return wait4(pid, &status, block ? 0 : WNOHANG, &ru); });
  if (r == -1) return -1;
  if (r == 0) return 0;
  if (WIFEXITED(status)) {
    info->code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    info->signal = WTERMSIG(status);
#ifdef WCOREDUMP
    info->coreDumped = WCOREDUMP(status);
#endif
  }
  info->usage = ru;
  info->endNs = MonotonicNs();
  return 1;
}

#ifdef __linux__
int SendUnixDatagram(const char* path, const char* data, size_t len) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  size_t plen = strlen(path);
  if (plen == 0 || plen >= sizeof addr.sun_path) {
    errno = EINVAL;
    return -1;
  }
  memcpy(addr.sun_path, path, plen);
  // Abstract namespace: the name starts with a NUL and is exactly plen bytes long.
  if (path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t alen = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + plen);
  UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.Valid()) return -1;
  ssize_t n = RetryEintr([&] {
    return sendto(fd.Get(), data, len, MSG_NOSIGNAL, reinterpret_cast<struct sockaddr*>(&addr),
                  alen);
  });
  if (n < 0) return -1;
  if (static_cast<size_t>(n) != len) {
    errno = EMSGSIZE;
    return -1;
  }
  return 0;
}
#endif

}  // namespace coreproc
