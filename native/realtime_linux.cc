// Linux realtime calls. sched_setattr/sched_getattr are raw syscalls (see KernelSchedAttr).
#ifdef __linux__

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "realtime.h"

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

namespace coreproc {

namespace {

bool Fail(SchedErr* e, int err, const char* syscall) {
  e->err = err;
  e->syscall = syscall;
  return false;
}

int64_t Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// Recursion rather than alloca: each frame touches one page of its own, so the compiler
// cannot drop the writes and no variable-length array is needed (-Werror=vla).
__attribute__((noinline)) size_t TouchPages(size_t pages) {
  volatile char page[4096];
  page[0] = 1;
  page[sizeof page - 1] = 1;
  return pages <= 1 ? sizeof page : sizeof page + TouchPages(pages - 1) + (page[0] - 1);
}

}  // namespace

bool SleepUntilNs(int64_t deadlineNs, int64_t* latenessNs, SchedErr* e) {
  if (deadlineNs < 0) return Fail(e, EINVAL, "clock_nanosleep");
  // A deadline already past (an overrun) returns without the syscall: clock_nanosleep still
  // arms a timer and switches out and back for it, ~25 µs on the standard VM, which would
  // turn one overrun into a run of them. The vDSO clock read costs tens of ns.
  int64_t now = Now();
  if (now >= deadlineNs) {
    *latenessNs = now - deadlineNs;
    return true;
  }
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(deadlineNs / 1000000000LL);
  ts.tv_nsec = static_cast<long>(deadlineNs % 1000000000LL);
  int r;
  // clock_nanosleep returns the error number (not -1/errno). With TIMER_ABSTIME an EINTR
  // resumes toward the same deadline: nothing to recompute.
  do {
    r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  } while (r == EINTR);
  if (r != 0) return Fail(e, r, "clock_nanosleep");
  int64_t late = Now() - deadlineNs;
  *latenessNs = late < 0 ? 0 : late;
  return true;
}

bool LockAllMemory(bool onFault, SchedErr* e) {
  int flags = MCL_CURRENT | MCL_FUTURE | (onFault ? MCL_ONFAULT : 0);
  // V8 aborts on the first discard of a locked page it cannot make: nothing is locked unless
  // the guard is in place (lib/ turns ENOTSUP from "madvise" into Unsupported).
  int guardErr = 0;
  if (GuardMadvise(&guardErr) <= 0) return Fail(e, guardErr != 0 ? guardErr : ENOTSUP, "madvise");
  if (mlockall(flags) != 0) return Fail(e, errno, "mlockall");
  SetMlockAllInForce(true);
  return true;
}

bool UnlockAllMemory(SchedErr* e) {
  if (munlockall() != 0) return Fail(e, errno, "munlockall");
  SetMlockAllInForce(false);
  return true;
}

size_t PrefaultStack(size_t bytes) {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
  void* base = nullptr;
  size_t size = 0;
  int err = pthread_attr_getstack(&attr, &base, &size);
  pthread_attr_destroy(&attr);
  if (err != 0) return 0;
  // Room left below this frame, less 64 KiB for the frames we are called from and signal
  // handlers: prefaulting must never be what overflows the stack.
  char here;
  uintptr_t low = reinterpret_cast<uintptr_t>(base);
  uintptr_t sp = reinterpret_cast<uintptr_t>(&here);
  size_t room = sp > low + (64u << 10) ? sp - low - (64u << 10) : 0;
  if (bytes > room) bytes = room;
  size_t pages = bytes / 4096;
  return pages == 0 ? 0 : TouchPages(pages);
}

int DeadlinePolicy() { return SCHED_DEADLINE; }

bool SetDeadline(pid_t id, const DeadlineParams& p, SchedErr* e) {
#ifdef SYS_sched_setattr
  KernelSchedAttr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.sched_policy = SCHED_DEADLINE;
  attr.sched_flags = p.flags;
  attr.sched_runtime = p.runtimeNs;
  attr.sched_deadline = p.deadlineNs;
  attr.sched_period = p.periodNs;
  if (syscall(SYS_sched_setattr, id, &attr, 0u) != 0) return Fail(e, errno, "sched_setattr");
  return true;
#else
  (void)id;
  (void)p;
  return Fail(e, ENOSYS, "sched_setattr");
#endif
}

bool GetSchedAttr(pid_t id, int* policy, DeadlineParams* p, SchedErr* e) {
#ifdef SYS_sched_getattr
  KernelSchedAttr attr;
  memset(&attr, 0, sizeof attr);
  if (syscall(SYS_sched_getattr, id, &attr, static_cast<unsigned>(sizeof attr), 0u) != 0) {
    return Fail(e, errno, "sched_getattr");
  }
  *policy = static_cast<int>(attr.sched_policy);
  p->runtimeNs = attr.sched_runtime;
  p->deadlineNs = attr.sched_deadline;
  p->periodNs = attr.sched_period;
  p->flags = attr.sched_flags;
  return true;
#else
  (void)id;
  (void)policy;
  (void)p;
  return Fail(e, ENOSYS, "sched_getattr");
#endif
}

}  // namespace coreproc

#endif  // __linux__
