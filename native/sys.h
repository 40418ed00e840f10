// Thin, checked wrappers over the Linux syscalls glibc 2.36 does not wrap (or wraps without
// the argument we need), plus the shared exit-status record. Every function returns -1 and
// sets errno on failure, like the libc calls it stands beside.
#pragma once

#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

namespace coreproc {

// What the kernel told us when the child was reaped. Filled exactly once per child.
struct ExitInfo {
  int code = -1;   // exit code when exited normally, else -1
  int signal = 0;  // terminating signal, 0 when exited normally
  bool coreDumped = false;
  bool lost = false;  // someone else reaped it (ECHILD): status unknown
  int64_t endNs = 0;  // CLOCK_MONOTONIC at reap
  struct rusage usage {};
};

int64_t MonotonicNs();

#ifdef __linux__
int PidfdOpen(pid_t pid);
// Sends one datagram to the AF_UNIX SOCK_DGRAM socket at `path` (a leading '@' names the
// abstract namespace, as $NOTIFY_SOCKET does). 0 on success, -1 with errno set.
int SendUnixDatagram(const char* path, const char* data, size_t len);
int PidfdSendSignal(int pidfd, int sig, unsigned int flags);
// waitid(P_PIDFD, ...) with the rusage argument glibc's wrapper omits.
// Returns 1 when reaped (info filled), 0 when still running (WNOHANG), -1 on error.
int ReapPidfd(int pidfd, bool block, ExitInfo* info);
// Kernel feature probes, evaluated once per process.
bool KernelHasPidfd();
#endif

// wait4(pid) fallback: same return convention as ReapPidfd.
int ReapPid(pid_t pid, bool block, ExitInfo* info);

}  // namespace coreproc
