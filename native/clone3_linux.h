// clone3(CLONE_INTO_CGROUP) for the clone child: the child is created inside its cgroup v2
// directory (Linux 5.7+), so not even its first instruction runs in ours, and it does not
// have to open and write cgroup.procs itself. Where clone3 cannot (see CloneIntoCgroup), the
// caller clones as before and the child joins through cgroup.procs.
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "child_linux.h"

namespace coreproc {

// Runs ChildMain(plan) in a child made by clone3 with `cloneFlags` (clone(2) flags with the
// exit signal in the low byte, as clone takes them) plus CLONE_INTO_CGROUP(plan->cgroupFd), on
// the given stack. On success plan->cgroupFd is -1 (nothing left for the child to join) and
// *pidfd is set when CLONE_PIDFD was asked for. Returns the pid, or -1 with errno (plan
// untouched); ENOSYS also for: an architecture without our trampoline, clone3 found missing
// or refused earlier (ENOSYS, EPERM from a seccomp profile, E2BIG/EINVAL from a kernel
// before 5.7), or CORE_PROCESS_NO_CLONE3 set at load.
pid_t CloneIntoCgroup(int cloneFlags, ChildPlan* plan, void* stack, size_t stackSize, int* pidfd);

// True while CloneIntoCgroup may still try clone3 (the backend report).
bool CloneIntoCgroupAvailable();

}  // namespace coreproc
