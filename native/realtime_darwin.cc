// macOS has no clock_nanosleep and no SCHED_DEADLINE, and memory locking there is not built
// (nor tested) by this package: every realtime primitive but the clock answers ENOTSUP, which
// lib/ reports as ProcessError 'Unsupported'.
#ifdef __APPLE__

#include <errno.h>

#include "realtime.h"

namespace coreproc {

namespace {
bool Unsupported(SchedErr* e, const char* syscall) {
  e->err = ENOTSUP;
  e->syscall = syscall;
  return false;
}
}  // namespace

bool SleepUntilNs(int64_t, int64_t*, SchedErr* e) { return Unsupported(e, "clock_nanosleep"); }
bool LockAllMemory(bool, SchedErr* e) { return Unsupported(e, "mlockall"); }
bool UnlockAllMemory(SchedErr* e) { return Unsupported(e, "munlockall"); }
size_t PrefaultStack(size_t) { return 0; }
int DeadlinePolicy() { return -1; }
bool SetDeadline(pid_t, const DeadlineParams&, SchedErr* e) {
  return Unsupported(e, "sched_setattr");
}
bool GetSchedAttr(pid_t, int*, DeadlineParams*, SchedErr* e) {
  return Unsupported(e, "sched_getattr");
}

}  // namespace coreproc

#endif  // __APPLE__
