// Realtime primitives: absolute sleeps on CLOCK_MONOTONIC, memory locking, stack prefaulting
// and SCHED_DEADLINE through sched_setattr. Linux implements them (realtime_linux.cc); macOS
// answers ENOTSUP (realtime_darwin.cc), which lib/ turns into ProcessError 'Unsupported'.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sched.h"

namespace coreproc {

// Sleeps until CLOCK_MONOTONIC reads deadlineNs (TIMER_ABSTIME, resumed after EINTR, so a
// signal never shortens it) and returns how late the wake-up was, in ns (>= 0; a deadline
// already past returns at once with its lateness). False with *e on failure (ENOTSUP: macOS).
bool SleepUntilNs(int64_t deadlineNs, int64_t* latenessNs, SchedErr* e);

// mlockall(MCL_CURRENT | MCL_FUTURE [| MCL_ONFAULT]) / munlockall() for the whole process.
bool LockAllMemory(bool onFault, SchedErr* e);
bool UnlockAllMemory(SchedErr* e);

// Points Node's madvise import at a wrapper that lets V8 discard locked pages (see
// madvise_guard_linux.cc); once per process, before the first mlockall. Returns the import
// slots patched: 0 means V8's discards cannot be guarded here (*err: errno of a failed
// mprotect, else 0) and memory must not be locked.
int GuardMadvise(int* err);
// Tells the guard whether mlockall is in force (its fallback before Linux 5.18 relocks).
void SetMlockAllInForce(bool on);
// Whether the kernel knows MADV_DONTNEED_LOCKED (5.18+); valid after GuardMadvise.
bool MadviseDontneedLocked();

// Touches `bytes` of the calling thread's stack below the current frame (bounded by what the
// thread has left, less a margin), so its first deep call does not page-fault: what
// cyclictest does for its measuring threads. Returns the bytes touched.
size_t PrefaultStack(size_t bytes);

// The kernel's struct sched_attr, SCHED_ATTR_SIZE_VER0 (48 bytes), for the raw syscalls:
// glibc gained wrappers and its own struct sched_attr only in 2.41, hence a name of ours.
// sched_getattr fills at most `size` bytes, so newer kernels (utilization clamps) never
// overrun it.
struct KernelSchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};
static_assert(sizeof(KernelSchedAttr) == 48, "SCHED_ATTR_SIZE_VER0");

// SCHED_DEADLINE parameters, in ns; flags are the kernel's SCHED_FLAG_* bits.
struct DeadlineParams {
  uint64_t runtimeNs = 0;
  uint64_t deadlineNs = 0;
  uint64_t periodNs = 0;
  uint64_t flags = 0;
};
constexpr uint64_t kSchedFlagResetOnFork = 0x01;
// sched_setattr(id, SCHED_DEADLINE). False with *e (errno, "sched_setattr") when refused.
bool SetDeadline(pid_t id, const DeadlineParams& p, SchedErr* e);
// sched_getattr(id): the policy number and, for SCHED_DEADLINE, its parameters.
bool GetSchedAttr(pid_t id, int* policy, DeadlineParams* p, SchedErr* e);
// The kernel's policy number for SCHED_DEADLINE (6), or -1 where there is none.
int DeadlinePolicy();

}  // namespace coreproc
