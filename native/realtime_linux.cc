// Linux realtime calls. sched_setattr/sched_getattr are raw syscalls (see KernelSchedAttr).
#ifdef __linux__

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "fd.h"
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

// The mlockall flags in force (0: not locked by us); see PauseFutureLock.
std::atomic<int> g_lockFlags{0};
// Isolates starting or ending right now (see HoldLock); memory stays unlocked while > 0.
std::mutex g_holdMutex;
int g_holds = 0;

// One line of /proc/self/maps: "start-end perms offset dev inode [path]".
struct Mapping {
  uintptr_t start = 0;
  uintptr_t end = 0;
  bool exec = false;
  bool anonymous = false;  // no file, no [name]
};

bool ParseMapping(const char* line, Mapping* m) {
  char* p;
  m->start = strtoull(line, &p, 16);
  if (*p != '-') return false;
  m->end = strtoull(p + 1, &p, 16);
  if (*p != ' ' || p[1] == '\0' || p[2] == '\0' || p[3] == '\0') return false;
  m->exec = p[3] == 'x';
  // Skip perms, offset, dev; the inode is 0 and nothing follows for anonymous memory.
  int fields = 0;
  while (*p != '\0' && fields < 4) {
    while (*p == ' ') p++;
    const char* tok = p;
    while (*p != ' ' && *p != '\0' && *p != '\n') p++;
    fields++;
    if (fields == 4) m->anonymous = (p - tok == 1 && tok[0] == '0');
  }
  while (*p == ' ') p++;
  if (*p != '\n' && *p != '\0') m->anonymous = false;  // a path or [stack], [heap]...
  return true;
}

}  // namespace

// V8 (Node 20) releases pages of an isolate's code range with madvise(MADV_DONTNEED) and
// CHECKs the result; the kernel refuses that advice on locked memory (EINVAL), so a locked
// code range aborts the process at the first GC that frees a code page, or at exit. Each
// isolate reserves its code range as one anonymous mapping whose first pages are
// executable (after a header and a guard page), followed by the PROT_NONE rest of the
// reservation (later committed with mprotect, which keeps the unlocked state): every run of
// adjacent anonymous mappings around an executable anonymous one is unlocked. Code pages can then
// be paged out; data, stacks and the JS heap stay locked. Returns how many runs were unlocked, -1
// on error.
int UnlockCodeRanges() {
  UniqueFd fd(RetryEintr([] { return open("/proc/self/maps", O_RDONLY | O_CLOEXEC); }));
  if (!fd.Valid()) return -1;
  int runs = 0;
  bool inRun = false;
  uintptr_t runStart = 0;
  uintptr_t runEnd = 0;
  char buf[8192];
  size_t have = 0;
  constexpr uintptr_t kHeaderMax = 1u << 20;
  Mapping before[2];  // the two mappings read last, nearest first
  auto flush = [&] {
    if (inRun && munlock(reinterpret_cast<void*>(runStart), runEnd - runStart) == 0) runs++;
    inRun = false;
  };
  for (;;) {
    ssize_t n = RetryEintr([&] { return read(fd.Get(), buf + have, sizeof buf - 1 - have); });
    if (n < 0) return -1;
    have += static_cast<size_t>(n);
    buf[have] = '\0';
    char* line = buf;
    char* nl;
    while ((nl = strchr(line, '\n')) != nullptr) {
      Mapping m;
      if (ParseMapping(line, &m)) {
        if (inRun && m.anonymous && m.start == runEnd) {
          runEnd = m.end;
        } else {
          flush();
          if (m.anonymous && m.exec) {
            inRun = true;
            runStart = m.start;
            runEnd = m.end;
            // The reservation begins with a small header page and a guard page before the
            // first executable page: take up to two small anonymous mappings right before.
            for (const Mapping& b : before) {
              if (!b.anonymous || b.end != runStart || b.end - b.start > kHeaderMax) break;
              runStart = b.start;
            }
          }
        }
        before[1] = before[0];
        before[0] = m;
      }
      line = nl + 1;
    }
    size_t rest = have - static_cast<size_t>(line - buf);
    memmove(buf, line, rest);
    have = rest;
    if (n == 0) break;
    if (have == sizeof buf - 1) have = 0;  // a line longer than the buffer: skip it
  }
  flush();
  return runs;
}

bool HoldLock(bool hold, SchedErr* e) {
  std::lock_guard<std::mutex> guard(g_holdMutex);
  int flags = g_lockFlags.load();
  if (hold) {
    if (g_holds++ == 0 && flags != 0 && munlockall() != 0) return Fail(e, errno, "munlockall");
    return true;
  }
  if (g_holds == 0) return true;
  if (--g_holds == 0 && flags != 0) {
    if (mlockall(flags) != 0) return Fail(e, errno, "mlockall");
    UnlockCodeRanges();
  }
  return true;
}

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
  SetMlockAllInForce(true);
  if (mlockall(flags) != 0) {
    SetMlockAllInForce(g_lockFlags.load() != 0);
    return Fail(e, errno, "mlockall");
  }
  g_lockFlags.store(flags);
  UnlockCodeRanges();
  return true;
}

bool UnlockAllMemory(SchedErr* e) {
  if (munlockall() != 0) return Fail(e, errno, "munlockall");
  g_lockFlags.store(0);
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
